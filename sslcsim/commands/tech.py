"""`sslcsim tech`: one component's technology cost at a node, with its sources and derivation
rules, so a number can be checked without writing a hardware config.

    tech sram --kib K --width BITS [--banks N] [--cell C] --node NM
    tech mac --precision P [--accumulator A] [--vdd V] --node NM
    tech vector --function F --precision P [--vdd V] --node NM
    tech decode --format csr|csc|bitmask --index-bits B [--pointer-bits B] [--vdd V] --node NM
    tech dram --type T | --list
    tech leakage --node NM

Each prints a small table (value, unit), the sources and the rules, or with --json one JSON
object. The numbers are the ones a config's `technology` section gets (simulator/energy/
costs.py: `tech sram` is costs.buffer_sram, so a node between CACTI's and more than 16 banks
work as in configs; the others are simulator/energy/tech.py). Bad input is one line, exit 2.
"""

from __future__ import annotations

import argparse
import json
import math
from dataclasses import dataclass, field

from workloads.errors import InputError

# Named here so that --help needs no tables loaded; tests/test_cli_tech.py holds them equal to
# simulator.energy.tech.PRECISIONS, VECTOR_FUNCTIONS and INDEX_FORMATS.
PRECISIONS = ("int4", "int8", "int16", "int32", "fp16", "bf16", "fp32")
VECTOR_FUNCTIONS = ("add", "multiply", "exp", "rsqrt")
INDEX_FORMATS = ("csr", "csc", "bitmask")


@dataclass
class Report:
    """What one subcommand prints: a title, the inputs, rows (JSON key, label, value, unit),
    extra fields (strings are printed too), free text lines, sources and rules; `payload`,
    where given, is the JSON object instead."""

    component: str
    title: str
    inputs: dict
    rows: list[tuple[str, str, float, str]] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    lines: list[str] = field(default_factory=list)
    sources: tuple[str, ...] = ()
    rules: tuple[str, ...] = ()
    payload: dict | None = None

    def as_dict(self) -> dict:
        """JSON-ready: component, inputs, values by key (units in the key names), sources, rules."""
        if self.payload is not None:
            return self.payload
        return {"component": self.component, "inputs": self.inputs,
                "values": {k: v for k, _, v, _ in self.rows}, **self.extra,
                "sources": list(self.sources), "rules": list(self.rules)}

    def text(self) -> str:
        """The readable table: title, one line per value, then sources and rules."""
        width = max((len(label) for _, label, _, _ in self.rows), default=0)
        lines = [self.title] + [f"  {label:<{width}}  {value:>12.6g} {unit}" for _, label, value, unit in self.rows]
        lines += [f"  {k}: {v}" for k, v in self.extra.items() if isinstance(v, str)] + self.lines
        for heading, items in (("sources", self.sources), ("rules", self.rules)):
            if items:
                lines += [f"{heading}:"] + [f"  - {s}" for s in items]
        return "\n".join(lines)


def _node_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--node", type=float, required=True, metavar="NM", help="logic node, nm (7-180)")


def _vdd_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--vdd", type=float, metavar="V",
                   help="supply, V (0.3-2.0); default: the node's nominal supply (as a config's vdd_v null)")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tech", help="one component's technology cost at a node, with its source",
                       description="Prints one component's energy, area or leakage from the technology tables "
                                   "(the values a config's technology section gets) with sources and rules. "
                                   "See docs/energy.md.")
    tsub = p.add_subparsers(dest="tech_command", required=True)
    sram = tsub.add_parser("sram", help="CACTI 7 SRAM: energy per access, leakage, area, access time")
    sram.add_argument("--kib", type=float, required=True, help="capacity, KiB (1024 bytes)")
    sram.add_argument("--width", type=int, required=True, metavar="BITS", help="read/write port width, bits")
    sram.add_argument("--banks", type=int, default=1, help="banks (default 1, as buffers.banks)")
    sram.add_argument("--cell", help="CACTI cell/peripheral type (default itrs-lstp, as technology.sram_cell)")
    _node_arg(sram)
    mac = tsub.add_parser("mac", help="one multiply-accumulate: multiply, add, accumulator update, area")
    mac.add_argument("--precision", choices=PRECISIONS, required=True, help="operand precision")
    mac.add_argument("--accumulator", choices=PRECISIONS, help="default: the sourced one for the precision")
    _node_arg(mac)
    _vdd_arg(mac)
    vec = tsub.add_parser("vector", help="one vector-unit function on one element: energy, lane area, op counts")
    vec.add_argument("--function", choices=VECTOR_FUNCTIONS, required=True)
    vec.add_argument("--precision", choices=PRECISIONS, required=True)
    _node_arg(vec)
    _vdd_arg(vec)
    dec = tsub.add_parser("decode", help="the sparser engine's index/pointer decode: pJ per index and pointer")
    dec.add_argument("--format", choices=INDEX_FORMATS, required=True)
    dec.add_argument("--index-bits", type=int, required=True, metavar="B", help="bits per stored index (1-64)")
    dec.add_argument("--pointer-bits", type=int, metavar="B", help="csr/csc: bits per row/column pointer (1-64)")
    _node_arg(dec)
    _vdd_arg(dec)
    dram = tsub.add_parser("dram", help="DRAM energy per bit by type (no node)")
    which = dram.add_mutually_exclusive_group(required=True)
    which.add_argument("--type", dest="dram_type", metavar="T", help="DRAM type, exact name (e.g. HBM2)")
    which.add_argument("--list", action="store_true", help="every DRAM type the tables carry")
    leak = tsub.add_parser("leakage", help="logic leakage power density at a node")
    _node_arg(leak)
    for q in (sram, mac, vec, dec, dram, leak):
        q.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
        q.set_defaults(func=main)


