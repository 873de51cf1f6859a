"""Figures and tables from a sweep database: heatmaps, per-axis curves, Pareto fronts, tables.

Rows come from `simulator.sweep.store.Store.rows()`; a row's `params` holds its swept axis
values. An axis whose values are a one-to-one function of an earlier axis (a zipped axis
such as an engine split `denser_engine.cols,sparser_engine.lines`) is drawn with it, as
one axis with ticks "a / b". Axes not on a figure are reduced (mean, max or min), and the
title says so.
"""

from __future__ import annotations

import math
import textwrap
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from simulator.plots.style import COLORS, CMAP, label, plt, styled
from workloads.errors import InputError

REDUCERS: dict[str, Callable[[list[float]], float]] = {
    "mean": lambda v: float(np.mean(v)),
    "max": lambda v: float(np.max(v)),
    "min": lambda v: float(np.min(v)),
}
COSTS = ("area_proxy", "macs", "buffer_kib", "energy_uj")
TABLE_COLUMNS = ("speedup", "mha_speedup", "ffn_speedup", "util_denser", "util_sparser",
                 "dram_bandwidth_utilization", "bound")


@dataclass(frozen=True)
class Axis:
    """A plotted axis: a primary key and the keys zipped with it."""

    keys: tuple[str, ...]

    @property
    def name(self) -> str:
        return "+".join(self.keys)

    @property
    def label(self) -> str:
        return textwrap.fill(" / ".join(label(k) for k in self.keys), 55)

    def value(self, row: dict) -> tuple:
        return tuple(row["params"].get(k) for k in self.keys)

    @staticmethod
    def tick(v: tuple) -> str:
        return " / ".join(_fmt(x) for x in v)


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return f"{x:g}"
    return str(x)


def _sort_key(v: tuple) -> tuple:
    return tuple((0, x, "") if isinstance(x, (int, float)) and not isinstance(x, bool) else (1, 0, str(x)) for x in v)


def axes_of(rows: list[dict]) -> list[Axis]:
    """The varying axes in first-seen order, each with the axes zipped to it."""
    keys: list[str] = []
    for r in rows:
        keys += [k for k in r["params"] if k not in keys]
    keys = [k for k in keys if len({_hashable(r["params"].get(k)) for r in rows}) > 1]
    groups: list[list[str]] = []
    for k in keys:
        for g in groups:
            a = g[0]
            pairs = {(_hashable(r["params"].get(a)), _hashable(r["params"].get(k))) for r in rows}
            if len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs}):
                g.append(k)  # one-to-one with g's primary: zipped
                break
        else:
            groups.append([k])
    return [Axis(tuple(g)) for g in groups]


def _hashable(v: Any) -> Any:
    return tuple(v) if isinstance(v, list) else v


def find_axis(axes: list[Axis], key: str) -> Axis:
    for a in axes:
        if key in a.keys or key == a.name:
            return a
    raise InputError(f"axis '{key}': not a varying axis of these results (have: {', '.join(a.name for a in axes)})")


def select(rows: list[dict], where: dict[str, Any]) -> list[dict]:
    """Rows whose axis value (or column) equals each `where` value."""
    out = rows
    for key, want in where.items():
        if not any(key in r["params"] or key in r for r in rows):
            raise InputError(f"--where {key}: not an axis or column of these results")
        out = [r for r in out if r["params"].get(key, r.get(key)) == want
               or _close(r["params"].get(key, r.get(key)), want)]
    if not out:
        raise InputError(f"--where {where}: no result matches")
    return out


def _close(a: Any, b: Any) -> bool:
    return isinstance(a, (int, float)) and isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-9)


def _reduce_over(rows: list[dict], by: list[Axis], metric: str, reduce: str) -> dict[tuple, float]:
    groups: dict[tuple, list[float]] = defaultdict(list)
    for r in rows:
        v = r.get(metric)
        if v is not None and not (isinstance(v, float) and math.isnan(v)):
            groups[tuple(a.value(r) for a in by)].append(float(v))
    return {k: REDUCERS[reduce](v) for k, v in groups.items()}


