"""Technology costs of the accelerator's actions at any node: MACs, vector-unit functions,
index/pointer decode, registers, DRAM per bit and logic leakage.

Every number comes from the sourced tables in data/ (arithmetic.yaml, logic.yaml, dram.yaml;
techdata.py loads them) and is moved from its own node and supply to the requested one by
scaling.py (Stillmaker and Baas 2017). Units: energy pJ, area um^2, leakage mW/mm^2, DRAM
pJ/bit. `vdd_v` None means the requested node's nominal supply (scaling.nominal_vdd), so at
45 nm and nominal 1.0 V Horowitz's 0.9 V numbers come back scaled by F(45, 1.0)/F(45, 0.9);
pass vdd_v=0.9 to get them unchanged. Each result lists its sources and the derivation rules
it used. Bad input (an unknown precision, function, format or DRAM type, a node outside
7-180 nm, a width out of range) is refused with a one-line workloads.errors.InputError.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

from simulator.energy import scaling
from simulator.energy.techdata import Entry, entries, entry, raw_table
from workloads.errors import InputError

PRECISIONS = ("int4", "int8", "int16", "int32", "fp16", "bf16", "fp32")
FLOAT_PRECISIONS = ("fp16", "bf16", "fp32")
VECTOR_FUNCTIONS = ("add", "multiply", "exp", "rsqrt")
INDEX_FORMATS = ("csr", "csc", "bitmask")
MAX_BITS = 64
SCALING_SOURCE = "Stillmaker and Baas, Integration 58 (2017) 74-81: node scaling (simulator/energy/scaling.py)"


def check_precision(precision: str) -> str:
    """`precision` if it is one of PRECISIONS, else InputError naming it and the allowed ones."""
    if precision not in PRECISIONS:
        raise InputError(f"unknown precision {precision!r}; allowed: {', '.join(PRECISIONS)}")
    return precision


def int_precision(bits: int) -> str:
    """The integer precision of a width: 4 -> 'int4', 8 -> 'int8', 16 -> 'int16', 32 -> 'int32'."""
    name = f"int{int(bits)}" if isinstance(bits, numbers.Integral) and not isinstance(bits, bool) else None
    if name not in PRECISIONS:
        raise InputError(f"no integer precision of {bits!r} bits; allowed widths: 4, 8, 16, 32")
    return name


def precision_format(precision: str) -> dict:
    """The format row of arithmetic.yaml: bits (and significand_bits, exponent_bits for floats)."""
    return raw_table("arithmetic.yaml")["formats"][check_precision(precision)]


def _check_bits(bits: int, what: str) -> int:
    if isinstance(bits, bool) or not isinstance(bits, numbers.Integral) or not 1 <= bits <= MAX_BITS:
        raise InputError(f"{what} {bits!r} is not a whole number of bits in 1-{MAX_BITS}")
    return int(bits)


def _scaled(e: Entry, node_nm: float, vdd_v: float | None) -> float:
    """`e` moved from its node (and supply) to `node_nm` (and `vdd_v`): energies by the energy
    factor, areas by the area factor."""
    if e.unit == "pJ":
        return scaling.scale_energy(e.value, e.node_nm, node_nm, e.vdd_v, vdd_v)
    if e.unit == "um^2":
        return scaling.scale_area(e.value, e.node_nm, node_nm)
    raise AssertionError(f"entry {e.name}: no scaling rule for unit {e.unit}")


def _provenance(used: list[Entry]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(sources, derivation rules) of the entries used, in order, without repeats; the
    scaling method is always listed because every value passes through it."""
    sources = tuple(dict.fromkeys([e.source for e in used] + [SCALING_SOURCE]))
    rules = tuple(dict.fromkeys(e.derived for e in used if e.derived))
    return sources, rules


@dataclass(frozen=True)
class OperatorCost:
    """One arithmetic operator at a node: energy per operation (pJ) and area (um^2)."""

    op: str
    precision: str
    node_nm: float
    energy_pj: float
    area_um2: float
    sources: tuple[str, ...]
    rules: tuple[str, ...]


