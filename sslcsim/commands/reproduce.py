"""`sslcsim reproduce table4`: the SSLC paper's Table 4 beside our cycles."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

DEFAULT_HW = Path(__file__).resolve().parents[2] / "hwconfigs" / "sslc-table4.yaml"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("reproduce", help="reproduce a paper result (table4)")
    p.add_argument("what", choices=["table4"], help="which result")
    p.add_argument("--hw", default=str(DEFAULT_HW), help="hardware YAML (default: hwconfigs/sslc-table4.yaml)")
    p.add_argument("--ratio", type=float, default=0.5, help="kept fraction (default 0.5)")
    p.add_argument("--rank", type=int, default=128, help="rank r (default 128)")
    p.add_argument("--preserve", type=float, default=0.01, help="preserved fraction (default 0.01)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT", help="write the rows as JSON")
    p.set_defaults(func=main)


def render(rows: list[dict]) -> str:
    from rich.console import Console
    from rich.table import Table

    from simulator.table4 import matching_reading

    table = Table(title="SSLC Table 4: cycles per layer, one token, 4096 MACs, compute only (ours / paper)")
    for col in ("model", "module", "S density reading", "generator", "dense", "sparse", "low-rank", "sum",
                "speedup", "sparse err", "sum err"):
        table.add_column(col, justify="right")
    for r in rows:
        p = r["paper"]
        table.add_row(r["model"], r["module"], r["reading"], r["generator"],
                      f"{r['dense']:.0f} / {p['dense']}", f"{r['sparse']:.1f} / {p['sparse']}",
                      f"{r['lowrank']:.0f} / {p['lowrank']}", f"{r['sum']:.1f} / {p['sum']}",
                      f"{r['speedup']:.2f}x / {p['speedup']}x", f"{r['error_pct']['sparse']:+.1f}%",
                      f"{r['error_pct']['sum']:+.1f}%")
    console = Console(file=io.StringIO(), width=170)
    console.print(table)
    match = matching_reading(rows)
    for reading, ok in match.items():
        what = ("S density = ratio" if reading == "ratio"
                else "S density = ratio - r(m+n)/(mn), the paper's Section 4.2.3 accounting")
        console.print(f"reading '{reading}' ({what}): sparse and sum {'within' if ok else 'NOT within'} 5% "
                      f"of the paper for every model, module and generator")
    return console.file.getvalue()


def main(args: argparse.Namespace) -> int:
    # imported here so that other commands and --help start without numba and pydantic
    from simulator.config import load_hw
    from simulator.files import atomic_write, check_output_path
    from simulator.table4 import reproduce_table4

    if args.json:
        check_output_path(args.json)  # before any work
    hw = load_hw(args.hw)
    rows = reproduce_table4(hw, args.ratio, args.rank, args.preserve, args.seed)
    print(render(rows), end="")
    if args.json:
        atomic_write(args.json, json.dumps(rows, indent=1))
    return 0