def _positive(value: float, flag: str, unit: str) -> float:
    """`value` if it is a finite number > 0, else InputError naming the flag."""
    if not math.isfinite(value) or value <= 0:
        raise InputError(f"{flag} {value:g}: expected a positive number of {unit}")
    return value


def _at_least_one(value: int, flag: str, unit: str) -> int:
    """`value` if it is a whole number >= 1, else InputError naming the flag."""
    if value < 1:
        raise InputError(f"{flag} {value}: expected a whole number of {unit}, at least 1")
    return value


def _vdd(value: float | None) -> float | None:
    """--vdd within the config's technology.vdd_v range (one range for both), or None."""
    if value is None:
        return None
    from simulator.energy.config import Technology

    bounds = {type(m).__name__: m for m in Technology.model_fields["vdd_v"].metadata}
    lo, hi = bounds["Ge"].ge, bounds["Le"].le
    if not math.isfinite(value) or not lo <= value <= hi:
        raise InputError(f"--vdd {value:g}: expected a supply of {lo:g}-{hi:g} V (as technology.vdd_v)")
    return value


def _supply_text(node_nm: float, vdd_v: float | None) -> str:
    from simulator.energy import scaling

    if vdd_v is None:
        return f"{scaling.nominal_vdd(node_nm):.3g} V (the node's nominal supply)"
    return f"{vdd_v:g} V"


def _sram(args: argparse.Namespace) -> Report:
    from simulator.energy import costs, scaling, sram

    kib = _positive(args.kib, "--kib", "KiB")
    width = _at_least_one(args.width, "--width", "bits")
    banks = _at_least_one(args.banks, "--banks", "banks")
    node = scaling.check_node(args.node)
    cell = sram.DEFAULT_CELL if args.cell is None else args.cell
    c, source = costs.buffer_sram(kib, width, banks, node, cell)
    rows = [("read_pj", "read, per access", c.read_pj, f"pJ ({width} bits)"),
            ("write_pj", "write, per access", c.write_pj, f"pJ ({width} bits)"),
            ("read_pj_per_bit", "read, per bit", c.read_pj / width, "pJ/bit"),
            ("write_pj_per_bit", "write, per bit", c.write_pj / width, "pJ/bit"),
            ("leakage_mw", "leakage (standby)", c.leakage_mw, "mW"),
            ("area_mm2", "area", c.area_mm2, "mm^2"),
            ("access_ns", "access time", c.access_ns, "ns")]
    rules = ["per bit = energy per access / port width (as a config's buffers are priced, costs.py)"]
    if node not in costs.CACTI_NODES:
        rules.append("off CACTI's nodes: energy and leakage scaled by F(node)/F(CACTI node), area by "
                     "a(node)/a(CACTI node); the access time is the CACTI node's, not scaled")
    return Report("sram", f"tech sram: {kib:g} KiB, {width}-bit port, {banks} bank(s), {cell}, {node:g} nm",
                  {"kib": kib, "width_bits": width, "banks": banks, "cell": cell, "node_nm": node},
                  rows, sources=(source,), rules=tuple(rules))


def _mac(args: argparse.Namespace) -> Report:
    from simulator.energy import tech

    vdd = _vdd(args.vdd)
    m = tech.mac_cost(args.precision, args.node, args.accumulator, vdd)
    rows = [("multiply_pj", f"{m.precision} multiply", m.multiply_pj, "pJ"),
            ("add_pj", f"{m.accumulator} accumulator add", m.add_pj, "pJ"),
            ("accumulator_pj", f"{m.accumulator} accumulator update", m.accumulator_pj, "pJ"),
            ("energy_pj", "per MAC (sum)", m.energy_pj, "pJ"),
            ("area_um2", "area (mul + add + acc. register)", m.area_um2, "um^2")]
    return Report("mac", f"tech mac: {m.precision} operands, {m.accumulator} accumulator, {m.node_nm:g} nm, "
                  f"{_supply_text(m.node_nm, vdd)}",
                  {"precision": m.precision, "accumulator": m.accumulator, "node_nm": m.node_nm, "vdd_v": vdd},
                  rows, sources=m.sources, rules=m.rules)