def operator_cost(op: str, precision: str, node_nm: float, vdd_v: float | None = None) -> OperatorCost:
    """'add' or 'multiply' at `precision` and `node_nm`: the table entry (Horowitz at 45 nm,
    or its stated derivation) scaled to the node. pJ per operation and um^2 per operator."""
    check_precision(precision)
    if op not in ("add", "multiply"):
        raise InputError(f"unknown operator {op!r}; allowed: add, multiply")
    node = scaling.check_node(node_nm)
    table = entries()
    e_name, a_name = f"{op}.{precision}.energy", f"{op}.{precision}.area"
    if e_name not in table:
        raise InputError(f"no {op} cost for {precision} in the tables")
    used = [table[e_name], table[a_name]]
    sources, rules = _provenance(used)
    return OperatorCost(op, precision, node, _scaled(used[0], node, vdd_v), _scaled(used[1], node, vdd_v),
                        sources, rules)


def int_operator_cost(op: str, bits: int, node_nm: float, vdd_v: float | None = None) -> OperatorCost:
    """An integer add or multiply of any width 1-64 bits. Widths in the table use it; others
    scale the nearest measured width w (ties: the smaller) by bits/w (adder ~ width) or
    (bits/w)^2 (array multiplier ~ width^2), the rule arithmetic.yaml states and checks."""
    bits = _check_bits(bits, "operator width")
    if f"int{bits}" in PRECISIONS:
        return operator_cost(op, f"int{bits}", node_nm, vdd_v)
    if op not in ("add", "multiply"):
        raise InputError(f"unknown operator {op!r}; allowed: add, multiply")
    table = entries()
    measured = [w for w in (4, 8, 16, 32) if (e := table.get(f"{op}.int{w}.energy")) and not e.derived]
    w = min(measured, key=lambda m: (abs(m - bits), m))
    base = operator_cost(op, f"int{w}", node_nm, vdd_v)
    factor = bits / w if op == "add" else (bits / w) ** 2
    rule = f"int{w} {op} * ({bits}/{w}){'' if op == 'add' else '^2'} (nearest measured width)"
    return OperatorCost(op, f"int{bits}", base.node_nm, base.energy_pj * factor, base.area_um2 * factor,
                        base.sources, base.rules + (rule,))


@dataclass(frozen=True)
class RegisterCost:
    """A register of `bits` flip-flops: energy of one clocked update of all bits (pJ), per bit
    (pJ/bit), and area (um^2)."""

    bits: int
    node_nm: float
    pj_per_bit: float
    energy_pj: float
    area_um2: float
    sources: tuple[str, ...]


def register_cost(bits: int, node_nm: float, vdd_v: float | None = None) -> RegisterCost:
    """Register (accumulator, index or pointer register) of `bits` bits: energy = bits *
    E_bit and area = bits * A_bit, with E_bit (pJ per bit per clocked update, i.e. per bit
    access) and A_bit from Aladdin's 40 nm register cell, scaled to `node_nm`."""
    bits = _check_bits(bits, "register width")
    node = scaling.check_node(node_nm)
    e_bit, a_bit = entry("register.bit.energy"), entry("register.bit.area")
    pj = _scaled(e_bit, node, vdd_v)
    sources, _ = _provenance([e_bit, a_bit])
    return RegisterCost(bits, node, pj, bits * pj, bits * _scaled(a_bit, node, vdd_v), sources)


@dataclass(frozen=True)
class MacCost:
    """One multiply-accumulate at a node and supply (vdd_v None: the node's nominal): multiply
    (operand precision), add and accumulator register update (accumulator precision), pJ each;
    area of the MAC (multiplier + adder + accumulator register), um^2."""

    precision: str
    accumulator: str
    node_nm: float
    vdd_v: float | None
    multiply_pj: float
    add_pj: float
    accumulator_pj: float
    area_um2: float
    sources: tuple[str, ...]
    rules: tuple[str, ...]

    @property
    def energy_pj(self) -> float:
        """multiply + add + accumulator register update, pJ per MAC."""
        return self.multiply_pj + self.add_pj + self.accumulator_pj


def default_accumulator(precision: str) -> str:
    """The sourced accumulator precision for MACs of `precision` (arithmetic.yaml accumulation);
    InputError where none is sourced (int16)."""
    row = raw_table("arithmetic.yaml")["accumulation"].get(check_precision(precision))
    if row is None:
        raise InputError(f"precision {precision} has no sourced default accumulator; name one "
                         f"(an integer precision at least as wide)")
    return row["accumulator"]


