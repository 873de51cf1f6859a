"""Cycle-accurate model of a denser/sparser-engine accelerator (numpy + numba only)."""

# The cycle model's version: sweep results are keyed by it, so bump it whenever a change
# alters any simulated number, or old rows would be reused as current.
__version__ = "0.5.0"
