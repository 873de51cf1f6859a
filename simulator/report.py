"""Reports: per op, projection, module, layer and model, for a compressed run against the
dense baseline on the same hardware. Terminal table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numba import njit

from simulator.run import RunResult

SPARSE_PARTS = ("S_dense", "S_sparse")
LOWRANK_PARTS = ("V", "U")


@dataclass
class OpTimes:
    """Per-op aggregates of one run (numpy arrays indexed by op)."""

    first: np.ndarray  # earliest request of the op's operands (cycle)
    done: np.ndarray
    busy: np.ndarray  # compute cycles
    macs: np.ndarray  # useful MACs
    dram_bytes: np.ndarray
    mem_stall: np.ndarray


def op_times(r: RunResult) -> OpTimes:
    a = r.arrays
    first, busy, macs, dram, stall = _op_aggregates(
        a["op_stream"], a["op_dep_ptr"], a["op_dep_idx"], a["op_tile_ptr"], a["op_wb_bytes"], a["tile_bytes"],
        a["tile_cycles"], a["op_macs"], r.tile_req, r.tile_start, r.tile_end, r.op_done, r.op_grant, r.hw.dram is None)
    return OpTimes(first, r.op_done, busy, macs, dram, stall)


@njit(cache=True)
def _op_aggregates(op_stream, dep_ptr, dep_idx, tile_ptr, wb_bytes, tile_bytes, tile_cycles, op_macs,
                   tile_req, tile_start, tile_end, op_done, op_grant, ideal):
    """One pass over the tiles: per op the first request, busy cycles, useful MACs, DRAM bytes
    and memory-stall cycles (a tile waiting for its data after its engine and inputs were ready)."""
    n = op_stream.shape[0]
    first = np.zeros(n, np.int64)
    busy = np.zeros(n, np.int64)
    macs = np.zeros(n, np.int64)
    dram = np.zeros(n, np.int64)
    stall = np.zeros(n, np.int64)
    prev_end = np.zeros(2, np.int64)
    for o in range(n):
        if op_stream[o] == 2:
            first[o] = op_grant[o]
            dram[o] = 0 if ideal else wb_bytes[o]
            continue
        deps_done = 0
        for d in range(dep_ptr[o], dep_ptr[o + 1]):
            deps_done = max(deps_done, op_done[dep_idx[d]])
        s = op_stream[o]
        macs[o] = op_macs[o]
        first[o] = tile_req[tile_ptr[o]]
        for t in range(tile_ptr[o], tile_ptr[o + 1]):
            busy[o] += tile_cycles[t]
            if not ideal:
                dram[o] += tile_bytes[t]
            ready = max(prev_end[s], deps_done)
            if tile_start[t] > ready:
                stall[o] += tile_start[t] - ready
            prev_end[s] = tile_end[t]
    return first, busy, macs, dram, stall


def _op_index(prog) -> dict[tuple, np.ndarray]:
    """Op indices per ("proj", layer, name), ("module", layer, module) and ("layer", layer)."""
    out: dict[tuple, list[int]] = {}
    for i, (layer, proj, mod) in enumerate(zip(prog.op_layer, prog.op_proj, prog.op_module)):
        for key in (("proj", layer, proj), ("module", layer, mod), ("layer", layer)):
            out.setdefault(key, []).append(i)
    return {k: np.asarray(v, np.int64) for k, v in out.items()}


def _group_span(t: OpTimes, idx: np.ndarray) -> int:
    return int(t.done[idx].max() - t.first[idx].min()) if idx.size else 0


def peak_buffer_bytes(r: RunResult) -> int:
    """Peak on-chip weight+index bytes: a tile holds its slot from grant to compute end."""
    a = r.arrays
    return int(_peak_occupancy(a["op_stream"], a["op_tile_ptr"], a["tile_weight_bytes"], r.tile_grant, r.tile_end))


@njit(cache=True)
def _stream_ranges(op_stream, tile_ptr, s):
    """(lo, hi) tile ranges of stream s's ops, in program order (empty ops skipped)."""
    n = 0
    for o in range(op_stream.shape[0]):
        if op_stream[o] == s and tile_ptr[o + 1] > tile_ptr[o]:
            n += 1
    lo = np.empty(n, np.int64)
    hi = np.empty(n, np.int64)
    k = 0
    for o in range(op_stream.shape[0]):
        if op_stream[o] == s and tile_ptr[o + 1] > tile_ptr[o]:
            lo[k] = tile_ptr[o]
            hi[k] = tile_ptr[o + 1]
            k += 1
    return lo, hi


