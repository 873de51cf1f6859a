"""The frontier's figures: perplexity against simulated speedup (and, on configs with a
technology, against energy per token), one panel per hardware config and phase, a marker per
method, filled by allocation, and the Pareto front."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker

from simulator.plots.style import save, styled

MARKERS = {"sslc": "o", "sslc-obs": "D", "magnitude": "v", "wanda": "^", "sparsegpt": "s", "svd": "x", "asvd": "+"}
ALLOC_COLORS = {"uniform": "#0072B2", "owl": "#E69F00", "global": "#D55E00"}
HW_COLORS = ("#009E73", "#CC79A7", "#56B4E9", "#F0E442")  # hardware-aware variants (hw-...), in order of appearance


def _colors(rows: list[dict]) -> dict[str, str]:
    """Each allocation's colour: the fixed ones, then the hardware-aware variants."""
    hw = [a for a in dict.fromkeys(r["allocation"] for r in rows) if a not in ALLOC_COLORS]
    return {**ALLOC_COLORS, **{a: HW_COLORS[i % len(HW_COLORS)] for i, a in enumerate(hw)}}


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (speedup, perplexity) points no other point beats on both (higher speedup, lower perplexity)."""
    front, best = [], math.inf
    for s, p in sorted(points, key=lambda x: (-x[0], x[1])):
        if p < best:
            front.append((s, p))
            best = p
    return sorted(front)


def _front(pts: list[tuple[float, float]], x: str) -> list[tuple[float, float]]:
    """The Pareto front of (x, perplexity): higher speedup is better, lower energy is."""
    if x == "speedup":
        return pareto(pts)
    return sorted((-a, b) for a, b in pareto([(-a, b) for a, b in pts]))


def _panel(ax, ok: list[dict], k: str, x: str, dense: float | None) -> list[tuple[float, float]]:
    """One hardware x phase panel: every point, its kept ratio, the front and the dense model."""
    pts = []
    scale = 1.0 if x == "speedup" else 1e-6  # pJ drawn as uJ: readable ticks
    for r in ok:
        s = r["simulations"].get(k, {}).get(x)
        if s is None:
            continue
        s *= scale
        pts.append((s, r["perplexity"]))
        ax.scatter(s, r["perplexity"], marker=MARKERS.get(r["method"], "o"), s=36,
                   color=_colors(ok)[r["allocation"]], zorder=3)
        ax.annotate(f"{r['ratio']:g}", (s, r["perplexity"]), textcoords="offset points", xytext=(4, 3), fontsize=7)
    if pts:
        fx, fy = zip(*_front(pts, x))
        ax.plot(fx, fy, color="#999999", lw=1, ls="--", zorder=2, label="Pareto front")
    dense_x = 1.0 if x == "speedup" else next(
        (r["simulations"][k]["dense_pj_per_token"] for r in ok if "dense_pj_per_token" in r["simulations"].get(k, {})),
        None)
    if dense is not None and dense_x is not None:
        ax.scatter(dense_x * scale, dense, marker="*", s=90, color="#000000", zorder=4, label="dense")
    return pts


def pareto_figure(fr, rows: list[dict], out: str | Path, x: str = "speedup") -> list[Path]:
    """pareto.{pdf,svg,png} in `out` (x = "speedup": perplexity against speedup), or
    pareto_energy.* (x = "pj_per_token": against energy per token, on the configs with a
    technology; the dense model's own pJ/token is the star)."""
    energy = x == "pj_per_token"
    keys = [(Path(h).stem, ph.phase) for h, hw in fr.hardware if not energy or hw.technology is not None
            for ph in fr.spec.phases]
    ok = [r for r in rows if r["status"] == "ok" and r["key"] != "dense"]
    dense = next((r["perplexity"] for r in rows if r["key"] == "dense"), None)
    with styled():
        fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
        for ax, (hw, phase) in zip(axes[0], keys):
            pts = _panel(ax, ok, f"{hw}|{phase}", x, dense)
            ys = [y for _, y in pts] + ([dense] if dense is not None else [])
            log = bool(ys) and max(ys) > 3 * min(ys)  # a log axis only where perplexities span a wide range
            if log:
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
                ax.yaxis.set_minor_formatter(mticker.NullFormatter())
            ax.set_xlabel(f"energy per token on {hw}, {phase} (uJ)" if energy
                          else f"speedup over dense on {hw}, {phase} (x)")
            ax.set_ylabel("held-out perplexity" + (" (log scale)" if log else ""))
            ax.set_title(f"{Path(fr.spec.model).name}: {hw}, {phase}")
        handles = [plt.Line2D([], [], marker=MARKERS[m], ls="", color="#555555", label=m)
                   for m in dict.fromkeys(r["method"] for r in ok)]
        handles += [plt.Line2D([], [], marker="o", ls="", color=c, label=f"allocation {a}")
                    for a, c in _colors(ok).items() if any(r["allocation"] == a for r in ok)]
        handles += axes[0][0].get_legend_handles_labels()[0]
        axes[0][-1].legend(handles=handles, fontsize=7, loc="best")
        fig.text(0.01, 0.01, "labels: kept ratio", fontsize=7)
        prov = json.dumps({"spec": str(fr.source), "rows": [r.get("provenance") for r in rows][:1]}, sort_keys=True)
        return save(fig, out, "pareto_energy" if energy else "pareto", description=prov)
