"""`sslcsim frontier SPEC.yaml --out DIR`: compress a model with each method x allocation x ratio,
evaluate perplexity, simulate every artifact, and write the table and the Pareto plot."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("frontier", help="perplexity against simulated speedup over methods, allocations and ratios",
                       description="Resumable: finished points live in DIR/frontier.db, artifacts in "
                                   "DIR/artifacts/; a rerun skips them. See docs/compression.md.")
    p.add_argument("spec", help="frontier spec YAML (examples/frontier-smollm2.yaml)")
    p.add_argument("--out", required=True, help="output directory: frontier.db, frontier.md/.csv, pareto.{png,pdf,svg}")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    from simulator.reports.files import check_output_path
    from sslcsim.frontier.run import run_frontier
    from sslcsim.frontier.spec import load_frontier
    from workloads.errors import InputError

    fr = load_frontier(args.spec)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out}: not a directory")
    for name in ("frontier.md", "frontier.csv"):
        if (out / name).exists():
            check_output_path(out / name)
    res = run_frontier(fr, out, args.argv, progress=not args.no_progress)
    print(f"{fr.spec.name}: {res['points']} points, {res['skipped']} already done, {res['ran']} run -> "
          f"{out / 'frontier.md'}, {out / 'pareto.png'}")
    return 0
