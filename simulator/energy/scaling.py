"""Scaling energy, area and leakage between technology nodes by Stillmaker and Baas.

Method: A. Stillmaker, B. Baas, "Scaling equations for the accurate prediction of CMOS device
performance from 180 nm to 7 nm", Integration, the VLSI Journal 58 (2017) 74-81. The paper
fits, per node n, an energy factor that is a polynomial in the supply V,

    F(n, V) = a_n V^2 + b_n V + c_n            (Table 5; HP device rows at 45 nm and below)

and tabulates area scaling factors M[from][to] between its nodes (180, 130, 90, 65, 45, 32,
20, 16, 14, 10, 7 nm). Coefficients, nominal supplies and the matrix live in
data/scaling.yaml with their sources. Here:

    energy:  E_to = E_from * F(to, V_to) / F(from, V_from)
             (V defaults to the node's nominal PTM supply: 1.8 V at 180 nm ... 0.7 V at 7 nm)
    area:    A_to = A_from * a(to) / a(from),  a(n) = M[45][n]  (area relative to 45 nm)
    leakage: P_to = P_from * F(to, V_to) / F(from, V_from)

Using one row of the matrix keeps scaling transitive (45 -> 7 -> 45 is the identity); the
published entries are rounded to two significant figures, so a pair that does not pass
through 45 nm can differ from its own matrix entry by that rounding (180 -> 7 nm: 0.0031 here,
0.0032 in the matrix). The leakage rule is an assumption, not the paper's (the paper fits
total power, not leakage): a fixed circuit's leakage power is taken to scale like its
switching energy, as hwcomponents 1.0.114 (hwcomponents/scaling/techscaling.py,
tech_node_leak) does.

Nodes between table nodes are interpolated linearly in log(value) against log(node). Nodes
outside 7-180 nm are refused (workloads.errors.InputError).
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from workloads.errors import InputError

DATA_FILE = Path(__file__).parent / "data" / "scaling.yaml"
NODE_MIN_NM = 7.0
NODE_MAX_NM = 180.0
REFERENCE_NODE_NM = 45


@dataclass(frozen=True)
class ScalingTable:
    """data/scaling.yaml, checked: nodes (nm, descending), energy coefficients (a, b, c) per
    node, nominal supply (V) per node, the area matrix, and the relative area a(n) = M[45][n]."""

    nodes: tuple[int, ...]
    coefficients: dict[int, tuple[float, float, float]]
    nominal_vdd: dict[int, float]
    area_matrix: dict[int, tuple[float, ...]]
    relative_area: dict[int, float]
    source: str


@lru_cache(maxsize=1)
def scaling_table() -> ScalingTable:
    """Load and check data/scaling.yaml once (InputError naming the file and key if malformed)."""
    raw = yaml.safe_load(DATA_FILE.read_text())
    nodes = tuple(int(n) for n in raw["nodes_nm"])
    if list(nodes) != sorted(nodes, reverse=True) or nodes[0] != NODE_MAX_NM or nodes[-1] != NODE_MIN_NM:
        raise InputError(f"{DATA_FILE}: nodes_nm must run from {NODE_MAX_NM:g} down to {NODE_MIN_NM:g} nm")
    coefficients = {int(n): tuple(float(x) for x in c) for n, c in raw["energy_factor"]["coefficients"].items()}
    vdd = {int(n): float(v) for n, v in raw["nominal_vdd_v"]["values"].items()}
    matrix = {int(n): tuple(float(x) for x in row) for n, row in raw["area_factor"]["matrix"].items()}
    for key, table in (("energy_factor.coefficients", coefficients), ("nominal_vdd_v.values", vdd),
                       ("area_factor.matrix", matrix)):
        if set(table) != set(nodes):
            raise InputError(f"{DATA_FILE}: {key} must have exactly the nodes {list(nodes)}")
    if any(len(c) != 3 for c in coefficients.values()) or any(len(r) != len(nodes) for r in matrix.values()):
        raise InputError(f"{DATA_FILE}: each energy row needs 3 coefficients, each area row {len(nodes)} entries")
    relative = dict(zip(nodes, matrix[REFERENCE_NODE_NM]))
    return ScalingTable(nodes, coefficients, vdd, matrix, relative, str(raw["source"]))


def check_node(node_nm: float) -> float:
    """`node_nm` as a float if it is a number within 7-180 nm, else InputError (one line)."""
    if isinstance(node_nm, bool) or not isinstance(node_nm, numbers.Real) or not math.isfinite(node_nm):
        raise InputError(f"technology node {node_nm!r} is not a number of nm; expected 7-180 nm")
    if not NODE_MIN_NM <= node_nm <= NODE_MAX_NM:
        raise InputError(f"technology node {node_nm:g} nm is outside the scaling range "
                         f"{NODE_MIN_NM:g}-{NODE_MAX_NM:g} nm (Stillmaker and Baas 2017)")
    return float(node_nm)


def _bracket(node_nm: float) -> tuple[int, int, float]:
    """The table nodes hi >= node >= lo around `node_nm` and the log-space weight w of lo:
    log v(node) = (1 - w) log v(hi) + w log v(lo). w = 0 on a table node."""
    nodes = scaling_table().nodes
    for n in nodes:
        if node_nm == n:
            return n, n, 0.0
    for hi, lo in zip(nodes, nodes[1:]):
        if lo < node_nm < hi:
            return hi, lo, math.log(hi / node_nm) / math.log(hi / lo)
    raise AssertionError(f"node {node_nm} passed check_node but is not bracketed")


def _log_interpolate(node_nm: float, value_at) -> float:
    """exp((1 - w) log value_at(hi) + w log value_at(lo)) with (hi, lo, w) = _bracket(node)."""
    hi, lo, w = _bracket(node_nm)
    if w == 0.0:
        return value_at(hi)
    return math.exp((1.0 - w) * math.log(value_at(hi)) + w * math.log(value_at(lo)))


def nominal_vdd(node_nm: float) -> float:
    """Nominal supply (V) of a table node; between nodes, log-log interpolated."""
    node = check_node(node_nm)
    return _log_interpolate(node, scaling_table().nominal_vdd.__getitem__)


def energy_factor(node_nm: float, vdd_v: float | None = None) -> float:
    """Stillmaker-Baas energy factor F(n, V) = a V^2 + b V + c (dimensionless; only ratios
    mean anything). vdd_v None: each table node at its own nominal supply (so an interpolated
    node sits between its neighbours' nominal points); a given vdd_v evaluates both neighbours'
    polynomials at that supply. InputError if the supply is not positive or the fit goes
    non-positive there (below 0.73 V at 180 nm)."""
    node = check_node(node_nm)
    table = scaling_table()
    if vdd_v is not None and (isinstance(vdd_v, bool) or not isinstance(vdd_v, numbers.Real)
                              or not math.isfinite(vdd_v) or vdd_v <= 0):
        raise InputError(f"supply {vdd_v!r} V is not a positive number of volts")

    def at(n: int) -> float:
        a, b, c = table.coefficients[n]
        v = table.nominal_vdd[n] if vdd_v is None else float(vdd_v)
        f = a * v * v + b * v + c
        if f <= 0:
            raise InputError(f"supply {v:g} V is outside the Stillmaker-Baas energy fit at {n} nm "
                             f"(factor {f:.3g} <= 0)")
        return f

    return _log_interpolate(node, at)


def relative_area(node_nm: float) -> float:
    """Area of a circuit at `node_nm` relative to the same circuit at 45 nm: M[45][n] from the
    paper's area table, log-log interpolated between table nodes."""
    node = check_node(node_nm)
    return _log_interpolate(node, scaling_table().relative_area.__getitem__)


def scale_energy(value: float, from_nm: float, to_nm: float,
                 from_vdd_v: float | None = None, to_vdd_v: float | None = None) -> float:
    """Energy per operation at `to_nm` (same unit as `value`):
    value * F(to, V_to) / F(from, V_from); a None supply is that node's nominal."""
    return value * (energy_factor(to_nm, to_vdd_v) / energy_factor(from_nm, from_vdd_v))


def scale_area(value: float, from_nm: float, to_nm: float) -> float:
    """Area at `to_nm` (same unit as `value`): value * a(to) / a(from), a(n) = M[45][n]."""
    return value * (relative_area(to_nm) / relative_area(from_nm))


def scale_leakage_power(value: float, from_nm: float, to_nm: float) -> float:
    """Leakage power of a fixed circuit at `to_nm` (same unit as `value`), both at nominal
    supply: value * F(to) / F(from). An assumption (see the module docstring), not a fit."""
    return value * (energy_factor(to_nm) / energy_factor(from_nm))
