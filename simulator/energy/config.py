"""The hardware config's `technology` and `energy` sections (validated by pydantic, strict).

`technology` names what the costs derive from (node, MAC and vector precisions, DRAM type,
SRAM cell and port width); `energy` overrides any single derived cost. Every value has an
upper bound that keeps the results finite (a pJ or an area can not be 1e308).
"""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, model_validator

PRECISION = Literal["int4", "int8", "int16", "int32", "fp16", "bf16", "fp32"]
BUFFERS = ("weight", "input", "output", "index")
MAX_PJ = 1e6  # per action: a 1 uJ access is already ~1000x any DRAM's
MAX_AREA_MM2 = 1e5


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


def _pj(what: str) -> object:
    return Field(None, ge=0, le=MAX_PJ, description=what)


class Technology(_Strict):
    """What the per-action costs derive from (simulator/energy/costs.py)."""

    node_nm: float = Field(..., ge=7, le=180, description="logic node, nm (Stillmaker-Baas scaling range)")
    mac_precision: PRECISION = Field(..., description="operand precision of the engines' multipliers")
    accumulator: Optional[PRECISION] = Field(None, description="null: the sourced default for mac_precision")
    vector_precision: PRECISION = Field(..., description="vector unit arithmetic (norms, softmax, SiLU, adds)")
    vdd_v: Optional[float] = Field(None, ge=0.3, le=2.0, description="supply, V; null: the node's nominal")
    dram_type: Optional[str] = Field(None, min_length=1, max_length=32,
                                     description="DRAM standard (tech dram --list); required with a dram")
    sram_cell: str = Field("itrs-lstp", min_length=1, max_length=32,
                           description="CACTI cell/peripheral type (Accelergy's CACTI plug-in default)")
    sram_port_bits: int = Field(64, ge=8, le=4096, description="read/write port width of every buffer, bits")


class EnergyOverrides(_Strict):
    """Explicit per-action costs that replace the technology's (reports list them)."""

    mac_pj: Optional[float] = _pj("per computed MAC (multiply, add, accumulator update)")
    idle_mac_pj: Optional[float] = _pj("per idle MAC slot per cycle of an op (clocked, no operands)")
    sram_pj_per_byte: Optional[float] = _pj("every buffer, per byte read or written")
    weight_buffer_read_pj_per_bit: Optional[float] = _pj("weight buffer read, per bit")
    weight_buffer_write_pj_per_bit: Optional[float] = _pj("weight buffer write, per bit")
    input_buffer_read_pj_per_bit: Optional[float] = _pj("input buffer read, per bit")
    input_buffer_write_pj_per_bit: Optional[float] = _pj("input buffer write, per bit")
    output_buffer_read_pj_per_bit: Optional[float] = _pj("output buffer read, per bit")
    output_buffer_write_pj_per_bit: Optional[float] = _pj("output buffer write, per bit")
    index_buffer_read_pj_per_bit: Optional[float] = _pj("index buffer read, per bit")
    index_buffer_write_pj_per_bit: Optional[float] = _pj("index buffer write, per bit")
    decode_pj: Optional[float] = _pj("per index or pointer decode (bitmask: per mask bit)")
    vector_pj: Optional[float] = _pj("per vector lane operation, every function")
    dram_pj_per_byte: Optional[float] = _pj("DRAM, per byte read or written")
    leakage_mw: Optional[float] = Field(None, ge=0, le=1e7, description="static power of the whole design, mW")
    mac_area_um2: Optional[float] = Field(None, ge=0, le=1e7, description="one MAC unit, um^2")
    vector_lane_area_um2: Optional[float] = Field(None, ge=0, le=1e7, description="one vector lane, um^2")
    decoder_area_um2: Optional[float] = Field(None, ge=0, le=1e7, description="one sparser line's decoder, um^2")
    weight_buffer_area_mm2: Optional[float] = Field(None, ge=0, le=MAX_AREA_MM2)
    input_buffer_area_mm2: Optional[float] = Field(None, ge=0, le=MAX_AREA_MM2)
    output_buffer_area_mm2: Optional[float] = Field(None, ge=0, le=MAX_AREA_MM2)
    index_buffer_area_mm2: Optional[float] = Field(None, ge=0, le=MAX_AREA_MM2)

    @model_validator(mode="after")
    def _one_way_per_buffer(self) -> "EnergyOverrides":
        per_bit = [k for b in BUFFERS for k in (f"{b}_buffer_read_pj_per_bit", f"{b}_buffer_write_pj_per_bit")
                   if getattr(self, k) is not None]
        if self.sram_pj_per_byte is not None and per_bit:
            raise ValueError(f"sram_pj_per_byte sets every buffer; it can not be given with {per_bit[0]}")
        return self

    def given(self) -> dict[str, float]:
        """The overrides this config sets, by key."""
        return {k: v for k, v in self.model_dump().items() if v is not None}
