"""Hardware configuration: a strict schema for `hwconfigs/*.yaml`.

Every key has a unit in its name or its docstring; unknown keys are errors, and every
error names the file, the dotted key, the value and the allowed range in one line.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Literal, Optional

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from simulator.energy.config import EnergyOverrides, Technology
from simulator.energy.costs import resolve as resolve_costs

from workloads.errors import InputError


class _Strict(BaseModel):
    # strict: a YAML `true` or '64' is not a number (no silent coercion); no inf/nan anywhere
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class NmSparsity(_Strict):
    """N:M structured sparsity on the denser engine (simulator/engines/nm.py): each group of m
    consecutive weights along the reduction keeps at most n, stored as n values, each with
    `index_bits` of metadata (its position in the group); the engine computes the compressed
    reduction, a multiplexer per MAC selecting its input among the group's m."""

    n: int = Field(..., ge=1, le=31, description="weights kept per group (at most)")
    m: int = Field(..., ge=2, le=32, description="group size along the reduction (input features)")
    index_bits: int = Field(..., ge=1, le=8, description="metadata bits per kept weight: its position in the group")

    @model_validator(mode="after")
    def _fits(self) -> "NmSparsity":
        if self.n >= self.m:
            raise ValueError(f"n ({self.n}) must be below m ({self.m}): n = m is the dense engine")
        if 1 << self.index_bits < self.m:
            raise ValueError(f"index_bits ({self.index_bits}) cannot name a position among m = {self.m} "
                             f"(needs at least {math.ceil(math.log2(self.m))})")
        return self


class DenserEngine(_Strict):
    """Dense GEMM engine: a systolic array or a ViTCoD-style MAC-line array."""

    kind: Literal["systolic", "mac_lines"]  # required: the two kinds time GEMMs very differently
    rows: int = Field(..., ge=1, le=4096, description="systolic: PE rows R; mac_lines: MACs per line H")
    cols: int = Field(..., ge=1, le=4096, description="systolic: PE columns C; mac_lines: lines W")
    dataflow: Literal["ws", "os", "is"] = Field("ws", description="systolic dataflow")
    timing: Literal["scalesim", "physical"] = Field(
        "physical", description="scalesim: SCALE-Sim 3.0.0's formulas incl. its quirks; physical: without them"
    )
    pipeline_latency: int = Field(0, ge=0, le=1024, description="mac_lines: adder-tree latency per tile, cycles")
    packing: bool = Field(
        True, description="mac_lines: a line with more MACs than the reduction length K reduces floor(H / K) "
        "outputs per step (segmented adder tree); false: one output per line per step (the naive line)"
    )
    nm_sparsity: Optional[NmSparsity] = Field(
        None, description="null: dense only; else the engine also runs N:M-structured S at n/m of the dense MACs"
    )


class SparserEngine(_Strict):
    """L MAC lines x P MACs per line over a compressed format."""

    lines: int = Field(..., ge=1, le=4096, description="MAC lines L")
    macs_per_line: int = Field(..., ge=1, le=4096, description="MACs per line P")
    mapping: Literal["token_parallel", "nnz_parallel", "adaptive"] = Field(
        "nnz_parallel", description="adaptive: per tile, the cheaper of token- and non-zero-parallel"
    )
    format: Literal["csc", "csr", "bitmask"] = Field(
        "csr", description="csc: units are columns of S; csr and bitmask: units are rows"
    )
    index_bits: int = Field(16, ge=1, le=32, description="bits per stored index (csc/csr) ")
    pointer_bits: int = Field(32, ge=1, le=64, description="bits per column/row pointer (csc/csr)")
    unit_overhead: int = Field(0, ge=0, le=1024, description="cycles per column/row (pointer fetch)")
    pipeline_latency: int = Field(0, ge=0, le=1024, description="cycles added once per tile")
    assignment: Literal["round_robin", "greedy", "interleaved"] = Field(
        "round_robin", description="unit -> line policy: unit i to line i mod L, longest-first to least loaded, "
        "or interleaved: the tile's work items (non-zeros or P-groups) dealt one per line across units (ViTCoD)"
    )
    position_bytes: float = Field(
        0.0, ge=0.0, le=16.0, description="decode cost per weight position of a sparse tile, in bytes-worth of "
        "DRAM transfer (a tile of r x c positions moves ceil(r c position_bytes) more bytes); 0: none"
    )


class Split(_Strict):
    """How the two engines share the hardware and how columns of S are split between them."""

    policy: Literal["fixed", "shared_width", "time_multiplexed"] = Field(
        "fixed",
        description=(
            "fixed: two separate arrays running concurrently; shared_width: ViTCoD's split of one "
            "array's lines by dense ratio, concurrently; time_multiplexed: one array, the engines take turns"
        ),
    )
    density_threshold: float = Field(
        1.0, ge=0.0, le=1.0, description="columns of S denser than this go to the denser engine"
    )


