"""Hardware-aware global allocation: stage 2 weighed by each candidate's cost on a hardware
config (cycles or energy), measured by the CLI with the simulator and handed over as plain
numbers (`CostTable`); this module never imports `simulator`.

Cost of a share (kept, rank) of an m x n projection: the table's cost of that candidate when
it is one of stage 1's candidates (`allocation.candidates`); off the grid (what a top-up
adds), the cost of the nearest candidate of the same rank with fewer kept entries plus
`slope_r x` the extra entries, slope_r the least-squares cost per kept entry over that
rank's candidates (floored at a small positive value: a top-up never gets entries free).
The model's cost is the sum over projections (projections run one after another; the
CLI checks that against whole-model runs in benchmarks/results/hw_allocation.md).

Stage 2 (one Lagrangian for both problems): every projection takes its candidate minimising
loss_j + lambda cost_j. Minimising the loss subject to a total cost C*: the smallest lambda
whose total cost is <= C* (bisection), then the cost left is spent on sparse entries
(`spend`), so the total meets C* to within one entry's cost of one projection. Minimising
the cost subject to a loss L*: the largest lambda whose summed loss estimate is <= L*. The
kept total is free: a cheap entry may replace an expensive one. C* defaults to the cost of
the loss-only global allocation at the same --ratio (so the two are compared at equal cost),
or is a given fraction of the dense model's cost; L* is a given multiple of the loss-only
allocation's loss estimate.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from compression import allocation
from compression.allocation import Curves, Share
from workloads.errors import InputError

MIN_SLOPE = 1e-9  # relative to a candidate's cost per kept entry: a floor, never zero


@dataclass(frozen=True)
class CostTable:
    """Per projection shape (m, n): the cost of every candidate (kept, rank) and of the dense
    matrix, in `unit` (cycles, pJ, or a sum of costs relative to dense)."""

    candidates: dict[tuple[int, int], dict[tuple[int, int], float]]
    dense: dict[tuple[int, int], float]
    unit: str


@dataclass(frozen=True)
class MaskCosts:
    """Costs of candidates measured on their own S masks (stage 1's salience masks) while stage
    1 runs: `cost(m, n, rank, mask)` and `dense(m, n)`, plain numbers from the CLI's simulator."""

    cost: Callable[[int, int, int, np.ndarray], float]
    dense: Callable[[int, int], float]
    unit: str


@dataclass(frozen=True)
class CostModel:
    """One projection's cost of any share (module docstring)."""

    m: int
    n: int
    points: dict[Share, float]
    slopes: dict[int, float]

    def cost(self, s: Share) -> float:
        """Cost of share s: its candidate's, or the nearest lower candidate's plus the rank's slope."""
        if s in self.points:
            return self.points[s]
        same = [p for p in self.points if p.rank == s.rank]
        if not same:
            raise InputError(f"cost table: no candidate of rank {s.rank} for a {self.m} x {self.n} projection")
        below = [p for p in same if p.kept <= s.kept]
        ref = max(below, key=lambda p: p.kept) if below else min(same, key=lambda p: p.kept)
        return self.points[ref] + self.slopes[s.rank] * (s.kept - ref.kept)


def _slope(pts: list[tuple[int, float]]) -> float:
    """Least-squares cost per kept entry over (kept, cost) points, floored above zero."""
    floor = MIN_SLOPE * max(c / max(k, 1) for k, c in pts)
    if len(pts) < 2:
        return max(pts[0][1] / max(pts[0][0], 1), floor)
    mk = sum(k for k, _ in pts) / len(pts)
    mc = sum(c for _, c in pts) / len(pts)
    var = sum((k - mk) ** 2 for k, _ in pts)
    cov = sum((k - mk) * (c - mc) for k, c in pts)
    return max(cov / var if var > 0 else 0.0, floor)


def model_of(m: int, n: int, points: dict[Share, float]) -> CostModel:
    """The cost model of an m x n projection from its candidates' costs."""
    slopes = {r: _slope([(p.kept, v) for p, v in points.items() if p.rank == r]) for r in {p.rank for p in points}}
    return CostModel(m, n, dict(points), slopes)


def cost_model(table: CostTable, m: int, n: int, cands: list[Share]) -> CostModel:
    """The cost model of an m x n projection over its candidates; InputError if the table lacks one."""
    got = table.candidates.get((m, n))
    if got is None or (m, n) not in table.dense:
        raise InputError(f"cost table: no costs for a {m} x {n} projection")
    points = {}
    for c in cands:
        if (c.kept, c.rank) not in got:
            raise InputError(f"cost table: no cost for candidate kept={c.kept} rank={c.rank} of a {m} x {n} projection")
        points[c] = float(got[(c.kept, c.rank)])
    return model_of(m, n, points)


def _pick(curves: list[list[tuple[Share, float]]], models: list[CostModel], lam: float) -> list[tuple[Share, float]]:
    return [min(c, key=lambda sc: (sc[1] + lam * cm.points[sc[0]], cm.points[sc[0]]))
            for c, cm in zip(curves, models)]


def _bisect(feasible, grow_from_zero: bool) -> float:
    """The lambda at the feasibility boundary: the smallest feasible lambda (feasible for all
    larger ones) or, with grow_from_zero False, the largest feasible one (for all smaller)."""
    lo, hi = 0.0, 1.0
    for _ in range(400):  # find a bracket
        if feasible(hi) == grow_from_zero:
            break
        lo, hi = hi, hi * 2.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if feasible(mid) == grow_from_zero:
            hi = mid
        else:
            lo = mid
    return hi if grow_from_zero else lo


def allocate(curves: list[list[tuple[Share, float]]], models: list[CostModel], cost_target: float | None = None,
             loss_target: float | None = None) -> tuple[list[Share], float]:
    """One candidate per projection: the least loss with total cost <= cost_target, or the
    least cost with summed loss <= loss_target (exactly one of them); returns (shares, lambda)."""
    if (cost_target is None) == (loss_target is None):
        raise InputError("hardware-aware allocation: give a cost target or a loss target (one of them)")

    def total(lam: float, what: int) -> float:
        picks = _pick(curves, models, lam)
        return sum(cm.points[s] if what else e for (s, e), cm in zip(picks, models))

    if cost_target is not None:
        cheapest = sum(min(cm.points.values()) for cm in models)
        if cheapest > cost_target:
            raise InputError(f"hardware-aware allocation: even the cheapest candidates cost {cheapest:.6g}, "
                             f"more than the target {cost_target:.6g}")
        lam = _bisect(lambda x: total(x, 1) <= cost_target, True)
    else:
        best = sum(min(e for _, e in c) for c in curves)
        if best > loss_target:
            raise InputError(f"hardware-aware allocation: the least loss estimate is {best:.6g}, "
                             f"more than the target {loss_target:.6g}")
        lam = _bisect(lambda x: total(x, 0) <= loss_target, False)
    return [s for s, _ in _pick(curves, models, lam)], lam


def _extra(cm: CostModel, s: Share, budget: float, cap: int) -> int:
    """The most entries (<= cap, and short of the rank's next candidate, so the cost stays on
    one linear piece) whose added cost on top of share s stays within budget."""
    above = [p.kept for p in cm.points if p.rank == s.rank and p.kept > s.kept]
    if above:
        cap = min(cap, min(above) - s.kept - 1)
    if budget <= 0 or cap <= 0:
        return 0
    return int(min(cap, budget // cm.slopes[s.rank]))


def spend(shares: list[Share], sizes: list[tuple[int, int]], models: list[CostModel], target: float) -> list[Share]:
    """Spends what the shares leave of the cost target on sparse entries: first in proportion to
    the sparse parts' sizes, then what rounding left, cheapest entries first; the total cost
    ends within one entry's cost of one projection below the target."""
    out = list(shares)
    left = target - sum(cm.cost(s) for s, cm in zip(out, models))
    weights = [s.kept - s.rank * (m + n) for s, (m, n) in zip(out, sizes)]
    wsum = float(sum(weights)) or 1.0
    for i, (m, n) in enumerate(sizes):
        e = _extra(models[i], out[i], left * weights[i] / wsum, m * n - out[i].kept)
        out[i] = Share(out[i].kept + e, out[i].rank)
    left = target - sum(cm.cost(s) for s, cm in zip(out, models))
    for i in sorted(range(len(out)), key=lambda i: (models[i].slopes[out[i].rank], i)):
        m, n = sizes[i]
        before = models[i].cost(out[i])
        e = _extra(models[i], out[i], left, m * n - out[i].kept)
        out[i] = Share(out[i].kept + e, out[i].rank)
        left -= models[i].cost(out[i]) - before
    return out


def plan(c: Curves, hp: dict, source: CostTable | MaskCosts, split: bool = True) -> tuple[list[Share], dict]:
    """Hardware-aware stage 2 over stage 1's curves (global allocation, unstructured): the
    shares and the manifest's record of their cost (hp["cost"]: the target's rule and what
    the CLI measured on). With MaskCosts, stage 1 priced the candidates (c.costs)."""
    spec, ratio = hp["cost"], float(hp["ratio"])
    if isinstance(source, MaskCosts):
        models = [model_of(m, n, pts) for (m, n), pts in zip(c.sizes, c.costs)]
        dense = sum(source.dense(m, n) for m, n in c.sizes)
    else:
        models = [cost_model(source, m, n, allocation.candidates(m, n, ratio, None, split)) for m, n in c.sizes]
        dense = sum(source.dense[s] for s in c.sizes)
    budget = int(round(ratio * sum(m * n for m, n in c.sizes)))
    grid_ref = allocation.allocate_global(c.curves, budget)
    ref = allocation.top_up(grid_ref, c.sizes, budget, None)
    ref_cost = sum(cm.cost(s) for s, cm in zip(ref, models))
    ref_loss = sum(dict(curve)[s] for curve, s in zip(c.curves, grid_ref))
    if spec.get("loss_target") is not None:
        target = None
        grid, lam = allocate(c.curves, models, loss_target=float(spec["loss_target"]) * ref_loss)
        shares = grid
    else:
        target = ref_cost if spec.get("target") is None else float(spec["target"]) * dense
        grid, lam = allocate(c.curves, models, cost_target=target)
        shares = spend(grid, c.sizes, models, target)
    cost = sum(cm.cost(s) for s, cm in zip(shares, models))
    record = {**spec, "unit": source.unit, "lambda": lam, "target_cost": target, "cost": cost, "dense_cost": dense,
              "loss_only_cost": ref_cost, "kept_fraction": sum(s.kept for s in shares) / sum(m * n for m, n in c.sizes),
              "loss_estimate": sum(dict(curve)[s] for curve, s in zip(c.curves, grid)),
              "loss_only_loss_estimate": ref_loss}
    return shares, record
