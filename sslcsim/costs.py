"""The CLI side of hardware-aware allocation: what every allocation candidate (kept, rank) of
every projection costs on a hardware config, measured with the simulator and handed to
`compression` as plain numbers.

A candidate's cost is that of a one-projection, one-layer workload: S with a mask at the
candidate's sparse count and rank-`rank` U V, against the dense matrix on the same hardware.
Metric `cycles`: its total cycles; `energy`: its energy in pJ (the config needs a technology).
Phase `both`: each phase's cost divided by the whole dense model's cost in that phase, summed
(equal weight per phase; the unit is then "relative to dense"). A model's cost is the sum over
its projections (on SmolLM2-135M and vitcod.yaml within about 1% of one simulated layer of all
seven projections, decode and a 512-token prefill).

Which mask (`--cost-masks`):
- `candidates` (default): each candidate's own S mask from stage 1 (the kept entries of the
  salience order of its residual), priced while stage 1 runs (`mask_costs`, a MaskCosts). On
  SmolLM2-135M's sslc-obs artifacts these predict a projection's simulated cycles with its real
  (OBS) mask to 0.98-1.00 on average, where the synthetic mask is off by up to 30% (decode);
  benchmarks/results/hw_allocation.md.
- `synthetic`: a seeded synthetic mask (the wanda-like generator, seed 0) per shape and
  candidate (`build_table`, a CostTable): needs no weights, but a hardware-aware allocation on
  it steers into the synthetic masks' cheap spots, which real masks do not share.

Simulations are cached in memory and, with a cache file, on disk, keyed by (hardware sha256,
phase, batch, seq, then seed, m, n, kept, rank for a synthetic mask, or the sha256 of the mask,
m, n, rank). Importing this module imports no torch.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from simulator.api import simulate_workloads
from simulator.config import HardwareConfig
from simulator.reports.files import atomic_write, check_output_path
from simulator.reports.provenance import canonical_sha256
from workloads.errors import InputError
from workloads.masks import CsrMask, SyntheticMask
from workloads.presets import ModelShape
from workloads.workload import Projection, Workload

METRICS = ("cycles", "energy")
MASKS = ("candidates", "synthetic")
PHASES = ("decode", "prefill", "both")
_MEMORY: dict[str, dict] = {}


def _workload(m: int, n: int, rank: int, mask, phase: str, batch: int, seq: int) -> Workload:
    """One m x n projection in one layer: S (`mask`: SyntheticMask or CsrMask) + rank-`rank`
    U V, or the dense matrix (mask None)."""
    shape = ModelShape(f"projection-{m}x{n}", n, m, 1, 1, 1, n)
    proj = Projection(0, "q_proj", "MHA", m, n, 0 if mask is None else rank, mask)
    return Workload(shape, phase, batch, seq if phase == "prefill" else 1, f"{m}x{n} kept-candidate",
                    lambda layer: [proj])


def _simulate(hw: HardwareConfig, phase: str, batch: int, seq: int, m: int, n: int, rank: int, mask) -> dict:
    """{"cycles", "energy_pj", "dense_cycles", "dense_energy_pj"} of one candidate (energy None
    without a technology)."""
    dense = _workload(m, n, 0, None, phase, batch, seq)
    rep = simulate_workloads(_workload(m, n, rank, mask, phase, batch, seq), dense, hw)
    e = rep.get("energy")
    return {"cycles": rep["totals"]["total_cycles"], "dense_cycles": rep["totals"]["dense_cycles"],
            "energy_pj": e["compressed"]["energy_pj"]["total"] if e else None,
            "dense_energy_pj": e["dense"]["energy_pj"]["total"] if e else None}


def _synthetic(m: int, n: int, kept: int, rank: int, seed: int) -> SyntheticMask:
    nnz = kept - rank * (m + n)
    if not 0 <= nnz <= m * n:
        raise InputError(f"cost table: candidate kept={kept} rank={rank} does not fit a {m} x {n} projection")
    return SyntheticMask(m, n, nnz, "wanda-like", seed=seed)


class CostCache:
    """Simulated candidates by key, in memory and (with `path`) in a JSON file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.data = _MEMORY
        self.stored: set[str] = set()  # keys the cache file holds
        self.used: set[str] = set()
        if self.path is not None and self.path.exists():
            try:
                stored = json.loads(self.path.read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, ValueError) as exc:
                raise InputError(f"{self.path}: not a readable cost cache ({type(exc).__name__})") from None
            if not isinstance(stored, dict) or not all(isinstance(v, dict) for v in stored.values()):
                raise InputError(f"{self.path}: not a cost cache (expected a JSON object of objects)")
            self.data.update(stored)
            self.stored = set(stored)
        elif self.path is not None:
            check_output_path(self.path)

    def get(self, hw: HardwareConfig, sha: str, phase: str, batch: int, seq: int, seed: int, m: int, n: int,
            kept: int, rank: int) -> dict:
        """A synthetic-mask candidate's simulation."""
        key = f"{sha}|{phase}|{batch}|{seq if phase == 'prefill' else 1}|{seed}|{m}|{n}|{kept}|{rank}"
        if key not in self.data:
            self.data[key] = _simulate(hw, phase, batch, seq, m, n, rank, _synthetic(m, n, kept, rank, seed))
        self.used.add(key)
        return self.data[key]

    def get_mask(self, hw: HardwareConfig, sha: str, phase: str, batch: int, seq: int, rank: int,
                 mask: np.ndarray) -> dict:
        """A candidate's simulation on its own S mask (m x n bool), keyed by the mask's sha256."""
        m, n = mask.shape
        digest = hashlib.sha256(np.packbits(mask).tobytes()).hexdigest()[:32]
        key = f"{sha}|{phase}|{batch}|{seq if phase == 'prefill' else 1}|mask:{digest}|{m}|{n}|{rank}"
        if key not in self.data:
            self.data[key] = _simulate(hw, phase, batch, seq, m, n, rank, CsrMask.from_dense(mask))
        self.used.add(key)
        return self.data[key]

    def save_every(self, count: int) -> None:
        """Saves once `count` new simulations have accumulated (a long stage 1 keeps its work)."""
        if len(self.used - self.stored) >= count:
            self.save()

    def save(self) -> None:
        """Writes the cache file when it lacks a simulation this cache has used."""
        if self.path is not None and self.used - self.stored:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(self.path, json.dumps(self.data, sort_keys=True) + "\n")
            self.stored = set(self.data)