class Buffers(_Strict):
    """On-chip SRAM, KiB; each buffer is split evenly between the two engines."""

    weight_kib: float = Field(..., gt=0, le=1 << 20)
    input_kib: float = Field(..., gt=0, le=1 << 20)
    output_kib: float = Field(..., gt=0, le=1 << 20)
    index_kib: float = Field(..., gt=0, le=1 << 20)
    banks: int = Field(1, ge=1, le=1024, description="banks per buffer (reported; no bank conflicts modelled)")
    double_buffering: bool = True


class Ports(_Strict):
    """Dedicated per-operand DRAM ports (SCALE-Sim's filter, ifmap and ofmap interfaces)."""

    weight_gbps: float = Field(..., ge=0.001, le=100000, description="weights, S values and indices, GB/s")
    input_gbps: float = Field(..., ge=0.001, le=100000, description="input activations, GB/s")
    output_gbps: float = Field(..., ge=0.001, le=100000, description="outputs written back, GB/s")


class Dram(_Strict):
    """Shared channels with address interleaving, or dedicated per-operand ports."""

    bandwidth_gbps: Optional[float] = Field(
        None, ge=0.001, le=100000, description="all channels together, GB/s (10^9 bytes per second); each has 1/channels"
    )
    latency_ns: float = Field(0.0, ge=0, le=1e6, description="request-to-first-byte latency, ns")
    channels: int = Field(1, ge=1, le=1024, description="independent channels (HBM pseudo-channels)")
    interleave_bytes: int = Field(256, ge=1, le=1 << 20, description="bytes per chunk dealt round-robin over channels")
    ports: Optional[Ports] = Field(None, description="per-operand ports instead of shared channels")

    @model_validator(mode="after")
    def _one_kind(self) -> "Dram":
        if (self.bandwidth_gbps is None) == (self.ports is None):
            raise ValueError("give exactly one of dram.bandwidth_gbps (shared channels) and dram.ports")
        if self.ports is not None and self.channels != 1:
            raise ValueError("dram.channels applies to shared channels, not to dram.ports")
        return self


class Precision(_Strict):
    weight_bits: int = Field(16, ge=1, le=64)
    activation_bits: int = Field(16, ge=1, le=64)
    output_bits: int = Field(16, ge=1, le=64)
    kv_bits: int = Field(16, ge=1, le=64, description="K and V cache entries, in DRAM and on chip")


class VectorUnit(_Strict):
    """Element-wise and reduction ops of a decoder layer (norms, softmax, SiLU x up, residual
    adds): `lanes` elements per pass; a function that needs c passes per element takes
    ceil(elements c / lanes) + latency cycles per tile."""

    lanes: int = Field(64, ge=1, le=1 << 16, description="elements processed per cycle in one pass")
    latency: int = Field(8, ge=0, le=4096, description="pipeline cycles added once per tile")
    norm_passes: int = Field(2, ge=1, le=64, description="RMSNorm/LayerNorm: sum of squares, then scale")
    softmax_passes: int = Field(3, ge=1, le=64, description="running max, exp and sum, normalise")
    topk_passes: int = Field(2, ge=1, le=64, description="top-k selection of a decode KV budget: a histogram pass "
                             "that finds the k-th score's bucket, then a pass that keeps the scores above it")
    silu_mul_passes: int = Field(2, ge=1, le=64, description="SiLU(gate) x up")
    add_passes: int = Field(1, ge=1, le=64, description="residual add")


class HardwareConfig(_Strict):
    name: str
    # >= 1 kHz: DRAM rates count the clock in whole kHz (memory.dram), so a slower clock would
    # make every transfer free
    clock_mhz: float = Field(..., ge=0.001, le=100000, description="MHz")
    denser_engine: DenserEngine
    sparser_engine: SparserEngine
    split: Split = Split()
    buffers: Optional[Buffers] = Field(None, description="null: unlimited (compute-only studies)")
    dram: Optional[Dram] = Field(None, description="null: ideal memory, compute only")
    precision: Precision = Precision()
    vector_unit: VectorUnit = VectorUnit()
    technology: Optional[Technology] = Field(None, description="what energy and area derive from (energy/costs.py)")
    energy: Optional[EnergyOverrides] = Field(None, description="explicit per-action costs over the technology's")

    @model_validator(mode="after")
    def _consistent(self) -> "HardwareConfig":
        if self.energy is not None and self.technology is None:
            raise ValueError("energy: overrides the technology's costs; give a technology section too")
        if self.split.policy == "shared_width":
            d, s = self.denser_engine, self.sparser_engine
            if d.kind != "mac_lines" or d.rows != s.macs_per_line or d.cols < 2:
                raise ValueError(
                    "split.policy=shared_width needs denser_engine.kind=mac_lines with "
                    "denser_engine.rows == sparser_engine.macs_per_line and at least 2 lines (one array of lines)"
                )
        return self

    @property
    def dram_latency_cycles(self) -> int:
        if self.dram is None:
            return 0
        return math.ceil(self.dram.latency_ns * self.clock_mhz / 1000.0)