def _others(axes: list[Axis], shown: list[Axis], reduce: str) -> str:
    rest = [a.name for a in axes if a not in shown]
    return "\n" + textwrap.fill(f"({reduce} over {', '.join(rest)})", 80) if rest else ""


def _title(rows: list[dict]) -> str:
    r = rows[0]
    return f"{r['model']} {r['phase']} (batch {r['batch']}), {r['sweep']}"


def heatmap(rows: list[dict], x: Axis, y: Axis, axes: list[Axis], metric: str = "speedup",
            reduce: str = "mean") -> "plt.Figure":
    """`metric` over two axes, one annotated cell per pair."""
    vals = _reduce_over(rows, [x, y], metric, reduce)
    xs = sorted({k[0] for k in vals}, key=_sort_key)
    ys = sorted({k[1] for k in vals}, key=_sort_key)
    grid = np.full((len(ys), len(xs)), np.nan)
    for (xv, yv), v in vals.items():
        grid[ys.index(yv), xs.index(xv)] = v
    with styled():
        fig, ax = plt.subplots(figsize=(2.0 + 0.7 * max(len(xs), 5), 1.2 + 0.45 * max(len(ys), 4)),
                               layout="constrained")
        im = ax.imshow(grid, origin="lower", aspect="auto", cmap=CMAP)
        ax.grid(False)
        ax.set_xticks(range(len(xs)), [Axis.tick(v) for v in xs], rotation=30 if len(xs) > 6 else 0)
        ax.set_yticks(range(len(ys)), [Axis.tick(v) for v in ys])
        ax.set_xlabel(x.label)
        ax.set_ylabel(y.label)
        lo, hi = np.nanmin(grid), np.nanmax(grid)
        for i in range(len(ys)):
            for j in range(len(xs)):
                if not np.isnan(grid[i, j]):
                    dark = (grid[i, j] - lo) < 0.6 * (hi - lo) if hi > lo else True
                    ax.text(j, i, f"{grid[i, j]:.2f}", ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(label(metric))
        ax.set_title(f"{label(metric).split(' (')[0]}: {_title(rows)}{_others(axes, [x, y], reduce)}", fontsize=8)
    return fig


def versus(rows: list[dict], x: Axis, axes: list[Axis], reduce: str = "mean") -> "plt.Figure":
    """Speedup (model, MHA, FFN) and per-module engine utilization against one axis."""
    xs = sorted({x.value(r) for r in rows}, key=_sort_key)
    numeric = len(x.keys) == 1 and all(isinstance(v[0], (int, float)) for v in xs)
    pos = [v[0] for v in xs] if numeric else list(range(len(xs)))

    def series(metric: str) -> list[float]:
        vals = _reduce_over(rows, [x], metric, reduce)
        return [vals.get((v,), np.nan) for v in xs]

    with styled():
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(8.0, 3.4), layout="constrained")
        for metric, name, style in (("speedup", "model", "-o"), ("mha_speedup", "MHA", "--s"),
                                    ("ffn_speedup", "FFN", "--^")):
            a1.plot(pos, series(metric), style, color=COLORS[name], label=name)
        a1.axhline(1.0, color="grey", lw=0.8, ls=":")
        a1.set_ylabel("speedup over dense (x)")
        a1.set_title("speedup")
        for mod, ls in (("MHA", "-"), ("FFN", "--")):
            for eng, mk in (("denser", "o"), ("sparser", "s")):
                a2.plot(pos, [100 * v for v in series(f"{mod.lower()}_util_{eng}")], ls + mk,
                        color=COLORS[eng], label=f"{mod} {eng} engine")
        a2.set_ylabel("MAC utilization while busy (%)")
        a2.set_ylim(0, 119)  # headroom for the legend
        a2.set_title("engine utilization")
        for a in (a1, a2):
            a.set_xlabel(x.label)
            if not numeric:
                a.set_xticks(pos, [Axis.tick(v) for v in xs], rotation=30 if len(xs) > 5 else 0)
        a1.legend(frameon=False)
        a2.legend(frameon=False, loc="best", ncols=2)
        fig.suptitle(f"{_title(rows)}{_others(axes, [x], reduce)}", fontsize=8)
    return fig


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats (cost <= and speedup >=, one strictly), by cost."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def pareto(rows: list[dict], cost: str = "area_proxy") -> tuple["plt.Figure", list[dict]]:
    """Speedup against a cost (lower is better); the non-dominated points highlighted and labelled."""
    if cost not in COSTS:
        raise InputError(f"--cost {cost}: expected one of {', '.join(COSTS)}")
    use = [r for r in rows if r.get(cost) is not None and r.get("speedup") is not None]
    if not use:
        raise InputError(f"--cost {cost}: no result has it (energy_uj needs an 'energy' section in the hardware config)")
    pts = [(float(r[cost]), float(r["speedup"])) for r in use]
    front = pareto_front(pts)
    with styled():
        fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=10, color=COLORS["points"], alpha=0.6,
                   label=f"all points ({len(pts)})", linewidths=0)
        fx, fy = [pts[i][0] for i in front], [pts[i][1] for i in front]
        ax.step(fx, fy, where="post", color=COLORS["front"], lw=1.2)
        ax.scatter(fx, fy, s=22, color=COLORS["front"], zorder=3, label=f"Pareto front ({len(front)})")
        for i in front[:8]:
            text = ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for k, v in use[i]["params"].items())
            ax.annotate(text, pts[i], fontsize=6, xytext=(4, -8), textcoords="offset points")
        ax.set_xlabel(label(cost))
        ax.set_ylabel(label("speedup"))
        ax.legend(frameon=False, loc="lower right")
        ax.set_title(f"speedup vs {label(cost).split(' (')[0]}: {_title(rows)}", fontsize=9)
    return fig, [use[i] for i in front]


