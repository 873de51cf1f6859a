"""The frontier's figure: perplexity against simulated speedup, one panel per hardware
config and phase, a marker per method, filled by allocation, and the Pareto front."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib.pyplot as plt
import matplotlib.ticker as mticker

from simulator.plots.style import save, styled

MARKERS = {"sslc": "o", "sslc-obs": "D", "magnitude": "v", "wanda": "^", "sparsegpt": "s", "svd": "x", "asvd": "+"}
ALLOC_COLORS = {"uniform": "#0072B2", "owl": "#E69F00", "global": "#D55E00"}


def pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The (speedup, perplexity) points no other point beats on both (higher speedup, lower perplexity)."""
    front, best = [], math.inf
    for s, p in sorted(points, key=lambda x: (-x[0], x[1])):
        if p < best:
            front.append((s, p))
            best = p
    return sorted(front)


def pareto_figure(fr, rows: list[dict], out: str | Path) -> list[Path]:
    """pareto.{pdf,svg,png} in `out`."""
    keys = [(Path(h).stem, ph.phase) for h, _ in fr.hardware for ph in fr.spec.phases]
    ok = [r for r in rows if r["status"] == "ok" and r["key"] != "dense"]
    dense = next((r["perplexity"] for r in rows if r["key"] == "dense"), None)
    with styled():
        fig, axes = plt.subplots(1, len(keys), figsize=(4.2 * len(keys), 3.6), squeeze=False)
        for ax, (hw, phase) in zip(axes[0], keys):
            k = f"{hw}|{phase}"
            pts = []
            for r in ok:
                s = r["simulations"].get(k, {}).get("speedup")
                if s is None:
                    continue
                pts.append((s, r["perplexity"]))
                ax.scatter(s, r["perplexity"], marker=MARKERS.get(r["method"], "o"), s=36,
                           color=ALLOC_COLORS.get(r["allocation"], "#000000"), zorder=3)
                ax.annotate(f"{r['ratio']:g}", (s, r["perplexity"]), textcoords="offset points", xytext=(4, 3),
                            fontsize=7)
            if pts:
                fx, fy = zip(*pareto(pts))
                ax.plot(fx, fy, color="#999999", lw=1, ls="--", zorder=2, label="Pareto front")
            if dense is not None:
                ax.scatter(1.0, dense, marker="*", s=90, color="#000000", zorder=4, label="dense")
            ys = [y for _, y in pts] + ([dense] if dense is not None else [])
            log = bool(ys) and max(ys) > 3 * min(ys)  # a log axis only where perplexities span a wide range
            if log:
                ax.set_yscale("log")
                ax.yaxis.set_major_formatter(mticker.FormatStrFormatter("%g"))
                ax.yaxis.set_minor_formatter(mticker.NullFormatter())
            ax.set_xlabel(f"speedup over dense on {hw}, {phase} (x)")
            ax.set_ylabel("held-out perplexity" + (" (log scale)" if log else ""))
            ax.set_title(f"{Path(fr.spec.model).name}: {hw}, {phase}")
        handles = [plt.Line2D([], [], marker=MARKERS[m], ls="", color="#555555", label=m)
                   for m in dict.fromkeys(r["method"] for r in ok)]
        handles += [plt.Line2D([], [], marker="o", ls="", color=c, label=f"allocation {a}")
                    for a, c in ALLOC_COLORS.items() if any(r["allocation"] == a for r in ok)]
        handles += axes[0][0].get_legend_handles_labels()[0]
        axes[0][-1].legend(handles=handles, fontsize=7, loc="best")
        fig.text(0.01, 0.01, "labels: kept ratio", fontsize=7)
        prov = json.dumps({"spec": str(fr.source), "rows": [r.get("provenance") for r in rows][:1]}, sort_keys=True)
        return save(fig, out, "pareto", description=prov)