def _vector(args: argparse.Namespace) -> Report:
    from simulator.energy import tech

    vdd = _vdd(args.vdd)
    v = tech.vector_cost(args.function, args.precision, args.node, vdd)
    rows = [("energy_pj", "per element", v.energy_pj, "pJ"),
            ("area_um2", "lane area", v.area_um2, "um^2"),
            ("multiplies", f"{v.precision} multiplies", v.multiplies, "per element"),
            ("adds", f"{v.precision} adds", v.adds, "per element"),
            ("int_adds", f"int{v.int_add_bits} adds" if v.int_adds else "integer adds", v.int_adds, "per element")]
    return Report("vector", f"tech vector: {v.function} on {v.precision}, {v.node_nm:g} nm, "
                  f"{_supply_text(v.node_nm, vdd)}",
                  {"function": v.function, "precision": v.precision, "node_nm": v.node_nm, "vdd_v": vdd},
                  rows, extra={"int_add_bits": v.int_add_bits}, sources=v.sources, rules=v.rules)


def _decode(args: argparse.Namespace) -> Report:
    from simulator.energy import tech

    if args.format != "bitmask" and args.pointer_bits is None:
        raise InputError(f"--format {args.format} needs --pointer-bits (bits per row/column pointer; "
                         f"a config's sparser_engine.pointer_bits defaults to 32)")
    vdd = _vdd(args.vdd)
    d = tech.index_decode_cost(args.format, args.index_bits, args.node, args.pointer_bits, vdd)
    per = "per mask position" if d.format == "bitmask" else "per stored index"
    rows = [("per_entry_pj", per, d.per_entry_pj, "pJ")]
    if d.format != "bitmask":
        rows.append(("per_pointer_pj", "per pointer", d.per_pointer_pj, "pJ"))
    rows.append(("area_um2", "decoder area", d.area_um2, "um^2"))
    return Report("decode", f"tech decode: {d.format}, {d.index_bits}-bit indices"
                  + (f", {d.pointer_bits}-bit pointers" if d.pointer_bits else "")
                  + f", {d.node_nm:g} nm, {_supply_text(d.node_nm, vdd)}",
                  {"format": d.format, "index_bits": d.index_bits, "pointer_bits": d.pointer_bits,
                   "node_nm": d.node_nm, "vdd_v": vdd}, rows, sources=d.sources, rules=d.rules)


def _dram(args: argparse.Namespace) -> Report:
    from simulator.energy import tech

    if args.list:
        types = [tech.dram_cost(t) for t in tech.dram_types()]
        lines = ["  type      read / write pJ/bit  standard"]
        lines += [f"  {d.dram_type:<8}  {d.read_pj_per_bit:>6g} / {d.write_pj_per_bit:<6g}      {d.standard}"
                  for d in types]
        return Report("dram", "tech dram: every type the tables carry (per bit transferred; "
                      "background/refresh power excluded)", {"list": True}, lines=lines,
                      sources=tuple(f"{d.dram_type}: {d.source}" for d in types),
                      payload={"component": "dram", "types": [_dram_dict(d) for d in types]})
    d = tech.dram_cost(args.dram_type)
    rows = [("read_pj_per_bit", "read", d.read_pj_per_bit, "pJ/bit"),
            ("write_pj_per_bit", "write", d.write_pj_per_bit, "pJ/bit")]
    rows += [(f"breakdown.{k}_pj_per_bit", f"  of which {k}", v, "pJ/bit") for k, v in d.breakdown or ()]
    if d.interface_share is not None:
        rows.append(("interface_share", "interface (I/O) share", d.interface_share, "of the access energy"))
    extra = {k: v for k, v in (("scope", d.scope), ("standard", d.standard), ("note", d.note)) if v is not None}
    return Report("dram", f"tech dram: {d.dram_type} (no node: per bit transferred)", {"dram_type": d.dram_type},
                  rows, extra=extra, sources=(d.source,))


def _dram_dict(d) -> dict:
    """One DRAM type as JSON: per-bit energies, share, breakdown, scope, standard, source, note."""
    return {"dram_type": d.dram_type, "read_pj_per_bit": d.read_pj_per_bit, "write_pj_per_bit": d.write_pj_per_bit,
            "interface_share": d.interface_share, "breakdown_pj_per_bit": dict(d.breakdown or ()),
            "scope": d.scope, "standard": d.standard, "source": d.source, "note": d.note}


def _leakage(args: argparse.Namespace) -> Report:
    from simulator.energy import tech

    lk = tech.logic_leakage(args.node)
    return Report("leakage", f"tech leakage: synthesized logic, {lk.node_nm:g} nm, nominal supply",
                  {"node_nm": lk.node_nm}, [("mw_per_mm2", "leakage density", lk.mw_per_mm2, "mW/mm^2")],
                  sources=lk.sources, rules=lk.rules)


BUILDERS = {"sram": _sram, "mac": _mac, "vector": _vector, "decode": _decode, "dram": _dram, "leakage": _leakage}


def main(args: argparse.Namespace) -> int:
    try:
        report = BUILDERS[args.tech_command](args)
    except InputError as exc:
        raise InputError(f"tech {args.tech_command}: {exc}") from None
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.text())
    return 0