@njit(cache=True)
def _peak_by_sort(lo0, hi0, lo1, hi1, w, grant, end) -> int:
    n = (hi0 - lo0).sum() + (hi1 - lo1).sum()
    times = np.empty(2 * n, np.int64)
    delta = np.empty(2 * n, np.int64)
    i = 0
    for lo, hi in ((lo0, hi0), (lo1, hi1)):
        for k in range(lo.shape[0]):
            for t in range(lo[k], hi[k]):
                times[i], delta[i] = end[t], -w[t]  # releases first: the stable sort keeps them ahead
                times[n + i], delta[n + i] = grant[t], w[t]
                i += 1
    occ = 0
    peak = 0
    for j in np.argsort(times, kind="mergesort"):
        occ += delta[j]
        peak = max(peak, occ)
    return peak


@njit(cache=True)
def _peak_occupancy(op_stream, tile_ptr, w, grant, end) -> int:
    """Peak of the running sum of +bytes at each grant and -bytes at each end, releases
    first on ties. Within a stream ends are non-decreasing and so, in practice, are grants:
    then a 4-way merge over the streams' tile ranges is exact and copies nothing. A grant
    can run backwards only when a transfer bypasses the channel (zero bytes or ideal
    memory); the merge notices and the events are sorted instead."""
    big = np.int64(1) << np.int64(62)
    lo0, hi0 = _stream_ranges(op_stream, tile_ptr, 0)
    lo1, hi1 = _stream_ranges(op_stream, tile_ptr, 1)
    # cursors (range index, tile) for the grants and the ends of each stream
    rg0, rg1, re0, re1 = 0, 0, 0, 0
    tg0 = lo0[0] if lo0.shape[0] else 0
    te0 = tg0
    tg1 = lo1[0] if lo1.shape[0] else 0
    te1 = tg1
    last0 = last1 = 0  # the streams' previous grants
    occ = 0
    peak = 0
    while True:
        ve0 = end[te0] if re0 < lo0.shape[0] else big
        ve1 = end[te1] if re1 < lo1.shape[0] else big
        vg0 = grant[tg0] if rg0 < lo0.shape[0] else big
        vg1 = grant[tg1] if rg1 < lo1.shape[0] else big
        if vg0 < last0 or vg1 < last1:
            return _peak_by_sort(lo0, hi0, lo1, hi1, w, grant, end)
        t_end = min(ve0, ve1)
        t_grant = min(vg0, vg1)
        if t_end == big and t_grant == big:
            return peak
        if t_end <= t_grant:
            if ve0 <= ve1:
                occ -= w[te0]
                te0 += 1
                if te0 == hi0[re0]:
                    re0 += 1
                    if re0 < lo0.shape[0]:
                        te0 = lo0[re0]
            else:
                occ -= w[te1]
                te1 += 1
                if te1 == hi1[re1]:
                    re1 += 1
                    if re1 < lo1.shape[0]:
                        te1 = lo1[re1]
        else:
            if vg0 <= vg1:
                occ += w[tg0]
                last0 = vg0
                tg0 += 1
                if tg0 == hi0[rg0]:
                    rg0 += 1
                    if rg0 < lo0.shape[0]:
                        tg0 = lo0[rg0]
            else:
                occ += w[tg1]
                last1 = vg1
                tg1 += 1
                if tg1 == hi1[rg1]:
                    rg1 += 1
                    if rg1 < lo1.shape[0]:
                        tg1 = lo1[rg1]
            peak = max(peak, occ)


