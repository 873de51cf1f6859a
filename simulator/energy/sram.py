"""SRAM cost per access, leakage and area, looked up in the CACTI 7 table.

The table (data/sram_cacti.csv) holds CACTI 7's own output over a grid of cell type, node,
banks, port width and capacity; it is generated offline by
benchmarks/energy_reference/make_sram_table.py, and the simulator never runs CACTI.  Nodes are
CACTI's own (22, 32, 45, 65, 90 nm); no scaling across nodes happens here.
"""

from __future__ import annotations

import csv
import functools
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from workloads.errors import InputError

TABLE_PATH = Path(__file__).parent / "data" / "sram_cacti.csv"
QUANTITIES = ("read_pj", "write_pj", "leakage_mw", "area_mm2", "access_ns")
DEFAULT_CELL = "itrs-lstp"  # the cell Accelergy's CACTI plug-in (hwcomponents-cacti) uses


@dataclass(frozen=True)
class SramCost:
    """One SRAM's costs: energy per read / write access of one port width (pJ), standby
    leakage of the whole array (mW), area of the whole array (mm^2), access time (ns), and
    where the numbers come from."""

    read_pj: float
    write_pj: float
    leakage_mw: float
    area_mm2: float
    access_ns: float
    source: str


@dataclass(frozen=True)
class _Grid:
    """CACTI's results at one (cell, node, banks): capacity x width, NaN where CACTI refused."""

    capacities: np.ndarray  # bytes, ascending
    widths: np.ndarray  # bits, ascending
    values: np.ndarray  # [quantity, capacity, width]
    reasons: dict[tuple[int, int], str]  # CACTI's message at each refused point


@dataclass(frozen=True)
class _Table:
    grids: dict[tuple[str, float, int], _Grid]
    source: str


@functools.lru_cache(maxsize=4)
def load_table(path: Path = TABLE_PATH) -> _Table:
    """Read the CACTI table: '#' provenance lines, then one CSV row per grid point."""
    with open(path) as f:
        lines = f.read().splitlines()
    meta = dict(ln[2:].split(": ", 1) for ln in lines if ln.startswith("# ") and ": " in ln)
    rows = list(csv.DictReader(ln for ln in lines if not ln.startswith("#")))
    by_key: dict[tuple[str, float, int], list[dict[str, str]]] = {}
    for r in rows:
        by_key.setdefault((r["cell"], float(r["node_nm"]), int(r["banks"])), []).append(r)
    source = f"CACTI {meta['cacti_version']} ({meta['cacti_source'].split(',')[0]})"
    return _Table({k: _grid(v) for k, v in by_key.items()}, source)


def _grid(rows: list[dict[str, str]]) -> _Grid:
    caps = np.array(sorted({int(r["capacity_bytes"]) for r in rows}))
    widths = np.array(sorted({int(r["width_bits"]) for r in rows}))
    values = np.full((len(QUANTITIES), len(caps), len(widths)), np.nan)
    reasons = {}
    for r in rows:
        i = int(np.searchsorted(caps, int(r["capacity_bytes"])))
        j = int(np.searchsorted(widths, int(r["width_bits"])))
        if r["status"] == "ok":
            values[:, i, j] = [float(r[q]) for q in QUANTITIES]
        else:
            reasons[(i, j)] = r["reason"]
    assert values.size == len(QUANTITIES) * len(rows), "SRAM table: grid is not complete"
    return _Grid(caps, widths, values, reasons)


def _bracket(axis: np.ndarray, x: float) -> tuple[tuple[int, float], ...]:
    """Indices of `axis` around x with their weights, linear in log2: one index with weight 1
    when x is a grid value, else (i, 1 - t), (i + 1, t) with
    t = log2(x / a[i]) / log2(a[i+1] / a[i])."""
    i = int(np.searchsorted(axis, x))
    if i < len(axis) and axis[i] == x:
        return ((i, 1.0),)
    lo, hi = float(axis[i - 1]), float(axis[i])
    t = math.log2(x / lo) / math.log2(hi / lo)
    return ((i - 1, 1.0 - t), (i, t))


