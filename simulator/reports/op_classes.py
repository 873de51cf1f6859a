"""What each class of op costs in one run: projections, the attention core, vector-unit ops
and write-backs, plus the KV-cache traffic inside them.

Per class: compute cycles (summed over its ops), DRAM bytes, and its active share: the
union of its ops' [first request, done] intervals over the makespan. Classes run
concurrently, so active shares do not add up to 1. KV-cache traffic: the K/V bytes the
attention core reads (its tiles' stationary-operand bytes) plus the k/v projection outputs
written as the cache; its DRAM share is those bytes over all DRAM bytes.
"""

from __future__ import annotations

import numpy as np

from simulator.schedule.run import RunResult

CLASSES = ("projections", "attention_core", "vector", "writeback")


def op_class(part: str, stream: int) -> str:
    """The class of an op from its part name (program.build.Program.op_part) and stream."""
    if part == "out":
        return "writeback"
    if stream == 2:
        return "vector"
    if part.startswith(("qk", "pv")):
        return "attention_core"
    return "projections"


def _union(first: np.ndarray, done: np.ndarray) -> int:
    """Cycles covered by the union of [first, done) intervals."""
    total, end = 0, -1
    for a, b in sorted(zip(first.tolist(), done.tolist())):
        if b <= end:
            continue
        total += b - max(a, end)
        end = b
    return total


def class_costs(r: RunResult) -> dict:
    """Per class: compute_cycles, dram_bytes, active_share; and kv_cache (bytes, dram_share)."""
    prog = r.program
    cls = np.asarray([op_class(p, s) for p, s in zip(prog.op_part, prog.op_stream)])
    span = r.makespan
    out = {}
    for c in CLASSES:
        idx = np.nonzero(cls == c)[0]
        out[c] = {"compute_cycles": int(r.op_busy[idx].sum()), "dram_bytes": int(r.op_dram[idx].sum()),
                  "active_share": _union(r.op_first[idx], r.op_done[idx]) / span if span and idx.size else 0.0}
    kv = 0
    if r.workload.scope == "layer" and r.hw.dram is not None:
        for o in np.nonzero(cls == "attention_core")[0]:
            kv += prog.op_weight_bytes[o]
        for o, (proj, part) in enumerate(zip(prog.op_proj, prog.op_part)):
            if part == "out" and proj in ("k_proj", "v_proj"):
                kv += int(prog.op_wb_bytes[o])
    total = int(r.op_dram.sum())
    out["kv_cache"] = {"dram_bytes": kv, "dram_share": kv / total if total else 0.0}
    return out
