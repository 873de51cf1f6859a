"""What a sweep worker runs for one point: simulate, then flatten the report into a row.

The dense baseline run depends only on (hardware, model, layers, phase, batch, seq); each
worker process keeps the last few in a small cache, so points that share hardware pay
for it once. The cached run is the same object `simulate_shape` would compute, so the
results are identical with or without the cache.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

from simulator.config import HardwareConfig
from simulator.reports.summary import summarize
from simulator.schedule.run import RunResult, run
from simulator.sweep.spec import Point, WorkloadPoint
from workloads.errors import InputError
from workloads.from_artifact import from_artifact
from workloads.presets import ModelShape
from workloads.workload import from_shape

_DENSE_CACHE_SIZE = 4
_dense_cache: OrderedDict[str, RunResult] = OrderedDict()
_cache_lock = threading.Lock()  # Dask may run several points in threads of one process

MODULE_FIELDS = ("dense_cycles", "sparse_cycles", "lowrank_cycles", "total_cycles", "speedup",
                 "dram_bytes", "memory_stall_cycles")
TOTAL_FIELDS = ("dense_cycles", "total_cycles", "speedup", "seconds", "dense_seconds", "dram_bytes",
                "dram_bandwidth_utilization", "bound", "peak_buffer_bytes", "energy_uj", "dense_energy_uj")
ENERGY_FIELDS = ("pj_per_token", "dense_pj_per_token", "energy_gain", "area_mm2", "edp", "tokens_per_joule",
                 "effective_tops_per_w", "tokens_per_s_per_mm2")


def cost_metrics(hw: HardwareConfig) -> dict[str, float]:
    """Area proxies of a config: MAC units and on-chip buffer KiB (0 when unlimited)."""
    d, s = hw.denser_engine, hw.sparser_engine
    if hw.split.policy == "fixed":
        macs = d.rows * d.cols + s.lines * s.macs_per_line
    else:  # shared_width / time_multiplexed: one physical array
        macs = max(d.rows * d.cols, s.lines * s.macs_per_line)
    b = hw.buffers
    kib = 0.0 if b is None else b.weight_kib + b.input_kib + b.output_kib + b.index_kib
    return {"macs": macs, "buffer_kib": kib, "area_proxy": macs + kib}


def energy_metrics(report: dict) -> dict[str, float | None]:
    """The energy and area columns of a report (None each when its config has no technology).

    edp is the energy-delay product per token: pJ per token x seconds per token, in pJ*s
    (lower is better; it weighs a design's energy and its latency equally)."""
    e = report.get("energy")
    if e is None:
        return dict.fromkeys(ENERGY_FIELDS)
    c, d = e["compressed"], e["dense"]
    return {"pj_per_token": c["pj_per_token"], "dense_pj_per_token": d["pj_per_token"],
            "energy_gain": e["energy_gain"], "area_mm2": c["area_mm2"]["total"],
            "edp": c["pj_per_token"] * report["totals"]["seconds"] / report["tokens"],
            "tokens_per_joule": c["tokens_per_joule"], "effective_tops_per_w": c["effective_tops_per_w"],
            "tokens_per_s_per_mm2": c["tokens_per_s_per_mm2"]}


def _dense_run(point: Point, shape: ModelShape, hw: HardwareConfig) -> RunResult:
    key = point.dense_key
    with _cache_lock:
        hit = _dense_cache.get(key)
        if hit is not None:
            _dense_cache.move_to_end(key)
            return hit
    w = point.workload
    result = run(from_shape(shape, None, w["phase"], w["batch"], w["seq"], 0, point.layers), hw)
    with _cache_lock:
        _dense_cache[key] = result
        while len(_dense_cache) > _DENSE_CACHE_SIZE:
            _dense_cache.popitem(last=False)
    return result


def simulate_point(point: Point) -> dict[str, Any]:
    """Simulate one point; the row for the results store (status 'error' for bad input)."""
    t0 = time.perf_counter()
    hw = HardwareConfig.model_validate(point.hardware)
    shape = ModelShape(**point.model)
    w = point.workload
    row: dict[str, Any] = {"point_hash": point.key, **cost_metrics(hw)}
    try:
        if point.artifact is not None:  # real masks; its dense baseline equals the shape-only one
            workload = from_artifact(point.artifact, w["phase"], w["batch"], w["seq"], expected=shape)[0]
        else:
            wl = WorkloadPoint.model_validate(w)
            workload = from_shape(shape, wl.budget(), wl.phase, wl.batch, wl.seq, wl.seed, point.layers)
        report = summarize(run(workload, hw), _dense_run(point, shape, hw))
    except InputError as exc:  # e.g. a buffer too small for the smallest tile: deterministic
        row.update(status="error", error=str(exc), elapsed_s=time.perf_counter() - t0)
        return row
    except MemoryError:  # this point is too big for the worker's memory: recorded, the others go on
        row.update(status="error", error="out of memory in the worker simulating this point",
                   elapsed_s=time.perf_counter() - t0)
        return row
    t = report["totals"]
    row.update({k: t.get(k) for k in TOTAL_FIELDS})
    row.update(energy_metrics(report))
    row["util_denser"] = report["engines"]["denser"]["utilization"]
    row["util_sparser"] = report["engines"]["sparser"]["utilization"]
    for mod, g in report["modules"].items():
        p = mod.lower()
        row.update({f"{p}_{k}": g[k] for k in MODULE_FIELDS})
        row[f"{p}_util_denser"] = g["utilization"]["denser"]
        row[f"{p}_util_sparser"] = g["utilization"]["sparser"]
    row.update(status="ok", error=None, elapsed_s=time.perf_counter() - t0)
    return row
