"""Reports: per op, projection, module, layer and model, for a compressed run against the
dense baseline on the same hardware. Terminal table, JSON and CSV."""

from __future__ import annotations

import csv
import io
import json

import numpy as np

from simulator.energy.report import energy_lines, energy_section
from simulator.memory.dram import memory_spec
from simulator.reports.op_classes import class_costs
from simulator.schedule.run import RunResult

SPARSE_PARTS = ("S_dense", "S_sparse", "S_nm")  # S_nm: an N:M S on the denser engine
LOWRANK_PARTS = ("V", "U")


def _op_index(prog) -> dict[tuple, np.ndarray]:
    """Op indices per ("proj", layer, name), ("module", layer, module) and ("layer", layer)."""
    out: dict[tuple, list[int]] = {}
    for i, (layer, proj, mod) in enumerate(zip(prog.op_layer, prog.op_proj, prog.op_module)):
        for key in (("proj", layer, proj), ("module", layer, mod), ("layer", layer)):
            out.setdefault(key, []).append(i)
    return {k: np.asarray(v, np.int64) for k, v in out.items()}


def _group_span(r: RunResult, idx: np.ndarray) -> int:
    return int(r.op_done[idx].max() - r.op_first[idx].min()) if idx.size else 0


class _Groups:
    """Aggregates of a compressed run against its dense baseline over groups of ops."""

    def __init__(self, comp: RunResult, dense: RunResult) -> None:
        self.comp, self.dense = comp, dense
        pc = comp.program
        self.part_c = np.asarray(pc.op_part)
        self.eng_c = np.asarray(pc.op_engine)
        self.emacs_c = np.asarray(pc.op_engine_macs)
        self.macs_c = np.asarray(pc.op_macs, np.int64)
        self.idx_c, self.idx_d = _op_index(pc), _op_index(dense.program)

    def util(self, idx: np.ndarray) -> float:
        """Useful MACs over the MACs the ops' engines could do while busy."""
        cap = float((self.emacs_c[idx] * self.comp.op_busy[idx]).sum())
        return float(self.macs_c[idx].sum()) / cap if cap else 0.0

    def group(self, key_c: list, key_d: list) -> dict:
        """Aggregates over the ops under the given keys; each key is one layer's ops, and a
        group spanning layers is timed layer by layer (spans summed, so the other modules'
        time between them is not counted)."""
        comp, dense, part_c, eng_c = self.comp, self.dense, self.part_c, self.eng_c
        parts_c = [self.idx_c[k] for k in key_c if k in self.idx_c]
        parts_d = [self.idx_d[k] for k in key_d if k in self.idx_d]
        ic = np.concatenate(parts_c) if parts_c else np.zeros(0, np.int64)
        id_ = np.concatenate(parts_d) if parts_d else np.zeros(0, np.int64)
        span_c = sum(_group_span(comp, i) for i in parts_c)
        span_d = sum(_group_span(dense, i) for i in parts_d)
        return {
            "dense_cycles": span_d,
            "dense_compute_cycles": int(dense.op_busy[id_].sum()),
            "sparse_cycles": int(comp.op_busy[ic[np.isin(part_c[ic], SPARSE_PARTS)]].sum()),
            "lowrank_cycles": int(comp.op_busy[ic[np.isin(part_c[ic], LOWRANK_PARTS)]].sum()),
            "total_cycles": span_c,
            "speedup": span_d / span_c if span_c else float("nan"),
            "utilization": {"denser": self.util(ic[eng_c[ic] == 0]), "sparser": self.util(ic[eng_c[ic] == 1])},
            "dram_bytes": int(comp.op_dram[ic].sum()),
            "dense_dram_bytes": int(dense.op_dram[id_].sum()),
            "memory_stall_cycles": int(comp.op_stall[ic].sum()),
        }

    def modules(self, layers: int) -> dict[str, dict]:
        """Per module (MHA, FFN) over every layer, with per-layer means of its cycles."""
        modules = {}
        for mod in ("MHA", "FFN"):
            keys = [("module", L, mod) for L in range(layers)]
            g = self.group(keys, keys)
            g["per_layer"] = {k: (g[k] / layers) for k in ("dense_cycles", "sparse_cycles", "lowrank_cycles",
                                                           "total_cycles")}
            modules[mod] = g
        return modules

    def projections(self, layers: int) -> list[dict]:
        """Per layer and projection."""
        projections = []
        proj_names = list(dict.fromkeys(self.comp.program.op_proj))
        for layer in range(layers):
            for proj in proj_names:
                g = self.group([("proj", layer, proj)], [("proj", layer, proj)])
                g.update(layer=layer, projection=proj)
                projections.append(g)
        return projections

    def layers(self, layers: int) -> list[dict]:
        """Per layer."""
        per_layer = []
        for layer in range(layers):
            g = self.group([("layer", layer)], [("layer", layer)])
            g["layer"] = layer
            per_layer.append(g)
        return per_layer


