"""A frontier spec (YAML, strict): one model, methods x allocations x ratios, the hardware
configs and phases to simulate each artifact on, calibration and evaluation settings."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from compression.methods import ALLOCATED, METHODS
from simulator.config import describe_validation_error, load_hw, read_yaml
from workloads.errors import InputError



class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class Calibration(_Strict):
    samples: int = Field(16, ge=1, le=4096, description="calibration windows")
    seqlen: int = Field(512, ge=2, le=1 << 16, description="tokens per window")


class Evaluation(_Strict):
    windows: int = Field(16, ge=1, le=1 << 16, description="held-out windows for perplexity")
    seqlen: int = Field(512, ge=2, le=1 << 16, description="tokens per window")


class Phase(_Strict):
    phase: Literal["decode", "prefill"]
    batch: int = Field(1, ge=1, le=1 << 16)
    seq: int = Field(1, ge=1, le=1 << 20, description="prompt tokens (prefill)")


class HardwareAware(_Strict):
    """A hardware-aware global allocation, one method variant per entry (docs/compression.md)."""

    hardware: str = Field(..., min_length=1, description="hardware YAML of the costs, relative to the spec")
    phase: Literal["decode", "prefill", "both"] = "decode"
    cost: Literal["cycles", "energy"] = "cycles"
    batch: int = Field(1, ge=1, le=1 << 16)
    seq: int = Field(512, ge=1, le=1 << 16, description="prompt tokens of a prefill cost simulation")
    target: float | None = Field(None, gt=0, le=1e6, description="total cost as a fraction of dense's "
                                 "(default: the loss-only global allocation's cost at the point's ratio)")
    masks: Literal["candidates", "synthetic"] = Field("candidates", description="S masks the candidates are priced on")


class FrontierSpec(_Strict):
    name: str = Field(..., min_length=1, max_length=100)
    model: str = Field(..., min_length=1, description="a compression model name or directory")
    methods: list[Literal[METHODS]] = Field(..., min_length=1)
    allocations: list[Literal["uniform", "owl", "global"]] = Field(["uniform"], min_length=1)
    ratios: list[float] = Field(..., min_length=1)
    hardware: list[str] = Field(..., min_length=1, description="hardware YAML files, relative to the spec")
    phases: list[Phase] = Field([Phase(phase="decode"), Phase(phase="prefill", seq=512)], min_length=1)
    calibration: Calibration = Calibration()
    evaluation: Evaluation = Evaluation()
    seed: int = Field(0, ge=0, le=2**31 - 1)
    hardware_aware: list[HardwareAware] = Field(
        [], description="hardware-aware global allocations: each adds a variant of every allocated method")
    hyperparameters: dict[str, dict[str, int | float | str]] = Field(
        {}, description="per method, extra compression hyper-parameters (e.g. sslc: {iters: 40})")


@dataclass(frozen=True)
class FrontierPoint:
    method: str
    allocation: str  # uniform | owl | global, or hw-<hardware>-<phase>-<cost> (hardware-aware global)
    ratio: float
    hw: int | None = None  # index of its spec.hardware_aware entry

    @property
    def label(self) -> str:
        return f"{self.method}-{self.allocation}-{self.ratio:g}"


def hw_allocation_name(v: HardwareAware) -> str:
    """The allocation column of a hardware-aware variant: hw-<config stem>-<phase>-<cost>[-<target>][-synthetic]."""
    return (f"hw-{Path(v.hardware).stem}-{v.phase}-{v.cost}" + (f"-{v.target:g}" if v.target is not None else "")
            + ("-synthetic" if v.masks == "synthetic" else ""))


@dataclass
class Frontier:
    spec: FrontierSpec
    source: Path
    hardware: list[tuple[str, object]]  # (path as given, HardwareConfig)
    points: list[FrontierPoint]
    cost_hardware: list[tuple[Path, object]] = field(default_factory=list)  # per hardware_aware entry

    def key(self, p: FrontierPoint) -> str:
        """sha256 of everything that decides the point's numbers (not the hardware list)."""
        s = self.spec
        blob = {"model": s.model, "method": p.method, "allocation": p.allocation, "ratio": p.ratio,
                "calibration": s.calibration.model_dump(), "evaluation": s.evaluation.model_dump(), "seed": s.seed,
                "hyperparameters": s.hyperparameters.get(p.method, {})}
        if p.hw is not None:  # the costs' hardware by content, not by file name
            v = s.hardware_aware[p.hw]
            blob["hardware_aware"] = {**v.model_dump(), "hardware": self.cost_hardware[p.hw][1].model_dump(mode="json")}
        return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()[:16]


def points_of(spec: FrontierSpec) -> list[FrontierPoint]:
    """methods x allocations x ratios, leaving out what does not apply (a non-uniform allocation
    for pure low rank)."""
    out = []
    for method in spec.methods:
        for alloc in spec.allocations:
            if alloc != "uniform" and method not in ALLOCATED:
                continue
            for ratio in spec.ratios:
                out.append(FrontierPoint(method, alloc, ratio))
    for i, v in enumerate(spec.hardware_aware):
        out += [FrontierPoint(method, hw_allocation_name(v), ratio, i) for method in spec.methods
                if method in ALLOCATED for ratio in spec.ratios]
    return out


def load_frontier(path: str | Path) -> Frontier:
    """Read and validate a spec; InputError (one line) naming the file and key."""
    p = Path(path)
    data = read_yaml(p, "frontier spec")
    if not isinstance(data, dict):
        raise InputError(f"{p}: expected a YAML mapping, got {type(data).__name__}")
    try:
        spec = FrontierSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{p}: {describe_validation_error(exc)}") from None
    for r in spec.ratios:
        if not 0.0 < r <= 1.0:
            raise InputError(f"{p}: key 'ratios': {r} is not a kept fraction in (0, 1]")
    for method in spec.hyperparameters:
        if method not in spec.methods:
            raise InputError(f"{p}: key 'hyperparameters.{method}': not one of the spec's methods")
    hardware = [(h, load_hw((p.parent / h) if not Path(h).is_absolute() else h)) for h in spec.hardware]
    cost_hw = []
    for i, v in enumerate(spec.hardware_aware):
        path = (p.parent / v.hardware) if not Path(v.hardware).is_absolute() else Path(v.hardware)
        hw = load_hw(path)
        if v.cost == "energy" and hw.technology is None:
            raise InputError(f"{p}: key 'hardware_aware[{i}].cost': energy needs a 'technology' section in {path}")
        cost_hw.append((path, hw))
    names = [hw_allocation_name(v) for v in spec.hardware_aware]
    if len(set(names)) != len(names):
        raise InputError(f"{p}: key 'hardware_aware': two entries give the same variant ({names})")
    points = points_of(spec)
    if not points:
        raise InputError(f"{p}: no point: every method x allocation combination is inapplicable")
    return Frontier(spec, p, hardware, points, cost_hw)