def table(rows: list[dict], axes: list[Axis], top: int | None = None) -> tuple[str, str]:
    """(Markdown, LaTeX) of the rows, best speedup first: axis values then the headline metrics."""
    keys = [k for a in axes for k in a.keys] or sorted({k for r in rows for k in r["params"]})
    rows = sorted(rows, key=lambda r: -(r.get("speedup") or 0.0))[:top]
    head = keys + list(TABLE_COLUMNS)

    def cell(r: dict, k: str) -> str:
        v = r["params"].get(k) if k in keys else r.get(k)
        if k in ("util_denser", "util_sparser", "dram_bandwidth_utilization") and v is not None:
            return f"{100 * v:.1f}%"
        if k.endswith("speedup") and v is not None:
            return f"{v:.3f}"
        return _fmt(v)

    names = {**{k: k.replace("_engine", "").replace(".", " ").replace("_", " ") for k in keys}, "speedup": "speedup", "mha_speedup": "MHA speedup",
             "ffn_speedup": "FFN speedup", "util_denser": "util. denser", "util_sparser": "util. sparser",
             "dram_bandwidth_utilization": "DRAM BW util.", "bound": "bound"}
    body = [[cell(r, k) for k in head] for r in rows]
    md = ["| " + " | ".join(names[k] for k in head) + " |", "|" + "|".join("---:" for _ in head) + "|"]
    md += ["| " + " | ".join(c) + " |" for c in body]

    def tex(s: str) -> str:
        return s.replace("\\", "\\textbackslash{}").replace("_", "\\_").replace("%", "\\%").replace("&", "\\&")

    lines = ["\\begin{tabular}{" + "r" * len(head) + "}", "\\toprule",
             " & ".join(tex(names[k]) for k in head) + " \\\\", "\\midrule"]
    lines += [" & ".join(tex(c) for c in cells) + " \\\\" for cells in body]
    lines += ["\\bottomrule", "\\end{tabular}"]
    caption = f"{_title(rows)}; speedup = dense cycles / SSLC cycles on the same hardware."
    return "\n".join(md) + f"\n\n{caption}\n", f"% {caption}\n% needs \\usepackage{{booktabs}}\n" + "\n".join(lines) + "\n"