def summarize(comp: RunResult, dense: RunResult) -> dict:
    """The report dictionary (JSON-ready)."""
    tc, td = op_times(comp), op_times(dense)
    pc, pd = comp.program, dense.program
    hw = comp.hw
    makespan_c, makespan_d = comp.makespan, dense.makespan
    part_c = np.asarray(pc.op_part)
    eng_c = np.asarray(pc.op_engine)
    emacs_c = np.asarray(pc.op_engine_macs)
    layers = comp.workload.model.num_layers
    idx_c, idx_d = _op_index(pc), _op_index(pd)

    def util(idx: np.ndarray) -> float:
        cap = float((emacs_c[idx] * tc.busy[idx]).sum())
        return float(tc.macs[idx].sum()) / cap if cap else 0.0

    def group(key_c: list, key_d: list) -> dict:
        """Aggregates over the ops under the given keys; each key is one layer's ops, and a
        group spanning layers is timed layer by layer (spans summed, so the other modules'
        time between them is not counted)."""
        parts_c = [idx_c[k] for k in key_c if k in idx_c]
        parts_d = [idx_d[k] for k in key_d if k in idx_d]
        ic = np.concatenate(parts_c) if parts_c else np.zeros(0, np.int64)
        id_ = np.concatenate(parts_d) if parts_d else np.zeros(0, np.int64)
        span_c = sum(_group_span(tc, i) for i in parts_c)
        span_d = sum(_group_span(td, i) for i in parts_d)
        return {
            "dense_cycles": span_d,
            "dense_compute_cycles": int(td.busy[id_].sum()),
            "sparse_cycles": int(tc.busy[ic[np.isin(part_c[ic], SPARSE_PARTS)]].sum()),
            "lowrank_cycles": int(tc.busy[ic[np.isin(part_c[ic], LOWRANK_PARTS)]].sum()),
            "total_cycles": span_c,
            "speedup": span_d / span_c if span_c else float("nan"),
            "utilization": {"denser": util(ic[eng_c[ic] == 0]), "sparser": util(ic[eng_c[ic] == 1])},
            "dram_bytes": int(tc.dram_bytes[ic].sum()),
            "dense_dram_bytes": int(td.dram_bytes[id_].sum()),
            "memory_stall_cycles": int(tc.mem_stall[ic].sum()),
        }

    proj_names = list(dict.fromkeys(pc.op_proj))
    modules = {}
    for mod in ("MHA", "FFN"):
        keys = [("module", L, mod) for L in range(layers)]
        g = group(keys, keys)
        g["per_layer"] = {k: (g[k] / layers) for k in ("dense_cycles", "sparse_cycles", "lowrank_cycles", "total_cycles")}
        modules[mod] = g
    projections = []
    for layer in range(layers):
        for proj in proj_names:
            g = group([("proj", layer, proj)], [("proj", layer, proj)])
            g.update(layer=layer, projection=proj)
            projections.append(g)
    per_layer = []
    for layer in range(layers):
        g = group([("layer", layer)], [("layer", layer)])
        g["layer"] = layer
        per_layer.append(g)
    ops = [
        {"op": pc.op_name[o], "engine": ["denser", "sparser", "dram"][pc.op_engine[o]],
         "tile": list(pc.op_tile_shape[o]), "tiles": int(comp.arrays["op_tile_ptr"][o + 1] - comp.arrays["op_tile_ptr"][o]),
         "start": int(tc.first[o]), "done": int(tc.done[o]), "compute_cycles": int(tc.busy[o]),
         "macs": int(tc.macs[o]), "dram_bytes": int(tc.dram_bytes[o]), "memory_stall_cycles": int(tc.mem_stall[o])}
        for o in range(len(pc.op_name))
    ]
    engines = {}
    for e, name in ((0, "denser"), (1, "sparser")):
        idx = np.nonzero(eng_c == e)[0]
        busy = int(tc.busy[idx].sum())
        stall = int(tc.mem_stall[idx].sum())
        cap = float(emacs_c[idx].max()) if idx.size else 0.0
        engines[name] = {
            "compute_cycles": busy,
            "memory_stall_cycles": stall,
            "idle_cycles": max(0, makespan_c - busy - stall) if hw.split.policy != "time_multiplexed" else None,
            "utilization": float(tc.macs[idx].sum()) / (cap * makespan_c) if cap and makespan_c else 0.0,
        }
    dram_total = int(tc.dram_bytes.sum())
    model = {
        "dense_cycles": makespan_d,
        "total_cycles": makespan_c,
        "speedup": makespan_d / makespan_c if makespan_c else float("nan"),
        "dense_seconds": makespan_d / (hw.clock_mhz * 1e6),
        "seconds": makespan_c / (hw.clock_mhz * 1e6),
        "dram_bytes": dram_total,
        "dense_dram_bytes": int(td.dram_bytes.sum()),
        "dram_bandwidth_utilization": comp.channel_busy / makespan_c if makespan_c and hw.dram else 0.0,
        "dense_dram_bandwidth_utilization": dense.channel_busy / makespan_d if makespan_d and hw.dram else 0.0,
        "bound": _bound(engines, makespan_c),
        "peak_buffer_bytes": peak_buffer_bytes(comp),
        "dense_peak_buffer_bytes": peak_buffer_bytes(dense),
    }
    if hw.energy is not None:
        en = hw.energy
        for run, t, key in ((comp, tc, "energy_uj"), (dense, td, "dense_energy_uj")):
            onchip = float(run.arrays["tile_bytes"].sum())
            model[key] = (en.mac_pj * float(t.macs.sum()) + en.dram_pj_per_byte * float(t.dram_bytes.sum())
                          + en.sram_pj_per_byte * 2 * onchip) * 1e-6
    w = comp.workload
    return {
        "model": w.model.name,
        "workload": w.description,
        "phase": w.phase,
        "batch": w.batch,
        "seq": w.seq,
        "tokens": w.tokens,
        "hardware": hw.name,
        "totals": model,
        "engines": engines,
        "modules": modules,
        "layers": per_layer,
        "projections": projections,
        "ops": ops,
    }


