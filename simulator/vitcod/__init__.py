"""ViTCoD's attention simulator (GATECH-EIC/ViTCoD `Hardware/Simulator`) restated: its
closed-form loops, for the compatible mode of `sslcsim attention`."""