def _ops(comp: RunResult) -> list[dict]:
    """Per op of the compressed run: its engine, tiles, times, MACs and DRAM bytes."""
    pc = comp.program
    return [
        {"op": pc.op_name[o], "engine": ["denser", "sparser", "vector", "dram"][pc.op_engine[o]],
         "tile": list(pc.op_tile_shape[o]), "tiles": int(pc.op_tile_count[o]),
         "start": int(comp.op_first[o]), "done": int(comp.op_done[o]), "compute_cycles": int(comp.op_busy[o]),
         "macs": int(pc.op_macs[o]), "dram_bytes": int(comp.op_dram[o]), "memory_stall_cycles": int(comp.op_stall[o])}
        for o in range(len(pc.op_name))
    ]


def _engines(comp: RunResult) -> dict[str, dict]:
    """Per engine of the compressed run: busy, stalled and idle cycles, utilization over the run."""
    pc, makespan_c = comp.program, comp.makespan
    eng_c = np.asarray(pc.op_engine)
    emacs_c = np.asarray(pc.op_engine_macs)
    macs_c = np.asarray(pc.op_macs, np.int64)
    engines = {}
    for e, name in ((0, "denser"), (1, "sparser")):
        idx = np.nonzero(eng_c == e)[0]
        busy = int(comp.op_busy[idx].sum())
        stall = int(comp.op_stall[idx].sum())
        cap = float(emacs_c[idx].max()) if idx.size else 0.0
        engines[name] = {
            "compute_cycles": busy,
            "memory_stall_cycles": stall,
            "idle_cycles": max(0, makespan_c - busy - stall) if comp.hw.split.policy != "time_multiplexed" else None,
            "utilization": float(macs_c[idx].sum()) / (cap * makespan_c) if cap and makespan_c else 0.0,
        }
    return engines


def _totals(comp: RunResult, dense: RunResult, engines: dict[str, dict]) -> dict:
    """The whole model: cycles, seconds, speedup, DRAM traffic and bandwidth use, peak buffer."""
    hw = comp.hw
    n_res = len(memory_spec(hw).num)  # DRAM channels or ports: utilization is over all of them
    makespan_c, makespan_d = comp.makespan, dense.makespan
    return {
        "dense_cycles": makespan_d,
        "total_cycles": makespan_c,
        "speedup": makespan_d / makespan_c if makespan_c else float("nan"),
        "dense_seconds": makespan_d / (hw.clock_mhz * 1e6),
        "seconds": makespan_c / (hw.clock_mhz * 1e6),
        "dram_bytes": int(comp.op_dram.sum()),
        "dense_dram_bytes": int(dense.op_dram.sum()),
        "dram_bandwidth_utilization": comp.channel_busy / (makespan_c * n_res) if makespan_c and hw.dram else 0.0,
        "dense_dram_bandwidth_utilization": dense.channel_busy / (makespan_d * n_res) if makespan_d and hw.dram else 0.0,
        "bound": _bound(engines, makespan_c),
        "peak_buffer_bytes": comp.peak_buffer_bytes,
        "dense_peak_buffer_bytes": dense.peak_buffer_bytes,
    }


