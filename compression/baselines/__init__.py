"""Baselines on the same calibration statistics: magnitude, Wanda, SparseGPT, (AS)SVD."""
