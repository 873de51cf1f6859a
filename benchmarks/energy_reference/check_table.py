"""Check the SRAM table against CACTI itself, and measure the interpolation error.

Run from the repository root with the project's Python:

    # re-run CACTI on a seeded sample of grid points (or --all) and compare exactly
    .venv/bin/python benchmarks/energy_reference/check_table.py --cacti /tmp/cacti_work/build/cacti
    # interpolation error of simulator.energy.sram at the held-out points (no CACTI needed)
    .venv/bin/python benchmarks/energy_reference/check_table.py --heldout

Exactness means: the CACTI run gives the same status, and each value in our units, converted
from CACTI's printed text in decimal, is the same text as the table's and the same float as
`sram_cost` returns at that grid point.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import multiprocessing
import os
import random
import sys

import numpy as np

from cacti_runner import OUT_COLUMNS, Point, run_point
from make_sram_table import HELDOUT, TABLE, TEMPLATE
from simulator.energy.sram import QUANTITIES, sram_cost
from workloads.errors import InputError


def read_rows(path: str) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The '#' header as key: value, and the CSV rows."""
    with open(path) as f:
        lines = f.read().splitlines()
    meta = dict(ln[2:].split(": ", 1) for ln in lines if ln.startswith("# ") and ": " in ln)
    return meta, list(csv.DictReader(ln for ln in lines if not ln.startswith("#")))


def point_of(row: dict[str, str]) -> Point:
    """The CACTI point a table row describes."""
    return Point(row["cell"], int(row["node_nm"]), int(row["capacity_bytes"]),
                 int(row["width_bits"]), int(row["banks"]))


def _compare(args: tuple[str, str, dict[str, str]]) -> str | None:
    """None when CACTI reproduces the row exactly, else what differs."""
    cacti_bin, tmpl, row = args
    p = point_of(row)
    fresh = run_point(cacti_bin, tmpl, p)
    if fresh["status"] != row["status"]:
        return f"{p}: status {row['status']} in the table, {fresh['status']} now"
    if fresh["status"] != "ok":
        return None
    diffs = [c for c in OUT_COLUMNS if fresh[c] != row[c]]
    cost = sram_cost(p.capacity_bytes / 1024, p.width_bits, p.banks, p.node_nm, p.cell)
    diffs += [q for q in QUANTITIES if getattr(cost, q) != float(fresh[q])]
    return f"{p}: differs in {', '.join(diffs)}" if diffs else None


def check_exact(cacti_bin: str, sample: int | None, seed: int, jobs: int) -> int:
    """Re-run CACTI on `sample` seeded grid rows (all when None); print N of N equal."""
    meta, rows = read_rows(TABLE)
    with open(TEMPLATE) as f:
        tmpl = f.read()
    sha = hashlib.sha256(tmpl.encode()).hexdigest()
    assert meta["config"].endswith(sha), "sram_cacti_template.cfg is not the table's config"
    chosen = rows if sample is None else random.Random(seed).sample(rows, min(sample, len(rows)))
    with multiprocessing.Pool(jobs) as pool:
        problems = [m for m in pool.imap(_compare, [(cacti_bin, tmpl, r) for r in chosen],
                                         chunksize=4) if m]
    for m in problems:
        print(m)
    refused = sum(r["status"] != "ok" for r in chosen)
    print(f"{len(chosen) - len(problems)} of {len(chosen)} grid points equal "
          f"({refused} of them refused by CACTI in the table and now)")
    return 0 if not problems else 1


def _kind(p: Point, grid_caps: set[int], grid_widths: set[int]) -> str:
    """Which of a held-out point's coordinates lie off the grid."""
    off = [name for name, off in (("capacity", p.capacity_bytes not in grid_caps),
                                  ("width", p.width_bits not in grid_widths)) if off]
    return " and ".join(off) + " off-grid"


def heldout_errors() -> dict[tuple[str, str], dict[str, list[float]]]:
    """Relative error (interpolated / CACTI - 1) per (cell, kind of point) and quantity, at
    every held-out point CACTI answers and the table can interpolate."""
    _, grid_rows = read_rows(TABLE)
    caps = {int(r["capacity_bytes"]) for r in grid_rows}
    widths = {int(r["width_bits"]) for r in grid_rows}
    _, rows = read_rows(HELDOUT)
    errs: dict[tuple[str, str], dict[str, list[float]]] = {}
    for r in rows:
        if r["status"] != "ok":
            continue
        p = point_of(r)
        try:
            cost = sram_cost(p.capacity_bytes / 1024, p.width_bits, p.banks, p.node_nm, p.cell)
        except InputError:  # a neighbouring grid point CACTI refused
            continue
        for key in ((p.cell, _kind(p, caps, widths)), (p.cell, "all"), ("both cells", "all")):
            per_q = errs.setdefault(key, {q: [] for q in QUANTITIES})
            for q in QUANTITIES:
                per_q[q].append(getattr(cost, q) / float(r[q]) - 1.0)
    return errs


def print_heldout() -> None:
    """Markdown table: median and max |relative error| per cell, kind of point and quantity."""
    _, rows = read_rows(HELDOUT)
    errs = heldout_errors()
    print(f"held-out points: {len(rows)}, {sum(r['status'] != 'ok' for r in rows)} refused by "
          f"CACTI, {len(errs[('both cells', 'all')]['read_pj'])} interpolated")
    columns = " | ".join(f"{q} median / max" for q in QUANTITIES)
    print(f"| cell | held-out points | n | {columns} |")
    print("|---|---|---|" + "---|" * len(QUANTITIES))
    for (cell, kind), per_q in sorted(errs.items()):
        cells = [f"{np.median(np.abs(e)):.1%} / {np.max(np.abs(e)):.1%}" for e in per_q.values()]
        print(f"| {cell} | {kind} | {len(per_q['read_pj'])} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cacti", help="the built cacti binary (for the exact check)")
    ap.add_argument("--sample", type=int, default=400)
    ap.add_argument("--all", action="store_true", help="every grid point, not a sample")
    ap.add_argument("--seed", type=int, default=20)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--heldout", action="store_true", help="print the interpolation error")
    args = ap.parse_args(argv)
    if not args.cacti and not args.heldout:
        ap.error("give --cacti BIN, --heldout, or both")
    rc = 0
    if args.cacti:
        rc = check_exact(args.cacti, None if args.all else args.sample, args.seed, args.jobs)
    if args.heldout:
        print_heldout()
    return rc


if __name__ == "__main__":
    sys.exit(main())