def check_options(hw: HardwareConfig, phase: str, metric: str, where: str) -> None:
    if phase not in PHASES:
        raise InputError(f"--cost-phase: expected one of {', '.join(PHASES)}, got {phase!r}")
    if metric not in METRICS:
        raise InputError(f"--cost: expected one of {', '.join(METRICS)}, got {metric!r}")
    if metric == "energy" and hw.technology is None:
        raise InputError(f"{where}: --cost energy needs a 'technology' section in the hardware config")


def build_table(hw: HardwareConfig, phase: str, metric: str, batch: int, seq: int,
                candidates: dict[tuple[int, int], list[tuple[int, int]]], counts: dict[tuple[int, int], int],
                cache: CostCache, seed: int = 0):
    """The cost of every candidate (kept, rank) of every shape (m, n) and of its dense matrix;
    `counts`: how many projections of the model have each shape (phase `both` normalises by
    the whole dense model's cost per phase). Returns a compression.cost_allocation.CostTable."""
    from compression.cost_allocation import CostTable  # compression (torch) only when a table is built

    sha = canonical_sha256(hw.model_dump(mode="json"))
    field = "cycles" if metric == "cycles" else "energy_pj"
    phases = ("decode", "prefill") if phase == "both" else (phase,)
    cand: dict = {s: {c: 0.0 for c in cs} for s, cs in candidates.items()}
    dense: dict = {s: 0.0 for s in candidates}
    for ph in phases:
        got = {(s, c): cache.get(hw, sha, ph, batch, seq, seed, *s, *c) for s, cs in candidates.items() for c in cs}
        dense_of = {s: got[(s, cs[0])]["dense_" + field] for s, cs in candidates.items()}
        scale = 1.0 / sum(counts[s] * dense_of[s] for s in candidates) if phase == "both" else 1.0
        for (s, c), r in got.items():
            cand[s][c] += r[field] * scale
        for s in candidates:
            dense[s] += dense_of[s] * scale
    cache.save()
    unit = "relative to dense (decode + prefill)" if phase == "both" else ("cycles" if metric == "cycles" else "pJ")
    return CostTable(cand, dense, unit)