def key_defaults(model: type[BaseModel] = None, prefix: str = "") -> list[tuple[str, str]]:
    """(dotted key, "required" | its default as YAML would write it) for every hardware key;
    docs/hardware-config.md lists the same table (tests check they agree)."""
    model = HardwareConfig if model is None else model
    out = []
    for name, f in model.model_fields.items():
        key = prefix + name
        sub = [a for a in (f.annotation, *typing.get_args(f.annotation)) if isinstance(a, type) and issubclass(a, BaseModel)]
        if f.is_required():
            shown = "required"
        elif f.default is None:
            shown = "null"
        elif sub:
            shown = "the defaults below"
        else:
            shown = str(f.default).lower() if isinstance(f.default, bool) else str(f.default)
        out.append((key, shown))
        if sub:
            out += key_defaults(sub[0], key + ".")
    return out


def _loc(err: dict) -> str:
    return ".".join(str(p) for p in err["loc"]) or "<top level>"


def _describe(err: dict) -> str:
    kind = err["type"]
    ctx = err.get("ctx", {}) or {}
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "missing required key"
    for bound, word in (("ge", ">="), ("gt", ">"), ("le", "<="), ("lt", "<")):
        if bound in ctx:
            return f"must be {word} {ctx[bound]}"
    if "expected" in ctx:
        return f"must be one of {ctx['expected']}"
    return err["msg"]


def describe_validation_error(exc: ValidationError) -> str:
    """"key 'a.b': what is wrong (got value)" for the first problem pydantic found."""
    err = exc.errors()[0]
    value = err.get("input")
    shown = "" if err["type"] == "missing" or isinstance(value, (dict, list)) else f" (got {value!r})"
    return f"key '{_loc(err)}': {_describe(err)}{shown}"


def parse_hw(data: object, source: str = "<config>") -> HardwareConfig:
    """Validate a mapping as a HardwareConfig; InputError names source, key, value and range."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a YAML mapping of hardware keys, got {type(data).__name__}")
    try:
        hw = HardwareConfig.model_validate(data)
    except ValidationError as exc:
        more = len(exc.errors()) - 1
        tail = f"; and {more} more problem(s)" if more else ""
        raise InputError(f"{source}: {describe_validation_error(exc)}{tail}") from None
    try:  # a technology whose costs the tables can not give is refused with the config, not mid-run
        resolve_costs(hw)
    except InputError as exc:
        raise InputError(f"{source}: technology: {exc}") from None
    return hw


MAX_YAML_BYTES = 1 << 20


class _NonStringKey(yaml.YAMLError):
    """Valid YAML, but a mapping key that is not a string."""


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses a mapping key that is not a string (every key of a config,
    spec or allocation file is a name; a list or mapping key is not even hashable) and a key
    given twice in one mapping (PyYAML keeps the last)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        seen: set = set()
        for key_node, _ in node.value:
            if not (isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:str"):
                raise _NonStringKey(f"mapping keys must be strings, got {_key_text(key_node)} "
                                    f"(line {key_node.start_mark.line + 1})")
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r} (line {key_node.start_mark.line + 1})", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _key_text(node: yaml.Node) -> str:
    """A short description of a non-string key node for an error message."""
    if isinstance(node, yaml.ScalarNode):
        return f"{node.value[:40]!r} ({node.tag.rsplit(':', 1)[-1]})"
    return "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"


def read_yaml(path: str | Path, what: str) -> object:
    """The parsed content of a YAML file; InputError (one line) when missing, not a regular
    file, unreadable, over 1 MB, not UTF-8, too deeply nested, malformed, or with a mapping
    key that is not a string or is given twice."""
    p = Path(path)
    try:
        if not p.is_file():
            raise InputError(f"{p}: {what} not found (or not a regular file)")
        if p.stat().st_size > MAX_YAML_BYTES:  # a config is kilobytes; a 50 MB list would take minutes to parse
            raise InputError(f"{p}: {what} is over {MAX_YAML_BYTES >> 20} MB")
        text = p.read_text(encoding="utf-8")
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506  (a SafeLoader subclass)
    except OSError as exc:  # a name too long, a loop of links, no permission
        raise InputError(f"{p}: {what} cannot be read ({exc.strerror or exc})") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: {what} is not UTF-8 text (byte {exc.start})") from None
    except RecursionError:
        raise InputError(f"{p}: {what} is nested too deeply") from None
    except _NonStringKey as exc:
        raise InputError(f"{p}: {what}: {exc}") from None
    except yaml.YAMLError as exc:
        raise InputError(f"{p}: not valid YAML ({' '.join(str(exc).split())})") from None


def load_hw(path: str | Path) -> HardwareConfig:
    """Load and validate a hardware YAML file."""
    return parse_hw(read_yaml(path, "hardware config file"), str(path))
