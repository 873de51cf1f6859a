"""What a search may optimise: columns of a sweep row (simulator.sweep.worker), each with its
direction and unit, plus perplexity where the search's points are a frontier's artifacts."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

from workloads.errors import InputError


@dataclass(frozen=True)
class Objective:
    name: str
    maximise: bool
    unit: str
    needs_technology: bool = False  # an energy or area column: NULL without a technology section


_TABLE = [
    Objective("speedup", True, "x (dense cycles / SSLC cycles, same hardware)"),
    Objective("total_cycles", False, "cycles"),
    Objective("seconds", False, "s per step"),
    Objective("dram_bytes", False, "bytes"),
    Objective("area_proxy", False, "MAC units + buffer KiB"),
    Objective("macs", False, "MAC units"),
    Objective("buffer_kib", False, "KiB"),
    Objective("energy_uj", False, "uJ per step", True),
    Objective("pj_per_token", False, "pJ per token", True),
    Objective("area_mm2", False, "mm^2", True),
    Objective("edp", False, "pJ*s per token", True),
    Objective("energy_gain", True, "x (dense energy / SSLC energy)", True),
    Objective("tokens_per_joule", True, "tokens per J", True),
    Objective("effective_tops_per_w", True, "TOPS/W", True),
    Objective("tokens_per_s_per_mm2", True, "tokens per s per mm^2", True),
    Objective("perplexity", False, "perplexity of the frontier's artifact"),
]
OBJECTIVES: dict[str, Objective] = {o.name: o for o in _TABLE}


def objective(source: str, name: str) -> Objective:
    """The named objective, or InputError listing the ones there are."""
    if name not in OBJECTIVES:
        raise InputError(f"{source}: search.objectives: unknown objective '{name}' "
                         f"(expected one of {', '.join(OBJECTIVES)})")
    return OBJECTIVES[name]


def values(row: dict[str, Any], objectives: Sequence[Objective]) -> list[float]:
    """The objective values of one simulated row, in the spec's order and natural units."""
    return [float(row[o.name]) for o in objectives]


def minimised(vals: Sequence[float], objectives: Sequence[Objective]) -> list[float]:
    """The same values with every maximised objective negated, so that lower is better in all
    of them (what the hypervolume and the Pareto test take)."""
    return [-v if o.maximise else v for v, o in zip(vals, objectives)]
