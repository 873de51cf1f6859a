"""Per-action energies, static power and areas of one hardware config, from its technology.

Each cost comes from the sourced tables (tech.py: MACs, vector functions, decoders,
registers, DRAM, logic leakage; sram.py: CACTI 7 buffers) at the config's node and sizes,
unless the config's `energy` section overrides it; `Costs.sources` says where each value
came from and `Costs.overridden` which ones the config set.

Rules (units: pJ per action, mW, um^2 / mm^2):
- computed MAC: multiply + accumulator add + accumulator register update (tech.mac_cost).
- idle MAC slot-cycle: the MAC's two operand registers clocked without new data (an array
  without clock gating: tech.register_cost of 2 x operand bits); a clock-gated design
  overrides energy.idle_mac_pj (0 for perfect gating).
- buffer access: CACTI's energy per access of sram_port_bits, per bit = pJ / port bits; each
  buffer is one SRAM of its configured KiB and banks (double buffering lives inside it;
  more banks than the table's 16: several 16-bank SRAMs).
  CACTI's nodes are 22, 32, 45, 65, 90 nm; another node takes the nearest of them and
  scales energy, leakage and area by Stillmaker and Baas (scaling.py), as it says.
- index decode: tech.index_decode_cost (per stored index or mask position; per pointer).
- vector lane operation: per function (tech.vector_cost): norms use rsqrt's cost per pass,
  softmax exp's, SiLU x up exp's (the sigmoid's exponential dominates), residual adds add's.
- DRAM: tech.dram_cost, pJ per bit read and written.
- static power: the buffers' CACTI leakage + logic leakage density x logic area.
- area: MAC units (mac_units: two arrays, or one shared one) x MAC area; vector lanes x the
  largest function's lane area; sparser lines x decoder area; each buffer's CACTI area.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

from simulator.energy import scaling, sram, tech
from simulator.energy.config import BUFFERS
from workloads.errors import InputError

CACTI_NODES = (22.0, 32.0, 45.0, 65.0, 90.0)
MAX_TABLE_BANKS = 16
VECTOR_FUNCTIONS = {"norm": "rsqrt", "softmax": "exp", "act": "exp", "residual": "add"}


@dataclass
class Costs:
    """One config's costs (module docstring). Buffers keyed weight/input/output/index."""

    mac_pj: float
    idle_mac_pj: float
    buffer_read_pj_per_bit: dict[str, float]
    buffer_write_pj_per_bit: dict[str, float]
    decode_pj: float
    pointer_decode_pj: float
    vector_pj: dict[str, float]  # per lane operation, by VECTOR_FUNCTIONS key
    dram_read_pj_per_bit: float
    dram_write_pj_per_bit: float
    leakage_mw: float
    area_mm2: dict[str, float]  # per component
    sources: dict[str, str] = field(default_factory=dict)
    overridden: list[str] = field(default_factory=list)

    @property
    def total_area_mm2(self) -> float:
        return sum(self.area_mm2.values())

    def as_dict(self) -> dict:
        """JSON-ready: every cost, the areas, the total, where each came from, the overrides."""
        return {"mac_pj": self.mac_pj, "idle_mac_pj": self.idle_mac_pj,
                "buffer_read_pj_per_bit": self.buffer_read_pj_per_bit,
                "buffer_write_pj_per_bit": self.buffer_write_pj_per_bit,
                "decode_pj": self.decode_pj, "pointer_decode_pj": self.pointer_decode_pj,
                "vector_pj": self.vector_pj, "dram_read_pj_per_bit": self.dram_read_pj_per_bit,
                "dram_write_pj_per_bit": self.dram_write_pj_per_bit, "leakage_mw": self.leakage_mw,
                "area_mm2": self.area_mm2, "total_area_mm2": self.total_area_mm2,
                "sources": self.sources, "overridden": self.overridden}


def buffer_sram(kib: float, port_bits: int, banks: int, node_nm: float, cell: str) -> tuple[sram.SramCost, str]:
    """CACTI's costs of one buffer at `node_nm`: at a CACTI node the table's; elsewhere the
    nearest CACTI node's, energy and leakage scaled by scaling.energy_factor's ratio and area
    by scaling.relative_area's (Stillmaker and Baas). More banks than the table's largest
    (a multiple of it): that many / MAX_TABLE_BANKS SRAMs side by side, each of its share of
    the capacity (one serves an access; leakage and area add up). Returns the cost and its
    source."""
    near = min(CACTI_NODES, key=lambda n: (abs(n - node_nm), n))
    if banks > MAX_TABLE_BANKS and banks % MAX_TABLE_BANKS == 0:  # several SRAMs of the table's most banks
        parts = banks // MAX_TABLE_BANKS
        one, s = buffer_sram(kib / parts, port_bits, MAX_TABLE_BANKS, node_nm, cell)
        return (sram.SramCost(one.read_pj, one.write_pj, one.leakage_mw * parts, one.area_mm2 * parts, one.access_ns,
                              one.source), f"{parts} x ({s})")
    c = sram.sram_cost(kib, port_bits, banks, near, cell)
    if near == node_nm:
        return c, c.source
    e = scaling.scale_energy(1.0, near, node_nm)
    a = scaling.scale_area(1.0, near, node_nm)
    lk = scaling.scale_leakage_power(1.0, near, node_nm)
    scaled = sram.SramCost(c.read_pj * e, c.write_pj * e, c.leakage_mw * lk, c.area_mm2 * a, c.access_ns,
                           c.source)
    return scaled, f"{c.source}; scaled {near:g} -> {node_nm:g} nm ({tech.SCALING_SOURCE})"


