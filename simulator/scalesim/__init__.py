"""SCALE-Sim 3.0.0's compatible mode: its config and topology files, its memory accounting
(stalls, prefetch) and its COMPUTE_REPORT, kept together and apart from the physical model."""