def _check_accumulator(precision: str, accumulator: str) -> str:
    check_precision(accumulator)
    same_kind = (accumulator in FLOAT_PRECISIONS) == (precision in FLOAT_PRECISIONS)
    if not same_kind or precision_format(accumulator)["bits"] < precision_format(precision)["bits"]:
        raise InputError(f"accumulator {accumulator} cannot hold {precision} products; expected a "
                         f"{'float' if precision in FLOAT_PRECISIONS else 'integer'} precision at least as wide")
    return accumulator


def mac_cost(precision: str, node_nm: float, accumulator: str | None = None,
             vdd_v: float | None = None) -> MacCost:
    """MAC of `precision` operands at `node_nm`: multiply_pj = E_mul(precision), add_pj =
    E_add(accumulator), accumulator_pj = bits(accumulator) * E_reg_bit (one clocked update),
    area_um2 = A_mul + A_add + bits * A_reg_bit, each scaled from its source node. The
    accumulator defaults to the sourced one (int4/int8 -> int32, fp16/bf16 -> fp32)."""
    check_precision(precision)
    acc = _check_accumulator(precision, accumulator if accumulator is not None else default_accumulator(precision))
    node = scaling.check_node(node_nm)
    mul = operator_cost("multiply", precision, node, vdd_v)
    add = operator_cost("add", acc, node, vdd_v)
    reg = register_cost(precision_format(acc)["bits"], node, vdd_v)
    acc_source = raw_table("arithmetic.yaml")["accumulation"].get(precision, {}).get("source")
    extra = (f"accumulator {acc}: {acc_source}",) if accumulator is None and acc_source else ()
    sources = tuple(dict.fromkeys(mul.sources + add.sources + reg.sources + extra))
    return MacCost(precision, acc, node, vdd_v,
                   mul.energy_pj, add.energy_pj, reg.energy_pj, mul.area_um2 + add.area_um2 + reg.area_um2,
                   sources, tuple(dict.fromkeys(mul.rules + add.rules)))


def exp_polynomial_degree(significand_bits: int) -> int:
    """Smallest Horner degree d for 2^f, |f ln 2| <= ln2/2, whose Taylor remainder
    (ln2/2)^(d+1)/(d+1)! is at most 2^-p (p = significand bits): bf16 3, fp16 4, fp32 7."""
    bound = entry("vector.exp.reduced_argument_bound").value
    d = 1
    while bound ** (d + 1) / math.factorial(d + 1) > 2.0 ** -significand_bits:
        d += 1
    return d


def rsqrt_newton_steps(significand_bits: int) -> int:
    """Fewest Newton steps from the bit-level estimate whose relative error is at most 2^-p:
    e1 = Lomont's bound after one step, e_(k+1) = 1.5 e_k^2 + 0.5 e_k^3: bf16 1, fp16 2, fp32 3."""
    e, steps = entry("vector.rsqrt.error_after_one_newton_step").value, 1
    while e > 2.0 ** -significand_bits:
        e, steps = 1.5 * e * e + 0.5 * e ** 3, steps + 1
    return steps


@dataclass(frozen=True)
class VectorCost:
    """One vector-unit function on one element: energy (pJ per element-op), area of a lane
    that computes it (um^2), and its operation counts (multiplies and adds at the precision,
    integer adds of int_add_bits)."""

    function: str
    precision: str
    node_nm: float
    energy_pj: float
    area_um2: float
    multiplies: int
    adds: int
    int_adds: int
    int_add_bits: int
    sources: tuple[str, ...]
    rules: tuple[str, ...]


def _function_counts(function: str, precision: str) -> tuple[int, int, int, int, str]:
    """(multiplies, adds, int_adds, int_add_bits, rule) of one element of `function`."""
    if function in ("add", "multiply"):
        return (function == "multiply") * 1, (function == "add") * 1, 0, 0, ""
    if precision not in FLOAT_PRECISIONS:
        raise InputError(f"vector function {function} needs a floating-point precision "
                         f"({', '.join(FLOAT_PRECISIONS)}), got {precision}")
    fmt = precision_format(precision)
    p = fmt["significand_bits"]
    if function == "exp":
        d = exp_polynomial_degree(p)
        rule = (f"exp: t = x*log2(e), f = t - round(t), 2^f by degree-{d} Horner, exponent add: "
                f"{d + 1} multiplies + {d + 1} adds + 1 int{fmt['exponent_bits']} add")
        return d + 1, d + 1, 1, fmt["exponent_bits"], rule
    k = rsqrt_newton_steps(p)
    rule = (f"rsqrt: bit-level estimate (1 int{fmt['bits']} subtract), x/2, {k} Newton steps of "
            f"3 multiplies + 1 add: {3 * k + 1} multiplies + {k} adds")
    return 3 * k + 1, k, 1, fmt["bits"], rule