def sram_cost(kib: float, width_bits: int, banks: int, node_nm: float,
              cell: str = DEFAULT_CELL) -> SramCost:
    """Costs of an SRAM of `kib` KiB (1024 bytes), one read-write port of `width_bits` bits,
    `banks` banks, at CACTI node `node_nm` with cell/peripheral type `cell`.

    At a grid point of the table: CACTI's own numbers, exactly (read_pj, write_pj per access
    of width_bits; leakage_mw = CACTI's standby leakage per bank x banks; area_mm2;
    access_ns).  Between grid points, at the same cell, node and banks: bilinear in
    (log2 capacity, log2 width) on the logarithm of each quantity, i.e. a power law
    q = q0 * (C/C0)^a * (W/W0)^b fitted through the two (or four) neighbouring grid points;
    a dimension that sits on a grid value uses that value alone.  Cell, node and banks are
    never interpolated: they must be in the table.  Raises InputError (one line) outside the
    table's range, or when a neighbouring grid point is one CACTI finds no organization for.
    """
    table = load_table()
    grid = _checked_grid(table, cell, node_nm, banks)
    what = f"SRAM {_text(kib)} KiB x {_text(width_bits)} bits, {banks} banks, {node_nm:g} nm {cell}"
    cap_w = _checked_axis(grid.capacities / 1024, kib, "capacity", "KiB", what)
    width_w = _checked_axis(grid.widths, width_bits, "width", "bits", what)
    corners = [(i, j, wi * wj) for i, wi in cap_w for j, wj in width_w if wi * wj > 0]
    for i, j, _ in corners:
        if (i, j) in grid.reasons:
            raise InputError(
                f"{what}: CACTI finds no organization at grid point "
                f"{grid.capacities[i] / 1024:g} KiB x {grid.widths[j]} bits "
                f"({grid.reasons[(i, j)]}); a larger capacity, narrower port or fewer banks "
                "gives each bank the 32 rows CACTI needs")
    if len(corners) == 1:
        i, j, _ = corners[0]
        values = grid.values[:, i, j]
        how = f"grid point {grid.capacities[i] / 1024:g} KiB x {grid.widths[j]} b"
    else:
        logs = sum(w * np.log(grid.values[:, i, j]) for i, j, w in corners)
        values = np.exp(logs)
        how = "log-log interpolation between " + ", ".join(
            f"{grid.capacities[i] / 1024:g} KiB x {grid.widths[j]} b" for i, j, _ in corners)
    return SramCost(*(float(v) for v in values), source=f"{table.source}, {cell} "
                    f"{node_nm:g} nm, {banks} banks: {how}")


def _checked_grid(table: _Table, cell: str, node_nm: float, banks: int) -> _Grid:
    """The grid at (cell, node, banks), or InputError naming the value and what the table has."""
    cells = sorted({c for c, _, _ in table.grids})
    if cell not in cells:
        raise InputError(f"SRAM cell type {cell!r}: the CACTI table has {', '.join(cells)}")
    nodes = sorted({n for c, n, _ in table.grids if c == cell})
    if not _is_number(node_nm) or float(node_nm) not in nodes:
        raise InputError(f"SRAM node {node_nm!r} nm: CACTI's own nodes only: "
                         f"{', '.join(f'{n:g}' for n in nodes)} nm")
    all_banks = sorted({b for c, n, b in table.grids if c == cell and n == float(node_nm)})
    if not _is_number(banks) or banks not in all_banks:
        raise InputError(f"SRAM banks {banks!r}: the CACTI table has "
                         f"{', '.join(map(str, all_banks))} banks")
    return table.grids[(cell, float(node_nm), int(banks))]


def _checked_axis(axis: np.ndarray, x: float, name: str, unit: str,
                  what: str) -> tuple[tuple[int, float], ...]:
    """`_bracket` of x on `axis`, or InputError when x is not a number inside the axis."""
    if not _is_number(x) or not axis[0] <= x <= axis[-1]:
        raise InputError(f"{what}: {name} {_text(x)} {unit} is outside the CACTI table's range "
                         f"{axis[0]:g}..{axis[-1]:g} {unit}")
    return _bracket(axis, float(x))


def _text(x: object) -> str:
    """A number as %g, anything else as its repr (for error messages)."""
    return f"{x:g}" if _is_number(x) else repr(x)


def _is_number(x: object) -> bool:
    """A finite real number (bool is not)."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool) \
        and math.isfinite(x)