def describe(hw: HardwareConfig, where: str, phase: str, metric: str, batch: int, seq: int,
             target: float | None, loss_target: float | None, masks: str = "candidates") -> dict:
    """The hyper-parameter `cost` of a hardware-aware allocation: what its costs are measured on."""
    check_options(hw, phase, metric, where)
    if masks not in MASKS:
        raise InputError(f"--cost-masks: expected one of {', '.join(MASKS)}, got {masks!r}")
    return {"hardware": hw.name, "hardware_sha256": canonical_sha256(hw.model_dump(mode="json")), "phase": phase,
            "metric": metric, "batch": batch, "seq": seq if phase != "decode" else 1, "target": target,
            "loss_target": loss_target, "masks": masks}


def mask_costs(hw: HardwareConfig, phase: str, metric: str, batch: int, seq: int,
               counts: dict[tuple[int, int], int], cache: CostCache):
    """Costs priced on each candidate's own S mask while stage 1 runs (a
    compression.cost_allocation.MaskCosts); phase `both` as `build_table`."""
    from compression.cost_allocation import MaskCosts  # compression (torch) only when it is used

    sha = canonical_sha256(hw.model_dump(mode="json"))
    field = "cycles" if metric == "cycles" else "energy_pj"
    phases = ("decode", "prefill") if phase == "both" else (phase,)
    dense_of = {(ph, s): _simulate(hw, ph, batch, seq, *s, 0, None)["dense_" + field] for ph in phases for s in counts}
    scale = {ph: (1.0 / sum(c * dense_of[(ph, s)] for s, c in counts.items()) if phase == "both" else 1.0)
             for ph in phases}

    def cost(m: int, n: int, rank: int, mask: np.ndarray) -> float:
        out = sum(cache.get_mask(hw, sha, ph, batch, seq, rank, mask)[field] * scale[ph] for ph in phases)
        cache.save_every(500)
        return out

    def dense(m: int, n: int) -> float:
        return sum(dense_of[(ph, (m, n))] * scale[ph] for ph in phases)

    unit = "relative to dense (decode + prefill)" if phase == "both" else ("cycles" if metric == "cycles" else "pJ")
    return MaskCosts(cost, dense, unit)


def for_model(lm, method: str, hp: dict, hw: HardwareConfig, cache_path: str | Path | None):
    """The cost table of every allocation candidate of every projection shape of a loaded model
    (compression.models.LoadedModel), as hp["cost"] describes it."""
    from compression import allocation, methods, models

    spec = hp["cost"]
    counts: dict = {}
    for layer in models.layer_stack(lm.model):  # shapes only: no layer is read from disk
        for lin in models.linear_projections(layer).values():
            counts[tuple(lin.weight.shape)] = counts.get(tuple(lin.weight.shape), 0) + 1
    if spec["masks"] == "candidates":
        return mask_costs(hw, spec["phase"], spec["metric"], spec["batch"], spec["seq"], counts, CostCache(cache_path))
    split = method in methods.SPLIT_ALLOCATED
    cands = {s: [(c.kept, c.rank) for c in allocation.candidates(*s, float(hp["ratio"]), None, split)] for s in counts}
    return build_table(hw, spec["phase"], spec["metric"], spec["batch"], spec["seq"], cands, counts,
                       CostCache(cache_path))
