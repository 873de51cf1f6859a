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
COSTS = ("area_proxy", "macs", "buffer_kib", "energy_uj", "area_mm2", "pj_per_token", "edp")
TABLE_COLUMNS = ("speedup", "mha_speedup", "ffn_speedup", "util_denser", "util_sparser",
                 "dram_bandwidth_utilization", "bound")
ENERGY_TABLE_COLUMNS = ("pj_per_token", "energy_gain")  # added to table.md where the rows have them
# Metrics a table can be ranked by, and which way is better.
LOWER_BETTER = ("pj_per_token", "dense_pj_per_token", "edp", "energy_uj", "area_mm2", "area_proxy", "macs",
                "buffer_kib", "seconds", "total_cycles", "dram_bytes", "peak_buffer_bytes")
HIGHER_BETTER = ("speedup", "mha_speedup", "ffn_speedup", "energy_gain", "tokens_per_joule", "effective_tops_per_w",
                 "tokens_per_s_per_mm2", "util_denser", "util_sparser")
RANK_METRICS = (*LOWER_BETTER, *HIGHER_BETTER)
RANK_CONTEXT = ("speedup", "seconds", "pj_per_token", "energy_gain", "edp", "area_mm2", "tokens_per_joule")


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
                    ax.text(j, i, _cell_text(grid[i, j]), ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
        cb = fig.colorbar(im, ax=ax)
        cb.set_label(label(metric))
        ax.set_title(f"{label(metric).split(' (')[0]}: {_title(rows)}{_others(axes, [x, y], reduce)}", fontsize=8)
    return fig


def _cell_text(v: float) -> str:
    """A heatmap value: two decimals, or four significant digits for large ones (pJ, bytes)."""
    return f"{v:.2f}" if abs(v) < 1000 else f"{v:.4g}"


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


def pareto(rows: list[dict], cost: str = "area_proxy", y: str = "speedup") -> tuple["plt.Figure", list[dict]]:
    """`y` (default speedup; better as `direction` says) against a cost (lower is better); the
    non-dominated points highlighted and labelled."""
    if cost not in COSTS:
        raise InputError(f"--cost {cost}: expected one of {', '.join(COSTS)}")
    sign = 1.0 if direction(y, "--pareto-y") == "higher" else -1.0  # the front maximises sign * y
    use = [r for r in rows if r.get(cost) is not None and r.get(y) is not None]
    if not use:
        missing = f"--pareto-y {y}" if any(r.get(cost) is not None for r in rows) else f"--cost {cost}"
        raise InputError(f"{missing}: no result has it (energy and area need a 'technology' section "
                         "in the hardware config)")
    pts = [(float(r[cost]), sign * float(r[y])) for r in use]
    front = pareto_front(pts)
    with styled():
        fig, ax = plt.subplots(figsize=(6.0, 3.8), layout="constrained")
        ax.scatter([p[0] for p in pts], [sign * p[1] for p in pts], s=10, color=COLORS["points"], alpha=0.6,
                   label=f"all points ({len(pts)})", linewidths=0)
        fx, fy = [pts[i][0] for i in front], [sign * pts[i][1] for i in front]
        ax.step(fx, fy, where="post", color=COLORS["front"], lw=1.2)
        ax.scatter(fx, fy, s=22, color=COLORS["front"], zorder=3, label=f"Pareto front ({len(front)})")
        for i in front[:8]:
            text = ", ".join(f"{k.rsplit('.', 1)[-1]}={_fmt(v)}" for k, v in use[i]["params"].items())
            ax.annotate(text, (pts[i][0], sign * pts[i][1]), fontsize=6, xytext=(4, -8 * sign),
                        textcoords="offset points")
        xs = [p[0] for p in pts]
        if min(xs) > 0 and max(xs) > 20 * min(xs):
            ax.set_xscale("log")  # costs spanning decades (energy, EDP) would crowd one end of a linear axis
        ax.set_xlabel(label(cost))
        ax.set_ylabel(label(y) + ("" if sign > 0 else ", lower is better"))
        ax.legend(frameon=False, loc="lower right" if sign > 0 else "upper right")
        ax.set_title(f"{label(y).split(' (')[0]} vs {label(cost).split(' (')[0]}: {_title(rows)}", fontsize=9)
    return fig, [use[i] for i in front]


def table(rows: list[dict], axes: list[Axis], top: int | None = None) -> tuple[str, str]:
    """(Markdown, LaTeX) of the rows, best speedup first: axis values then the headline metrics."""
    keys = _axis_keys(rows, axes)
    rows = sorted(rows, key=lambda r: -(r.get("speedup") or 0.0))[:top]
    head = keys + list(TABLE_COLUMNS) + [k for k in ENERGY_TABLE_COLUMNS if any(r.get(k) is not None for r in rows)]
    names = _column_names(keys)
    body = [[_cell(r, k, keys) for k in head] for r in rows]
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


def _axis_keys(rows: list[dict], axes: list[Axis]) -> list[str]:
    return [k for a in axes for k in a.keys] or sorted({k for r in rows for k in r["params"]})


def _column_names(keys: list[str]) -> dict[str, str]:
    """Short table headers (units in the caption's terms) for axis keys and result columns."""
    return {**{k: k.replace("_engine", "").replace(".", " ").replace("_", " ") for k in keys},
            "speedup": "speedup", "mha_speedup": "MHA speedup", "ffn_speedup": "FFN speedup",
            "util_denser": "util. denser", "util_sparser": "util. sparser", "dram_bandwidth_utilization": "DRAM BW util.",
            "bound": "bound", "seconds": "s/step", "pj_per_token": "pJ/token", "dense_pj_per_token": "dense pJ/token",
            "energy_gain": "energy gain", "edp": "EDP (pJ·s)", "area_mm2": "area (mm²)",
            "tokens_per_joule": "tokens/J", "effective_tops_per_w": "TOPS/W", "tokens_per_s_per_mm2": "tokens/s/mm²",
            "energy_uj": "uJ/step", "area_proxy": "area proxy", "macs": "MACs", "buffer_kib": "buffer KiB",
            "total_cycles": "cycles", "dram_bytes": "DRAM bytes", "peak_buffer_bytes": "peak buffer bytes"}


def _cell(r: dict, k: str, keys: list[str]) -> str:
    v = r["params"].get(k) if k in keys else r.get(k)
    if v is None:
        return "-"
    if k in ("util_denser", "util_sparser", "dram_bandwidth_utilization"):
        return f"{100 * v:.1f}%"
    if k.endswith("speedup") or k == "energy_gain":
        return f"{v:.3f}"
    if isinstance(v, float) and k not in keys:
        return f"{v:.4g}"
    return _fmt(v)


def direction(metric: str, flag: str = "--rank-by") -> str:
    """'lower' or 'higher': which way `metric` is better (InputError naming `flag` for a metric
    that has no direction)."""
    if metric in LOWER_BETTER:
        return "lower"
    if metric in HIGHER_BETTER:
        return "higher"
    raise InputError(f"{flag} {metric}: expected one of {', '.join(RANK_METRICS)}")


def rank_table(rows: list[dict], axes: list[Axis], metric: str, top: int | None = None) -> str:
    """Markdown: the rows best first by `metric` (lower or higher better, as `direction` says),
    ties in point order; rows without the metric (a config with no technology) are left out
    and counted. Columns: rank, axis values, the metric, then the headline metrics."""
    way = direction(metric)
    have = [r for r in rows if r.get(metric) is not None and not (isinstance(r[metric], float) and math.isnan(r[metric]))]
    if not have:
        raise InputError(f"--rank-by {metric}: no result has it (energy and area need a 'technology' section "
                         "in the hardware config)")
    sign = 1.0 if way == "lower" else -1.0
    ranked = sorted(have, key=lambda r: sign * float(r[metric]))[:top]
    keys = _axis_keys(rows, axes)
    context = [k for k in RANK_CONTEXT if k != metric and any(r.get(k) is not None for r in ranked)]
    head = keys + [metric] + context
    names = _column_names(keys)
    md = [f"# {_title(rows)}: ranked by {metric} ({way} is better)", "",
          "| # | " + " | ".join(f"**{names[k]}**" if k == metric else names[k] for k in head) + " |",
          "|" + "|".join("---:" for _ in range(len(head) + 1)) + "|"]
    md += [f"| {i} | " + " | ".join(_cell(r, k, keys) for k in head) + " |" for i, r in enumerate(ranked, 1)]
    left = len(rows) - len(have)
    md += ["", f"{metric}: {label(metric)}; {way} is better. {len(ranked)} of {len(have)} points shown"
           + (f"; {left} without {metric} left out" if left else "") + ". Speedup = dense cycles / SSLC cycles on "
           "the same hardware; s/step = compressed time per simulated step; pJ/token and EDP (pJ/token x s/token) "
           "of the compressed model; energy gain = dense energy / compressed energy."]
    return "\n".join(md) + "\n"