def summarize(comp: RunResult, dense: RunResult) -> dict:
    """The report dictionary (JSON-ready)."""
    hw = comp.hw
    layers = comp.workload.model.num_layers
    groups = _Groups(comp, dense)
    engines = _engines(comp)
    model = _totals(comp, dense, engines)
    energy = energy_section(comp, dense)
    if energy is not None:
        model["energy_uj"] = energy["compressed"]["energy_pj"]["total"] * 1e-6
        model["dense_energy_uj"] = energy["dense"]["energy_pj"]["total"] * 1e-6
    w = comp.workload
    return {
        "model": w.model.name,
        "workload": w.description,
        "phase": w.phase,
        "batch": w.batch,
        "seq": w.seq,
        "tokens": w.tokens,
        "scope": w.scope,
        "context": w.context,
        "hardware": hw.name,
        "totals": model,
        "classes": {"compressed": class_costs(comp), "dense": class_costs(dense)},
        "engines": engines,
        "modules": groups.modules(layers),
        "layers": groups.layers(layers),
        "projections": groups.projections(layers),
        "ops": _ops(comp),
        **({"energy": energy} if energy is not None else {}),
    }


def _bound(engines: dict, makespan: int) -> str:
    busy = max(engines["denser"]["compute_cycles"], engines["sparser"]["compute_cycles"])
    stall = max(engines["denser"]["memory_stall_cycles"], engines["sparser"]["memory_stall_cycles"])
    return "memory-bound" if stall > busy else "compute-bound"


# ---------------------------------------------------------------- output


ENERGY_CSV_FIELDS = ["energy_pj", "dense_energy_pj"]
CSV_FIELDS = ["level", "layer", "name", "dense_cycles", "sparse_cycles", "lowrank_cycles", "total_cycles",
              "speedup", "util_denser", "util_sparser", "dram_bytes", "memory_stall_cycles"]


def to_csv(report: dict) -> str:
    """Rows per projection, layer, module and model; a report's provenance, when it has one,
    comes first as one comment line (`# provenance: {json}`; csv readers skip lines with '#')."""
    buf = io.StringIO()
    if "provenance" in report:
        buf.write("# provenance: " + json.dumps(report["provenance"], sort_keys=True) + "\n")
    w = csv.writer(buf)
    energy = report.get("energy")
    w.writerow(CSV_FIELDS + (ENERGY_CSV_FIELDS if energy else []))

    def joules(group: str, key) -> list[str]:
        """Energy columns of a row (pJ; projections, modules: dynamic only; layers, model: with static)."""
        if not energy:
            return []
        return [f"{energy[which][group][key]['total']:.6g}" if group else f"{energy[which]['energy_pj']['total']:.6g}"
                for which in ("compressed", "dense")]

    def row(level: str, layer, name: str, g: dict, e: list[str]) -> None:
        w.writerow([level, layer, name, g["dense_cycles"], g["sparse_cycles"], g["lowrank_cycles"], g["total_cycles"],
                    f"{g['speedup']:.6g}", f"{g['utilization']['denser']:.6g}", f"{g['utilization']['sparser']:.6g}",
                    g["dram_bytes"], g["memory_stall_cycles"]] + e)

    for p in report["projections"]:
        row("projection", p["layer"], p["projection"], p, joules("projections", f"L{p['layer']}.{p['projection']}"))
    for g in report["layers"]:
        row("layer", g["layer"], "all", g, joules("layers", g["layer"]))
    for mod, g in report["modules"].items():
        row("module", "", mod, g, joules("modules", mod))
    t = report["totals"]
    w.writerow(["model", "", report["model"], t["dense_cycles"], "", "", t["total_cycles"], f"{t['speedup']:.6g}",
                f"{report['engines']['denser']['utilization']:.6g}", f"{report['engines']['sparser']['utilization']:.6g}",
                t["dram_bytes"], ""] + joules("", None))
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
    if "energy" in report:
        console.print(energy_lines(report["energy"]))
    if report.get("scope") == "layer":
        for which in ("dense", "compressed"):
            c = report["classes"][which]
            shares = ", ".join(f"{k.replace('_', ' ')} {c[k]['active_share']:.0%}" for k in
                               ("projections", "attention_core", "vector", "writeback"))
            console.print(f"{which}: active share of the run: {shares}; KV cache {c['kv_cache']['dram_share']:.0%} "
                          f"of DRAM bytes")
    return console.file.getvalue()
