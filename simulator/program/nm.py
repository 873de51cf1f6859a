"""Which projections run on an N:M denser engine, and how their tiles are sized.

An S runs as one N:M GEMM on the denser engine (engines/nm.py) when the config's
`denser_engine.nm_sparsity` is set and S is n:m structured along its reduction, checked
exactly group by group on a real mask (a mask that is not runs as before: its dense columns
on the denser engine, the rest on the sparser engine). A shape-only workload whose `--pattern`
is N':M' is refused on an N:M engine that cannot run that pattern: the user asked for a
structured pattern on a structured engine, and running it elsewhere would hide the mismatch.
"""

from __future__ import annotations

from simulator.config import HardwareConfig
from workloads.errors import InputError
from workloads.workload import Projection


def runs_nm(q: Projection, hw: HardwareConfig) -> bool:
    """Whether projection q's S runs as an N:M GEMM on hw's denser engine; InputError for a
    shape-only N':M' pattern that the engine's n:m cannot run."""
    nm = hw.denser_engine.nm_sparsity
    if nm is None or q.mask is None or q.mask.nnz == 0:
        return False
    if q.mask.nm_fits(nm.n, nm.m):
        return True
    declared = getattr(q.mask, "nm", None)  # a synthetic mask's --pattern
    if declared is not None:
        raise InputError(
            f"L{q.layer}.{q.name}: --pattern {declared[0]}:{declared[1]} cannot run on hwconfig '{hw.name}' "
            f"denser_engine.nm_sparsity {nm.n}:{nm.m} (a group of {nm.m} would keep more than {nm.n}); use "
            f"--pattern {nm.n}:{nm.m}, or a config without nm_sparsity to run it on the sparser engine")
    return False


def nm_tile_config(hw: HardwareConfig) -> HardwareConfig:
    """hw as the tile shapes (program/shapes.py) see an N:M GEMM over slots: a slot is a weight
    and its index bits, and stands for m / n input positions (the group's m among its n slots)."""
    nm, p = hw.denser_engine.nm_sparsity, hw.precision
    return hw.model_copy(update={"precision": p.model_copy(update={
        "weight_bits": p.weight_bits + nm.index_bits, "activation_bits": p.activation_bits * nm.m / nm.n})})
