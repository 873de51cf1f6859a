"""Cycle-accurate model of a denser/sparser-engine accelerator (numpy + numba only)."""

from simulator.jit_cache import use_source_keyed_cache

# The cycle model's version: sweep results are keyed by it, so bump it whenever a change
# alters any simulated number, or old rows would be reused as current.
__version__ = "0.5.0"

use_source_keyed_cache()  # before any kernel is compiled: a stale compiled rule never runs (jit_cache.py)
