"""Per-tile compute-cycle formulas of the two engines (pure functions, numba-compiled)."""
