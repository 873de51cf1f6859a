"""Cycle-accurate model of a denser/sparser-engine accelerator (numpy + numba only)."""
