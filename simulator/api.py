"""One call from a model and budget to a report: what the CLI, sweeps and benchmarks use."""

from __future__ import annotations

from simulator.config import HardwareConfig
from simulator.reports.summary import summarize
from simulator.schedule.run import run
from workloads.budget import Budget
from workloads.presets import ModelShape
from workloads.workload import Workload, from_shape


def simulate_workloads(compressed: Workload, dense: Workload, hw: HardwareConfig) -> dict:
    """Report of a compressed workload against its dense baseline on the same hardware."""
    return summarize(run(compressed, hw), run(dense, hw))


def simulate_shape(
    model: ModelShape,
    hw: HardwareConfig,
    budget: Budget,
    phase: str = "decode",
    batch: int = 1,
    seq: int = 1,
    seed: int = 0,
    layers: int | None = None,
    scope: str = "projections",
    context: int = 0,
    allocation: dict | None = None,
) -> dict:
    """Shape-only estimate: synthetic seeded masks at `budget` (or per-projection `allocation`);
    `scope` projections or the whole decoder layer (a decode step then attends `context`
    cached tokens)."""
    comp = from_shape(model, budget, phase, batch, seq, seed, layers, allocation).with_scope(scope, context)
    dense = from_shape(model, None, phase, batch, seq, seed, layers).with_scope(scope, context)
    return simulate_workloads(comp, dense, hw)