def _bound(engines: dict, makespan: int) -> str:
    busy = max(engines["denser"]["compute_cycles"], engines["sparser"]["compute_cycles"])
    stall = max(engines["denser"]["memory_stall_cycles"], engines["sparser"]["memory_stall_cycles"])
    return "memory-bound" if stall > busy else "compute-bound"


# ---------------------------------------------------------------- output


def atomic_write(path: str | Path, text: str) -> None:
    """Write to a temporary file beside `path`, then rename over it."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


CSV_FIELDS = ["level", "layer", "name", "dense_cycles", "sparse_cycles", "lowrank_cycles", "total_cycles",
              "speedup", "util_denser", "util_sparser", "dram_bytes", "memory_stall_cycles"]


def to_csv(report: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_FIELDS)

    def row(level: str, layer, name: str, g: dict) -> None:
        w.writerow([level, layer, name, g["dense_cycles"], g["sparse_cycles"], g["lowrank_cycles"], g["total_cycles"],
                    f"{g['speedup']:.6g}", f"{g['utilization']['denser']:.6g}", f"{g['utilization']['sparser']:.6g}",
                    g["dram_bytes"], g["memory_stall_cycles"]])

    for p in report["projections"]:
        row("projection", p["layer"], p["projection"], p)
    for g in report["layers"]:
        row("layer", g["layer"], "all", g)
    for mod, g in report["modules"].items():
        row("module", "", mod, g)
    t = report["totals"]
    w.writerow(["model", "", report["model"], t["dense_cycles"], "", "", t["total_cycles"], f"{t['speedup']:.6g}",
                f"{report['engines']['denser']['utilization']:.6g}", f"{report['engines']['sparser']['utilization']:.6g}",
                t["dram_bytes"], ""])
    return buf.getvalue()


def to_json(report: dict) -> str:
    return json.dumps(report, indent=1)


def render_table(report: dict) -> str:
    """A readable terminal summary (rich)."""
    from rich.console import Console
    from rich.table import Table

    t = report["totals"]
    table = Table(title=f"{report['model']} on {report['hardware']}: {report['phase']}, {report['tokens']} token(s)")
    for col in ("module", "dense", "sparse", "low-rank", "total", "speedup", "util dense", "util sparse", "DRAM MB", "mem stall"):
        table.add_column(col, justify="right")
    for mod, g in report["modules"].items():
        table.add_row(mod, f"{g['dense_cycles']:,}", f"{g['sparse_cycles']:,}", f"{g['lowrank_cycles']:,}",
                      f"{g['total_cycles']:,}", f"{g['speedup']:.2f}x", f"{g['utilization']['denser']:.1%}",
                      f"{g['utilization']['sparser']:.1%}", f"{g['dram_bytes'] / 1e6:,.1f}", f"{g['memory_stall_cycles']:,}")
    table.add_row("model", f"{t['dense_cycles']:,}", "", "", f"{t['total_cycles']:,}", f"{t['speedup']:.2f}x",
                  f"{report['engines']['denser']['utilization']:.1%}", f"{report['engines']['sparser']['utilization']:.1%}",
                  f"{t['dram_bytes'] / 1e6:,.1f}", t["bound"])
    console = Console(file=io.StringIO(), width=140, force_terminal=False)
    console.print(table)
    console.print("cycles summed over layers; module totals are spans (first request to last write), so "
                  "concurrent modules overlap. Per-op detail: --json.")
    return console.file.getvalue()