def vector_cost(function: str, precision: str, node_nm: float, vdd_v: float | None = None) -> VectorCost:
    """`function` (add, multiply, exp, rsqrt) on one `precision` element at `node_nm`:
    energy = n_mul E_mul + n_add E_add + n_int E_int_add(bits); area per lane = A_mul + A_add
    (+ A_int_add) for exp/rsqrt, which reuse one multiplier and one adder over several steps,
    or the single operator for add/multiply. Op counts: _function_counts (rules in logic.yaml)."""
    if function not in VECTOR_FUNCTIONS:
        raise InputError(f"unknown vector function {function!r}; allowed: {', '.join(VECTOR_FUNCTIONS)}")
    check_precision(precision)
    node = scaling.check_node(node_nm)
    n_mul, n_add, n_int, int_bits, rule = _function_counts(function, precision)
    ops = [(operator_cost("multiply", precision, node, vdd_v), n_mul),
           (operator_cost("add", precision, node, vdd_v), n_add)]
    if n_int:
        ops.append((int_operator_cost("add", int_bits, node, vdd_v), n_int))
    lane = [c for c, n in ops if n]
    sources = [s for c in lane for s in c.sources]
    if function in ("exp", "rsqrt"):
        sources.append(entry("vector.exp.reduced_argument_bound" if function == "exp"
                             else "vector.rsqrt.error_after_one_newton_step").source)
    rules = [r for c in lane for r in c.rules] + ([rule] if rule else [])
    return VectorCost(function, precision, node, sum(c.energy_pj * n for c, n in ops), sum(c.area_um2 for c in lane),
                      n_mul, n_add, n_int, int_bits, tuple(dict.fromkeys(sources)), tuple(dict.fromkeys(rules)))


@dataclass(frozen=True)
class IndexDecodeCost:
    """The sparser engine's index/pointer decode: pJ per entry (a stored index for CSR/CSC, a
    dense position for a bitmask), pJ per pointer (a row/column of CSR/CSC; 0 for a bitmask),
    and the decoder's area (um^2)."""

    format: str
    index_bits: int
    pointer_bits: int | None
    node_nm: float
    per_entry_pj: float
    per_pointer_pj: float
    area_um2: float
    sources: tuple[str, ...]
    rules: tuple[str, ...]


def index_decode_cost(format: str, index_bits: int, node_nm: float, pointer_bits: int | None = None,
                      vdd_v: float | None = None) -> IndexDecodeCost:
    """Decode cost at `node_nm`, a derivation from the register and adder entries:
    CSR/CSC: per stored index, read the index register (index_bits) and add it to the row or
    column base (an index_bits adder); per pointer, read the pointer register (pointer_bits,
    required) and subtract the next pointer (a pointer_bits adder) for the segment length.
    bitmask: per dense position, read one mask bit and step the offset counter (an index_bits
    adder: index_bits = log2 of the positions one mask word covers); no pointers.
    Area: the adders and registers named."""
    if format not in INDEX_FORMATS:
        raise InputError(f"unknown index format {format!r}; allowed: {', '.join(INDEX_FORMATS)}")
    index_bits = _check_bits(index_bits, "index width")
    if format == "bitmask" and pointer_bits is not None:
        raise InputError("a bitmask has no pointers; pointer_bits must be omitted")
    if format != "bitmask":
        pointer_bits = _check_bits(pointer_bits, f"{format} pointer width")
    idx_add = int_operator_cost("add", index_bits, node_nm, vdd_v)
    idx_reg = register_cost(index_bits, node_nm, vdd_v)
    if format == "bitmask":
        bit = register_cost(1, node_nm, vdd_v)
        per_entry, per_pointer = bit.energy_pj + idx_add.energy_pj, 0.0
        area = bit.area_um2 + idx_add.area_um2 + idx_reg.area_um2
        rule = f"bitmask: 1-bit register read + int{index_bits} add per dense position"
        parts = (idx_add, idx_reg)
    else:
        ptr_add = int_operator_cost("add", pointer_bits, node_nm, vdd_v)
        ptr_reg = register_cost(pointer_bits, node_nm, vdd_v)
        per_entry, per_pointer = idx_reg.energy_pj + idx_add.energy_pj, ptr_reg.energy_pj + ptr_add.energy_pj
        area = idx_reg.area_um2 + idx_add.area_um2 + ptr_reg.area_um2 + ptr_add.area_um2
        rule = (f"{format}: int{index_bits} register read + int{index_bits} add per index; "
                f"int{pointer_bits} register read + int{pointer_bits} subtract per pointer")
        parts = (idx_add, idx_reg, ptr_add, ptr_reg)
    sources = tuple(dict.fromkeys(s for c in parts for s in c.sources))
    rules = tuple(dict.fromkeys([r for c in parts for r in getattr(c, "rules", ())] + [rule]))
    return IndexDecodeCost(format, index_bits, pointer_bits, idx_add.node_nm, per_entry, per_pointer,
                           area, sources, rules)


