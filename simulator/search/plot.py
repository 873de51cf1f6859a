"""The search's figure: every feasible trial and the Pareto set, one panel per pair of
objectives (one panel for two objectives, three for three, six for four)."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt

from simulator.plots.style import COLORS, label, save, styled
from simulator.search.spec import Search

Trial = tuple[int, Sequence[float]]  # trial number, objective values (natural units, spec order)


def _log(vals: list[float]) -> bool:
    """A log axis where positive values span more than 20x (as the sweep's Pareto plots do)."""
    return min(vals) > 0 and max(vals) > 20 * min(vals)


def pareto_figure(search: Search, trials: list[Trial], front: list[Trial], out: Path,
                  formats: tuple[str, ...]) -> list[Path]:
    """pareto.<fmt> in `out`: grey dots for every feasible trial, the Pareto set highlighted
    (its trial numbers written beside it when it holds at most 15 points)."""
    names = [o.name for o in search.objectives]
    pairs = list(itertools.combinations(range(len(names)), 2)) or [(0, 0)]
    with styled():
        fig, axes = plt.subplots(1, len(pairs), figsize=(3.8 * len(pairs), 3.4), squeeze=False)
        for ax, (i, j) in zip(axes[0], pairs):
            if i == j:  # one objective: its value against the trial number
                xs, fx = [float(n) for n, _ in trials], [float(n) for n, _ in front]
                ax.set_xlabel("trial")
            else:
                xs, fx = [v[i] for _, v in trials], [v[i] for _, v in front]
                ax.set_xlabel(label(names[i]))
                if _log(xs):
                    ax.set_xscale("log")
            ys, fy = [v[j] for _, v in trials], [v[j] for _, v in front]
            ax.scatter(xs, ys, s=8, color=COLORS["points"], label=f"trials ({len(trials)})", zorder=2)
            ax.scatter(fx, fy, s=22, color=COLORS["front"], label=f"Pareto set ({len(front)})", zorder=3)
            if len(front) <= 15:
                for (n, _), x, y in zip(front, fx, fy):
                    ax.annotate(str(n), (x, y), textcoords="offset points", xytext=(3, 3), fontsize=6)
            ax.set_ylabel(label(names[j]))
            if _log(ys):
                ax.set_yscale("log")
        axes[0][0].legend(loc="best")
        arrows = ", ".join(f"{o.name} {'higher' if o.maximise else 'lower'} is better" for o in search.objectives)
        fig.suptitle(f"{search.name}: {arrows}", fontsize=9)
        fig.tight_layout()
    return save(fig, out, "pareto", formats, description=f"search {search.name}, spec {search.source}")
