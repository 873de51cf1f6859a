"""Figures of one simulation report (the default job): cycle breakdown, engine utilization,
DRAM traffic, per module and phase. Each `*_figure` builds the figure (the tests look at its
artists); the function of the same name without the suffix saves it. Legends sit outside the
axes, right of them, so no bar is ever hidden whatever the data's heights."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from simulator.plots.style import COLORS, save, styled

MODULES = ("MHA", "FFN")


def _provenance(reports: dict[str, dict]) -> str | None:
    """The reports' provenance blocks as JSON, for the figure's metadata (None when absent)."""
    prov = {phase: r["provenance"] for phase, r in reports.items() if "provenance" in r}
    return json.dumps(prov, sort_keys=True) if prov else None


def _bars(ax, groups: list[str], series: dict[str, list[float]], colors: dict[str, str]) -> None:
    x = np.arange(len(groups))
    width = 0.8 / len(series)
    for i, (name, values) in enumerate(series.items()):
        ax.bar(x + (i - (len(series) - 1) / 2) * width, values, width, label=name, color=colors.get(name))
    ax.set_xticks(x, groups)


def _legend_outside(ax) -> None:
    """The legend right of the axes, its top level with theirs (savefig's tight bbox widens the
    figure to hold it): inside, it covered the tallest bars of the cycle breakdown."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)


def cycle_breakdown_figure(reports: dict[str, dict]) -> plt.Figure:
    """Per module and phase: dense baseline, sparse part, low-rank part and the overlapped total (cycles per layer)."""
    groups = [f"{mod}\n{phase}" for phase in reports for mod in MODULES]
    pick = lambda key: [reports[p]["modules"][m]["per_layer"][key] for p in reports for m in MODULES]  # noqa: E731
    with styled():
        fig, ax = plt.subplots(figsize=(6.4, 3.4))
        _bars(ax, groups, {"dense baseline": pick("dense_cycles"), "sparse part (busy)": pick("sparse_cycles"),
                           "low-rank part (busy)": pick("lowrank_cycles"), "compressed total": pick("total_cycles")},
              {"dense baseline": "#999999", "sparse part (busy)": COLORS["sparser"],
               "low-rank part (busy)": COLORS["denser"], "compressed total": COLORS["model"]})
        ax.set_yscale("log")
        ax.set_ylabel("cycles per layer (log scale)")
        ax.set_title("Cycle breakdown per module: dense vs sparse vs low-rank")
        _legend_outside(ax)
    return fig


def cycle_breakdown(reports: dict[str, dict], out: Path) -> list[Path]:
    """`cycle_breakdown_figure`, saved as out/cycle_breakdown.{pdf,svg,png}."""
    return save(cycle_breakdown_figure(reports), out, "cycle_breakdown", description=_provenance(reports))


def utilization_figure(reports: dict[str, dict]) -> plt.Figure:
    """Per module and phase: utilization of each engine while it computes (useful MACs / MAC-cycles)."""
    groups = [f"{mod}\n{phase}" for phase in reports for mod in MODULES]
    pick = lambda eng: [100 * reports[p]["modules"][m]["utilization"][eng] for p in reports for m in MODULES]  # noqa: E731
    with styled():
        fig, ax = plt.subplots(figsize=(6.4, 3.2))
        _bars(ax, groups, {"denser engine": pick("denser"), "sparser engine": pick("sparser")},
              {"denser engine": COLORS["denser"], "sparser engine": COLORS["sparser"]})
        ax.set_ylabel("utilization while busy (%)")
        ax.set_ylim(0, 100)
        ax.set_title("Engine utilization per module")
        _legend_outside(ax)
    return fig


def utilization(reports: dict[str, dict], out: Path) -> list[Path]:
    """`utilization_figure`, saved as out/engine_utilization.{pdf,svg,png}."""
    return save(utilization_figure(reports), out, "engine_utilization", description=_provenance(reports))


def dram_traffic_figure(reports: dict[str, dict]) -> plt.Figure:
    """Per module, one panel per phase (own scale): bytes over the DRAM channel per step, dense
    baseline vs compressed (MB, all layers); the legend right of the last panel."""
    with styled():
        fig, axes = plt.subplots(1, len(reports), figsize=(3.4 * len(reports), 3.2), squeeze=False)
        for ax, (phase, rep) in zip(axes[0], reports.items()):
            pick = lambda key: [rep["modules"][m][key] / 1e6 for m in MODULES]  # noqa: E731
            _bars(ax, list(MODULES), {"dense baseline": pick("dense_dram_bytes"), "compressed": pick("dram_bytes")},
                  {"dense baseline": "#999999", "compressed": COLORS["model"]})
            ax.set_title(f"{phase} ({rep['tokens']} token(s) per step)")
            ax.set_ylabel("DRAM traffic per step (MB, all layers)")
        _legend_outside(axes[0][-1])
        fig.suptitle("DRAM traffic per module", y=1.04)
    return fig


def dram_traffic(reports: dict[str, dict], out: Path) -> list[Path]:
    """`dram_traffic_figure`, saved as out/dram_traffic.{pdf,svg,png}."""
    return save(dram_traffic_figure(reports), out, "dram_traffic", description=_provenance(reports))


def energy_breakdown_figure(reports: dict[str, dict]) -> plt.Figure:
    """Per phase, dense beside compressed: energy per token (uJ) stacked by component
    (report["energy"], simulator/energy/account.py). Phases whose config has no technology
    are left out."""
    cases = [(phase, which) for phase, r in reports.items() if "energy" in r for which in ("dense", "compressed")]
    if not cases:
        raise ValueError("energy breakdown: no report has an energy section (the config names no technology)")
    comps = reports[cases[0][0]]["energy"]["components"]
    cmap = plt.get_cmap("tab10")
    with styled():
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(cases), 3.4))
        x = np.arange(len(cases))
        bottom = np.zeros(len(cases))
        for i, comp in enumerate(comps):
            vals = []
            for phase, which in cases:
                e = reports[phase]["energy"][which]
                tokens = e["energy_pj"]["total"] / e["pj_per_token"] if e["pj_per_token"] else 1.0
                vals.append(e["energy_pj"][comp] / tokens / 1e6)
            ax.bar(x, vals, 0.7, bottom=bottom, label=comp.replace("_", " "), color=cmap(i % 10))
            bottom += np.asarray(vals)
        ax.set_xticks(x, [f"{phase}\n{'SSLC' if which == 'compressed' else 'dense'}" for phase, which in cases])
        ax.set_ylabel("energy per token (uJ)")
        ax.set_title("Energy per token by component")
        _legend_outside(ax)
    return fig


def energy_breakdown(reports: dict[str, dict], out: Path) -> list[Path]:
    """energy_breakdown_figure saved as PNG, PDF and SVG in `out`."""
    return save(energy_breakdown_figure(reports), out, "energy_breakdown", description=_provenance(reports))
