"""`sslcsim plot`: figures (PDF/SVG/PNG) and tables (Markdown/LaTeX) from a sweep database."""

from __future__ import annotations

import argparse
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "plot", help="plot a sweep database: heatmaps, per-axis curves, Pareto front, tables",
        description="Writes into --out: heatmap_<y>_vs_<x>.*, vs_<axis>.*, pareto_<cost>.* (PDF, SVG, PNG), "
                    "table.md / table.tex and rank_<metric>.md per --rank-by. Axes not shown on a figure are "
                    "reduced with --reduce. "
                    "See docs/sweeps.md.")
    p.add_argument("db", help="results database written by `sslcsim sweep`")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--spec", default=None,
                   help="only the points of this sweep spec (default: every row in the database)")
    p.add_argument("--heatmap", action="append", default=None, metavar="X,Y",
                   help="axes of a heatmap (repeatable; default: the first two independent axes)")
    p.add_argument("--metric", default="speedup", help="heatmap metric column (default speedup)")
    p.add_argument("--reduce", choices=["mean", "max", "min"], default="mean",
                   help="how axes not on a figure are reduced (default mean)")
    p.add_argument("--cost", default="area_proxy",
                   choices=["area_proxy", "macs", "buffer_kib", "energy_uj", "area_mm2", "pj_per_token", "edp"],
                   help="Pareto cost axis, lower is better (area proxy = MAC units + buffer KiB; energy_uj, "
                        "area_mm2, pj_per_token and edp need a hardware config with a technology section)")
    p.add_argument("--pareto-y", default="speedup", metavar="METRIC",
                   help="the Pareto plot's y axis (default speedup); a lower-is-better metric such as seconds "
                        "(time per step) is drawn as such: pareto_<cost>_<METRIC>.*")
    p.add_argument("--rank-by", action="append", default=[], metavar="METRIC",
                   help="also write rank_<METRIC>.md: the --top points best first by METRIC (repeatable; "
                        "lower is better for pj_per_token, edp, area_mm2, energy_uj, seconds ...; higher for "
                        "speedup, energy_gain, tokens_per_joule, effective_tops_per_w ...)")
    p.add_argument("--where", action="append", default=[], metavar="KEY=VALUE",
                   help="slice: keep rows whose axis/column KEY equals VALUE (repeatable); applies to all outputs")
    p.add_argument("--top", type=int, default=20,
                   help="rows of table.md (best speedup first) and of each --rank-by table (default 20)")
    p.add_argument("--formats", default="pdf,svg,png", help="figure formats (default pdf,svg,png)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import os

    from simulator.plots import sweep_plots as sp
    from simulator.plots.style import save
    from simulator.reports.files import atomic_write
    from workloads.errors import InputError

    if not os.path.isfile(args.db):
        raise InputError(f"{args.db}: results database not found")
    if args.top < 1:
        raise InputError(f"--top {args.top}: expected a positive number of rows")
    for metric in args.rank_by:
        sp.direction(metric)
    sp.direction(args.pareto_y, "--pareto-y")
    formats = tuple(f.strip() for f in args.formats.split(",") if f.strip())
    if not formats or set(formats) - {"pdf", "svg", "png"}:
        raise InputError(f"--formats {args.formats}: expected a comma list of pdf, svg, png")
    rows = _rows(args)
    axes = sp.axes_of(rows)
    if args.metric not in rows[0] or args.metric in ("params", "hardware", "workload"):
        raise InputError(f"--metric {args.metric}: not a numeric result column")
    # tables and the Pareto front first: a metric no row has is refused before any file is written
    md, tex = sp.table(rows, axes, args.top)
    tables = [("table.md", md), ("table.tex", tex)]
    tables += [(f"rank_{_slug(m)}.md", sp.rank_table(rows, axes, m, args.top)) for m in dict.fromkeys(args.rank_by)]
    pareto_fig, front = sp.pareto(rows, args.cost, args.pareto_y)
    written = []
    pairs = [h.split(",") for h in args.heatmap] if args.heatmap else (
        [[axes[0].keys[0], axes[1].keys[0]]] if len(axes) >= 2 else [])
    for pair in pairs:
        if len(pair) != 2:
            raise InputError(f"--heatmap {','.join(pair)}: expected X,Y")
        x, y = sp.find_axis(axes, pair[0].strip()), sp.find_axis(axes, pair[1].strip())
        fig = sp.heatmap(rows, x, y, axes, args.metric, args.reduce)
        written += save(fig, args.out, f"heatmap_{_slug(y.name)}_vs_{_slug(x.name)}", formats)
    for a in axes:
        written += save(sp.versus(rows, a, axes, args.reduce), args.out, f"vs_{_slug(a.name)}", formats)
    stem = f"pareto_{args.cost}" + ("" if args.pareto_y == "speedup" else f"_{_slug(args.pareto_y)}")
    written += save(pareto_fig, args.out, stem, formats)
    for name, text in tables:
        atomic_write(os.path.join(args.out, name), text)
        written.append(name)
    print(f"{len(rows)} points, axes: {', '.join(a.name for a in axes) or 'none varying'}; "
          f"{len(front)} on the Pareto front; wrote {len(written)} files to {args.out}", file=sys.stderr)
    return 0


def _rows(args: argparse.Namespace) -> list[dict]:
    """The finished rows of the database, of --spec's points when given, sliced by --where."""
    import yaml

    from simulator.plots import sweep_plots as sp
    from simulator.sweep.spec import load_spec
    from simulator.sweep.store import Store
    from workloads.errors import InputError

    store = Store(args.db)
    try:
        rows = store.rows()
    finally:
        store.close()
    if args.spec:
        sweep = load_spec(args.spec)
        params = {p.key: p.params for p in sweep.points}
        rows = [{**r, "params": params[r["point_hash"]]} for r in rows if r["point_hash"] in params]
    if not rows:
        raise InputError(f"{args.db}: no finished points" + (f" of {args.spec}" if args.spec else ""))
    where = {}
    for item in args.where:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InputError(f"--where {item!r}: expected KEY=VALUE")
        where[key] = yaml.safe_load(value)
    return sp.select(rows, where)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in name)