def mac_units(hw) -> int:
    """Physical MAC units: the denser R x C plus the sparser L x P as two arrays (split policy
    fixed); one array of the larger when the engines share it (shared_width: ViTCoD's lines;
    time_multiplexed: one array running both kernels)."""
    d, e = hw.denser_engine, hw.sparser_engine
    if hw.split.policy == "fixed":
        return d.rows * d.cols + e.lines * e.macs_per_line
    return max(d.rows * d.cols, e.lines * e.macs_per_line)


@functools.lru_cache(maxsize=64)
def resolve(hw) -> Costs | None:
    """The costs of `hw` (a HardwareConfig, frozen: cached per config), or None when it names no
    technology. The Costs returned is shared: read it, do not change it."""
    t = hw.technology
    if t is None:
        return None
    if hw.buffers is None:
        raise InputError(f"{hw.name}: technology needs sized buffers (buffers: null has no SRAM to price)")
    if t.dram_type is not None:  # named but unused (dram: null) is still checked
        tech.dram_cost(t.dram_type)
    if hw.dram is not None and t.dram_type is None:
        raise InputError(f"{hw.name}: technology.dram_type is required when the config has a dram "
                         f"(one of {', '.join(tech.dram_types())})")
    costs = _derived(hw)
    _apply_overrides(hw, costs)
    return costs


def _derived(hw) -> Costs:
    t = hw.technology
    node, vdd = t.node_nm, t.vdd_v
    mac = tech.mac_cost(t.mac_precision, node, t.accumulator, vdd)
    op_bits = tech.precision_format(t.mac_precision)["bits"]
    idle = tech.register_cost(2 * op_bits, node, vdd)
    e = hw.sparser_engine
    dec = tech.index_decode_cost(e.format, e.index_bits, node, None if e.format == "bitmask" else e.pointer_bits,
                                 vdd)
    vec = {k: tech.vector_cost(f, t.vector_precision, node, vdd) for k, f in VECTOR_FUNCTIONS.items()}
    reads, writes, leak, area, src = {}, {}, 0.0, {}, {}
    for b in BUFFERS:
        c, s = buffer_sram(getattr(hw.buffers, f"{b}_kib"), t.sram_port_bits, hw.buffers.banks, node, t.sram_cell)
        reads[b], writes[b] = c.read_pj / t.sram_port_bits, c.write_pj / t.sram_port_bits
        leak += c.leakage_mw
        area[f"{b}_buffer"] = c.area_mm2
        src[f"{b}_buffer"] = s
    area["macs"] = mac_units(hw) * mac.area_um2 * 1e-6
    area["vector_unit"] = hw.vector_unit.lanes * max(v.area_um2 for v in vec.values()) * 1e-6
    area["decoders"] = e.lines * dec.area_um2 * 1e-6
    logic = area["macs"] + area["vector_unit"] + area["decoders"]
    leak += tech.logic_leakage(node).mw_per_mm2 * logic
    dram_r = dram_w = 0.0
    if hw.dram is not None:
        dc = tech.dram_cost(t.dram_type)
        dram_r, dram_w = dc.read_pj_per_bit, dc.write_pj_per_bit
        src["dram"] = dc.source
    src.update(mac="; ".join(mac.sources), idle_mac=f"2 x {op_bits}-bit register: " + "; ".join(idle.sources),
               decode="; ".join(dec.sources), vector="; ".join(dict.fromkeys(s for v in vec.values() for s in v.sources)),
               leakage="CACTI buffer leakage + " + "; ".join(tech.logic_leakage(node).sources))
    return Costs(mac.multiply_pj + mac.add_pj + mac.accumulator_pj, idle.energy_pj, reads, writes,
                 dec.per_entry_pj, dec.per_pointer_pj, {k: v.energy_pj for k, v in vec.items()}, dram_r, dram_w,
                 leak, area, src)


def _apply_overrides(hw, c: Costs) -> None:
    """The config's energy section replaces single costs; each is listed in c.overridden."""
    if hw.energy is None:
        return
    given = hw.energy.given()
    simple = {"mac_pj": "mac_pj", "idle_mac_pj": "idle_mac_pj", "leakage_mw": "leakage_mw"}
    for key, attr in simple.items():
        if key in given:
            setattr(c, attr, given[key])
    if "decode_pj" in given:
        c.decode_pj = c.pointer_decode_pj = given["decode_pj"]
    if "vector_pj" in given:
        c.vector_pj = {k: given["vector_pj"] for k in c.vector_pj}
    if "dram_pj_per_byte" in given:
        c.dram_read_pj_per_bit = c.dram_write_pj_per_bit = given["dram_pj_per_byte"] / 8
    for b in BUFFERS:
        if "sram_pj_per_byte" in given:
            c.buffer_read_pj_per_bit[b] = c.buffer_write_pj_per_bit[b] = given["sram_pj_per_byte"] / 8
        for way, table in (("read", c.buffer_read_pj_per_bit), ("write", c.buffer_write_pj_per_bit)):
            if f"{b}_buffer_{way}_pj_per_bit" in given:
                table[b] = given[f"{b}_buffer_{way}_pj_per_bit"]
        if f"{b}_buffer_area_mm2" in given:
            c.area_mm2[f"{b}_buffer"] = given[f"{b}_buffer_area_mm2"]
    e = hw.sparser_engine
    if "mac_area_um2" in given:
        c.area_mm2["macs"] = mac_units(hw) * given["mac_area_um2"] * 1e-6
    if "vector_lane_area_um2" in given:
        c.area_mm2["vector_unit"] = hw.vector_unit.lanes * given["vector_lane_area_um2"] * 1e-6
    if "decoder_area_um2" in given:
        c.area_mm2["decoders"] = e.lines * given["decoder_area_um2"] * 1e-6
    c.overridden = sorted(given)
