"""The energy and area section of a report: a compressed run beside its dense baseline.

Per run: energy by component (account.COMPONENTS) and total, pJ per token, tokens per joule,
average power, effective TOPS/W (2 x useful MACs per joule), area by component and total,
tokens/s per mm^2 and effective TOPS per mm^2; per op class, module, layer and projection the
dynamic energy by component (static power is charged to layers by their spans, so module,
projection and class figures are dynamic only); DRAM bytes by operand. With the config's
per-action costs, their sources and which of them the config overrode.
"""

from __future__ import annotations

import numpy as np

from simulator.energy.account import COMPONENTS, DYNAMIC, dram_bytes_by_operand, op_energy, static_pj
from simulator.energy.costs import Costs, resolve
from simulator.reports.op_classes import CLASSES, op_class


def _by(keys: list, per_op: np.ndarray) -> dict:
    """Dynamic energy (pJ) by component and total, summed over ops grouped by `keys`."""
    out: dict = {}
    for k, row in zip(keys, per_op):
        acc = out.setdefault(k, np.zeros(len(DYNAMIC)))
        acc += row
    return {k: _components(v) for k, v in out.items()}


def _components(row: np.ndarray, static: float | None = None) -> dict:
    d = {k: float(v) for k, v in zip(DYNAMIC, row)}
    if static is not None:
        d["static"] = static
    d["total"] = float(sum(d.values()))
    return d


def run_energy(run, costs: Costs) -> dict:
    """One run's energy and area figures (module docstring); energies in pJ."""
    prog, hw, w = run.program, run.hw, run.workload
    per_op = op_energy(run, costs)
    seconds = run.makespan / (hw.clock_mhz * 1e6)
    static = static_pj(costs, run.makespan, hw.clock_mhz)
    total = _components(per_op.sum(axis=0), static)
    joules = total["total"] * 1e-12
    useful = float(sum(int(a[1]) for a in prog.op_actions))
    computed = float(sum(int(a[0]) for a in prog.op_actions))
    layers = {}
    spans = {}
    for layer in sorted(set(prog.op_layer)):
        idx = np.nonzero(np.asarray(prog.op_layer) == layer)[0]
        spans[layer] = int(run.op_done[idx].max() - run.op_first[idx].min())
    span_sum = sum(spans.values()) or 1
    for layer, g in _by(list(prog.op_layer), per_op).items():
        layers[layer] = _components(np.array([g[k] for k in DYNAMIC]), static * spans[layer] / span_sum)
    area = costs.total_area_mm2
    tps = w.tokens / seconds if seconds else 0.0
    return {
        "energy_pj": total,
        "pj_per_token": total["total"] / w.tokens,
        "tokens_per_joule": w.tokens / joules if joules else 0.0,
        "average_power_w": joules / seconds if seconds else 0.0,
        "effective_tops_per_w": 2 * useful / joules / 1e12 if joules else 0.0,
        "useful_macs": useful,
        "computed_macs": computed,
        "seconds": seconds,
        "area_mm2": {**costs.area_mm2, "total": area},
        "tokens_per_s_per_mm2": tps / area if area else 0.0,
        "effective_tops_per_mm2": 2 * useful / seconds / 1e12 / area if seconds and area else 0.0,
        "dram_bytes_by_operand": dram_bytes_by_operand(run),
        "classes": _by([op_class(p, s) for p, s in zip(prog.op_part, prog.op_stream)], per_op),
        "modules": _by(list(prog.op_module), per_op),
        "layers": layers,
        "projections": _by([f"L{layer}.{p}" for layer, p in zip(prog.op_layer, prog.op_proj)], per_op),
    }


def energy_section(comp, dense) -> dict | None:
    """The report's `energy` section, or None when the config names no technology."""
    costs = resolve(comp.hw)
    if costs is None:
        return None
    c, d = run_energy(comp, costs), run_energy(dense, costs)
    return {
        "costs": costs.as_dict(),
        "compressed": c,
        "dense": d,
        "energy_gain": d["energy_pj"]["total"] / c["energy_pj"]["total"] if c["energy_pj"]["total"] else 0.0,
        "classes_order": list(CLASSES),
        "components": list(COMPONENTS),
    }


def energy_lines(section: dict) -> str:
    """The terminal summary of an energy section: per run, energy per token and its largest
    components, power, TOPS/W; the area; the overridden costs."""
    lines = []
    for which in ("dense", "compressed"):
        r = section[which]
        tot = r["energy_pj"]["total"]
        top = sorted(((v, k) for k, v in r["energy_pj"].items() if k != "total"), reverse=True)[:3]
        parts = ", ".join(f"{k.replace('_', ' ')} {v / tot:.0%}" for v, k in top) if tot else "none"
        lines.append(f"{which}: {r['pj_per_token'] / 1e6:,.3f} uJ/token ({parts}), {r['average_power_w']:.3g} W, "
                     f"{r['effective_tops_per_w']:.3g} effective TOPS/W")
    area = section["compressed"]["area_mm2"]["total"]
    over = ", ".join(section["costs"]["overridden"]) or "none"
    lines.append(f"energy gain {section['energy_gain']:.2f}x; area {area:,.2f} mm^2; overridden costs: {over}")
    return "\n".join(lines)