@dataclass(frozen=True)
class DramCost:
    """DRAM access energy per bit transferred (pJ/bit), the I/O (interface) share of it where
    the source splits it (else None), its breakdown (name, pJ/bit), what it covers, the
    standard, the source and any note."""

    dram_type: str
    read_pj_per_bit: float
    write_pj_per_bit: float
    interface_share: float | None
    breakdown: tuple[tuple[str, float], ...] | None
    scope: str
    standard: str
    source: str
    note: str | None


def dram_types() -> tuple[str, ...]:
    """The DRAM types dram.yaml carries."""
    return tuple(raw_table("dram.yaml")["types"])


def dram_cost(dram_type: str) -> DramCost:
    """Per-bit DRAM energy of `dram_type` (exact name, e.g. 'HBM2', 'GDDR6', 'LPDDR4'): read and
    write pJ/bit, independent of the logic node; background/refresh power is outside it."""
    row = raw_table("dram.yaml")["types"].get(dram_type) if isinstance(dram_type, str) else None
    if row is None:
        raise InputError(f"unknown DRAM type {dram_type!r}; allowed: {', '.join(dram_types())}")
    breakdown = row.get("breakdown_pj_per_bit")
    share = row.get("interface_share")

    def text(key: str) -> str | None:
        return None if row.get(key) is None else " ".join(str(row[key]).split())

    return DramCost(dram_type, float(row["read_pj_per_bit"]), float(row["write_pj_per_bit"]),
                    None if share is None else float(share),
                    None if breakdown is None else tuple((k, float(v)) for k, v in breakdown.items()),
                    text("scope"), text("standard"), text("source"), text("note"))


@dataclass(frozen=True)
class LeakageCost:
    """Logic leakage power per area at a node (mW/mm^2), nominal supply."""

    node_nm: float
    mw_per_mm2: float
    sources: tuple[str, ...]
    rules: tuple[str, ...]


def logic_leakage(node_nm: float) -> LeakageCost:
    """Leakage density of synthesized logic at `node_nm`: D_40 * (F(n)/F(40)) / (a(n)/a(40)),
    D_40 = Aladdin's 40 nm function units' leakage over their area (logic.yaml), leakage power
    scaled like energy and divided by the area scaling (scaling.scale_leakage_power). That
    assumption cannot follow the historical rise of leakage density with scaling: it gives
    7.4-12.9 mW/mm^2 from 32 to 7 nm (not monotone: the energy and area fits are separate)
    and 12.8-18 mW/mm^2 at 65-180 nm, so read values far from 40 nm as rough."""
    node = scaling.check_node(node_nm)
    d = entry("leakage.density")
    power = scaling.scale_leakage_power(d.value, d.node_nm, node)
    value = power / scaling.scale_area(1.0, d.node_nm, node)
    rule = "density at node = D_40 * leakage-power factor / area factor (scaling.py)"
    sources, rules = _provenance([d])
    return LeakageCost(node, value, sources, rules + (rule,))
