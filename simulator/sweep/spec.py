"""Sweep specs: a YAML file naming a base hardware config, a model and the axes to vary.

```yaml
name: my-sweep
hardware: ../hwconfigs/vitcod.yaml      # path (relative to this file) or an inline mapping
overrides: {dram.bandwidth_gbps: 200}   # optional: dotted hardware keys set on the base
model: llama-2-7b                       # preset, config.json path, or {preset|config|artifact: ...}
layers: null                            # optional: simulate only the first N decoder layers
fixed: {ratio: 0.5, rank: 128, phase: decode}   # workload values not swept (defaults below)
grid:                                   # exactly one of grid / list / random
  ratio: [0.3, 0.4, 0.5, 0.6]
  rank: [32, 64, 128, 256]
  "denser_engine.cols,sparser_engine.lines": [[16, 48], [32, 32], [48, 16]]   # zipped axis
```

Axis keys are workload keys (`WORKLOAD_KEYS`) or dotted hardware keys of
`simulator.config.HardwareConfig`. A key made of comma-joined keys is a zipped axis: its
values are lists, one entry per key. `list:` is a list of points (mappings key -> value);
`random: {samples: N, seed: S, axes: {key: [choices] | {low, high, scale, integer}}}` draws
N seeded samples. Every point is resolved and validated before any point runs.
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import math
import json
import types
import typing
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Literal, Optional

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError

import simulator
from simulator.config import HardwareConfig, describe_validation_error, parse_hw, read_yaml
from simulator.program.footprint import check_footprint, memory_cap
from workloads import artifact as artifact_format
from workloads.budget import Budget
from workloads.errors import InputError
from workloads.from_artifact import artifact_shape
from workloads.limits import MAX_BATCH, MAX_FEATURES, MAX_SEED, MAX_SEQ, MAX_TOKENS
from workloads.presets import ModelShape, resolve_model

# Workload keys an axis (or `fixed`) may set, and their defaults.
MAX_POINTS = 100_000  # points one sweep validates and stores

WORKLOAD_DEFAULTS: dict[str, Any] = {
    "ratio": 0.5,
    "rank": 128,
    "preserve": 0.01,
    "pattern": "unstructured",
    "generator": "wanda-like",
    "s_density": "accounting",
    "phase": "decode",
    "batch": 1,
    "seq": 1,
    "seed": 0,
}
WORKLOAD_KEYS = tuple(WORKLOAD_DEFAULTS)
# Keys an artifact fixes (its masks and ranks): not sweepable with `model: {artifact: DIR}`.
BUDGET_KEYS = ("ratio", "rank", "preserve", "pattern", "generator", "s_density", "seed")


class _Strict(BaseModel):
    # strict: `layers: true` is not 1, a quoted number is not a number; no inf/nan
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class WorkloadPoint(_Strict):
    """The workload half of a point: budget (kept fraction, rank ...) and phase/batch/seq."""

    ratio: float = Field(..., gt=0.0, le=1.0, description="kept fraction of each projection's parameters")
    rank: int = Field(..., ge=0, le=MAX_FEATURES, description="rank r of U V (at most min(m, n) of every projection)")
    preserve: float = Field(..., ge=0.0, lt=1.0, description="preserved top-salience fraction")
    pattern: str = Field(..., description="'unstructured' or N:M, e.g. 2:4")
    generator: Literal["wanda-like", "uniform"]
    s_density: Literal["accounting", "ratio"]
    phase: Literal["decode", "prefill"]
    # the simulator's own bounds (workloads.limits), so that a point validated here is one it runs
    batch: int = Field(..., ge=1, le=MAX_BATCH, description="sequences")
    seq: int = Field(..., ge=1, le=MAX_SEQ, description="tokens per sequence (prefill)")
    seed: int = Field(..., ge=0, le=MAX_SEED, description="synthetic mask seed")

    def budget(self) -> Budget:
        return Budget(self.ratio, self.rank, self.preserve, self.pattern, self.generator, self.s_density)


class RandomAxis(_Strict):
    """A continuous or integer range sampled uniformly (linear) or log-uniformly (log)."""

    low: float
    high: float
    scale: Literal["linear", "log"] = "linear"
    integer: bool = False


class RandomSpec(_Strict):
    samples: int = Field(..., ge=1, le=MAX_POINTS)
    seed: int = Field(0, ge=0, le=MAX_SEED)
    axes: dict[str, Any]


class SweepSpec(_Strict):
    """The YAML schema; `load_spec` turns it into a `Sweep` of resolved points."""

    name: str = Field(..., min_length=1)
    description: str = ""
    hardware: str | dict[str, Any]
    overrides: dict[str, Any] = {}
    model: str | dict[str, str]
    layers: Optional[int] = Field(None, ge=1, description="first N decoder layers only (null: all)")
    fixed: dict[str, Any] = {}
    grid: Optional[dict[str, Any]] = None
    list: Optional[typing.List[dict[str, Any]]] = None  # noqa: UP006 (the field is named `list`)
    random: Optional[RandomSpec] = None


@dataclass(frozen=True)
class Point:
    """One resolved point: everything a worker needs, plain data (picklable, JSON-able)."""

    index: int
    key: str  # sha256 of the resolved config + workload + simulator version
    params: dict[str, Any]  # the swept axis values, by axis key
    hardware: dict[str, Any]  # resolved HardwareConfig, JSON form
    model: dict[str, Any]  # ModelShape fields
    layers: Optional[int]
    workload: dict[str, Any]  # WorkloadPoint fields; for an artifact: phase, batch, seq, artifact digest
    artifact: Optional[str] = None  # absolute artifact directory (real masks), else shape-only

    @property
    def dense_key(self) -> str:
        """Points with equal dense_key share their dense baseline run."""
        w = self.workload
        return _digest([self.hardware, self.model, self.layers, w["phase"], w["batch"], w["seq"]])


@dataclass(frozen=True)
class Sweep:
    name: str
    axes: tuple[str, ...]  # axis keys in spec order (zipped axes expanded)
    points: tuple[Point, ...]


# ---------------------------------------------------------------- helpers


def _digest(obj: Any) -> str:
    text = json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _unwrap_model(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model class inside `X`, `Optional[X]` or `X | None`, else None."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _unwrap_model(arg)
            if found is not None:
                return found
    return None


def hardware_key_exists(dotted: str) -> bool:
    """Whether `dotted` (e.g. 'sparser_engine.lines') names a leaf of HardwareConfig."""
    cls: type[BaseModel] | None = HardwareConfig
    parts = dotted.split(".")
    for i, part in enumerate(parts):
        if cls is None or part not in cls.model_fields:
            return False
        sub = _unwrap_model(cls.model_fields[part].annotation)
        if i == len(parts) - 1:
            return sub is None  # a leaf, not a whole section
        cls = sub
    return False


def set_dotted(data: dict[str, Any], dotted: str, value: Any) -> None:
    """Set data[a][b][c] = value for 'a.b.c', creating sections that are absent or null."""
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        if not isinstance(node.get(part), dict):
            node[part] = {}
        node = node[part]
    node[parts[-1]] = value


def _check_key(source: str, where: str, key: str) -> None:
    if key in WORKLOAD_KEYS or hardware_key_exists(key):
        return
    raise InputError(
        f"{source}: {where}: unknown axis key '{key}' (expected a workload key ({', '.join(WORKLOAD_KEYS)}) "
        f"or a dotted hardware key such as sparser_engine.lines)"
    )


def _split_key(source: str, where: str, key: str) -> list[str]:
    keys = [k.strip() for k in str(key).split(",")]
    if any(not k for k in keys) or len(set(keys)) != len(keys):
        raise InputError(f"{source}: {where}: malformed axis key '{key}'")
    for k in keys:
        _check_key(source, where, k)
    return keys


def _expand_grid(source: str, grid: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
    if not grid:
        raise InputError(f"{source}: grid: no axes (give at least one key: [values])")
    names: list[str] = []
    columns: list[list[dict[str, Any]]] = []
    for key, values in grid.items():
        keys = _split_key(source, "grid", key)
        if not isinstance(values, list):
            raise InputError(f"{source}: grid.{key}: expected a list of values, got {values!r}")
        if not values:
            raise InputError(f"{source}: grid.{key}: empty axis (give at least one value)")
        col = []
        for v in values:
            if len(keys) > 1:
                if not isinstance(v, list) or len(v) != len(keys):
                    raise InputError(f"{source}: grid.{key}: each value of a zipped axis must be a list of "
                                     f"{len(keys)} values, got {v!r}")
                col.append(dict(zip(keys, v)))
            else:
                col.append({keys[0]: v})
        if set(keys) & set(names):
            raise InputError(f"{source}: grid.{key}: key set twice")
        names += keys
        columns.append(col)
    total = math.prod(len(c) for c in columns)
    if total > MAX_POINTS:  # checked before expanding: a million-point grid took 89 s to validate silently
        raise InputError(f"{source}: grid: {total:,} points, more than the {MAX_POINTS:,} one sweep takes; "
                         "split the sweep or sample it with random:")
    points = [{k: v for part in combo for k, v in part.items()} for combo in itertools.product(*columns)]
    return names, points


def _expand_list(source: str, items: list[dict[str, Any]]) -> tuple[list[str], list[dict[str, Any]]]:
    if not items:
        raise InputError(f"{source}: list: empty (give at least one point)")
    names: list[str] = []
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not item:
            raise InputError(f"{source}: list[{i}]: expected a non-empty mapping of axis key -> value")
        for k in item:
            _check_key(source, f"list[{i}]", k)
            if k not in names:
                names.append(k)
    return names, [dict(item) for item in items]


def _expand_random(source: str, spec: RandomSpec) -> tuple[list[str], list[dict[str, Any]]]:
    if not spec.axes:
        raise InputError(f"{source}: random.axes: no axes")
    rng = np.random.default_rng(spec.seed)
    draws: dict[str, list[Any]] = {}
    for key, axis in spec.axes.items():
        _check_key(source, "random.axes", key)
        where = f"random.axes.{key}"
        if isinstance(axis, list):
            if not axis:
                raise InputError(f"{source}: {where}: empty axis (give at least one value)")
            idx = rng.integers(0, len(axis), spec.samples)
            draws[key] = [axis[i] for i in idx]
            continue
        try:
            ax = RandomAxis.model_validate(axis)
        except ValidationError as exc:
            raise InputError(f"{source}: {where}: {describe_validation_error(exc)}") from None
        if not ax.low <= ax.high or (ax.scale == "log" and ax.low <= 0) or not abs(ax.high - ax.low) < 1e300:
            raise InputError(f"{source}: {where}: need low <= high, a finite range (and low > 0 for scale: log), "
                             f"got low={ax.low} high={ax.high}")
        if ax.scale == "log":
            vals = np.exp(rng.uniform(np.log(ax.low), np.log(ax.high), spec.samples))
        else:
            vals = rng.uniform(ax.low, ax.high, spec.samples)
        draws[key] = [int(round(v)) for v in vals] if ax.integer else [float(v) for v in vals]
    names = list(draws)
    return names, [{k: draws[k][i] for k in names} for i in range(spec.samples)]


def _model_shape(source: str, base: Path, model: str | dict[str, str]) -> tuple[ModelShape, Optional[dict]]:
    """The model's shape, and for an artifact {path, sha256 of its manifest (which hashes every file)}."""
    if isinstance(model, str):
        model = {"config": model} if (base / model).exists() else {"preset": model}
    if len(model) != 1:
        raise InputError(f"{source}: model: expected a preset name or one of {{preset, config, artifact}}, got {model!r}")
    (kind, value), = model.items()
    if kind == "preset":
        return resolve_model(str(value)), None
    if kind == "config":
        path = base / str(value)
        if not path.exists():
            raise InputError(f"{source}: model.config: {path} not found")
        return resolve_model(str(path)), None
    if kind == "artifact":
        root = (base / str(value)).resolve()
        manifest = artifact_format.load_manifest(root)  # InputError naming the file on any problem
        where = str(root / artifact_format.MANIFEST_NAME)
        if not manifest["complete"]:
            raise InputError(f"{where}: the artifact is incomplete; finish or resume the compress run first")
        digest = hashlib.sha256((root / artifact_format.MANIFEST_NAME).read_bytes()).hexdigest()
        return artifact_shape(manifest), {"path": str(root), "manifest_sha256": digest}
    raise InputError(f"{source}: model: unknown model source '{kind}' (expected preset, config or artifact)")


def _base_hardware(source: str, base: Path, hardware: str | dict[str, Any]) -> dict[str, Any]:
    """The base hardware mapping (inline, or the file named), validated on its own."""
    if isinstance(hardware, dict):
        data, where = copy.deepcopy(hardware), f"{source}: hardware"
    else:
        path = base / hardware
        data, where = read_yaml(path, f"hardware config file (named in {source})"), str(path)
    parse_hw(data, where)
    return data


# ---------------------------------------------------------------- resolving points


def _check_key_conflicts(source: str, spec: SweepSpec, axes: list[str], art: Optional[dict]) -> None:
    """A key set in two places (fixed and an axis, overrides and an axis) is refused rather than
    letting one silently win: the losing value would never be checked. With an artifact, the
    budget keys it fixes are refused wherever they appear."""
    for where, keys in (("fixed", spec.fixed), ("overrides", spec.overrides)):
        both = [k for k in axes if k in keys]
        if both:
            raise InputError(f"{source}: key '{both[0]}' is given both in {where} and as an axis; "
                             f"give it in one place")
    if art is not None:
        for where, keys in (("fixed", spec.fixed), ("axes", axes)):
            bad = [k for k in keys if k in BUDGET_KEYS]
            if bad:
                raise InputError(f"{source}: {where}: key '{bad[0]}' does not apply to model.artifact "
                                 f"(the artifact fixes masks and ranks; sweep hardware keys, phase, batch, seq)")


@dataclass
class _Resolver:
    """Turns a point's axis values into a validated Point, with the checks a worker would
    otherwise meet only while simulating: the hardware config, the workload's ranges (the
    simulator's own, workloads.limits), the budget of every projection and the memory the
    point needs (simulator/program/footprint.py). Caches what points share."""

    source: str
    spec: SweepSpec
    hw_base: dict[str, Any]
    shape: ModelShape
    art: Optional[dict]
    cap: tuple[int, str]  # memory_cap(), read once
    hw_cache: dict[str, HardwareConfig] = field(default_factory=dict)
    checked: set[str] = field(default_factory=set)

    def hardware(self, where: str, params: dict[str, Any]) -> HardwareConfig:
        hw_data = copy.deepcopy(self.hw_base)
        for key, value in params.items():
            if key not in WORKLOAD_KEYS:
                set_dotted(hw_data, key, value)
        hw_id = _digest(hw_data)
        if hw_id not in self.hw_cache:  # the base alone is valid: a problem comes from the axes or the overrides
            swept = params.keys() - set(WORKLOAD_KEYS)
            self.hw_cache[hw_id] = parse_hw(hw_data, where if swept else f"{self.source}: overrides")
        return self.hw_cache[hw_id]

    def workload(self, where: str, params: dict[str, Any]) -> WorkloadPoint:
        wl = {**WORKLOAD_DEFAULTS, **self.spec.fixed, **{k: v for k, v in params.items() if k in WORKLOAD_KEYS}}
        try:
            workload = WorkloadPoint.model_validate(wl)
        except ValidationError as exc:
            raise InputError(f"{where}: {describe_validation_error(exc)}") from None
        if workload.phase == "prefill" and workload.batch * workload.seq > MAX_TOKENS:
            raise InputError(f"{where}: keys 'batch' x 'seq': {workload.batch} x {workload.seq} tokens, more than "
                             f"the {MAX_TOKENS} one prefill step holds")
        return workload

    def once(self, key: list, check: Callable[[], None]) -> None:
        """Run `check` the first time `key` is seen (points share budgets and footprints)."""
        digest = _digest(key)
        if digest not in self.checked:
            check()
            self.checked.add(digest)

    def point(self, i: int, params: dict[str, Any]) -> Point:
        where = f"{self.source}: point {i} ({', '.join(f'{k}={v}' for k, v in params.items())})"
        hw, workload = self.hardware(where, params), self.workload(where, params)
        hw_json, model = hw.model_dump(mode="json"), asdict(self.shape)
        self.once([hw_json, workload.phase, workload.batch, workload.seq], lambda: check_footprint(
            where, self.shape, hw, workload.phase, workload.batch, workload.seq, cap=self.cap))
        version = simulator.__version__
        if self.art is not None:
            wl_art = {"phase": workload.phase, "batch": workload.batch, "seq": workload.seq,
                      "artifact_manifest_sha256": self.art["manifest_sha256"]}
            key = _digest({"hardware": hw_json, "model": model, "workload": wl_art, "version": version})
            return Point(i, key, params, hw_json, model, None, wl_art, self.art["path"])
        self.once([workload.ratio, workload.rank, workload.preserve, workload.pattern, workload.s_density],
                  lambda: self.budget(where, workload))
        wl_json = workload.model_dump(mode="json")
        key = _digest({"hardware": hw_json, "model": model, "layers": self.spec.layers, "workload": wl_json,
                       "version": version})
        return Point(i, key, params, hw_json, model, self.spec.layers, wl_json)

    def budget(self, where: str, workload: WorkloadPoint) -> None:
        try:
            budget = workload.budget()
            for name, _, m, n in self.shape.projections():
                budget.s_nnz(name, m, n)
        except InputError as exc:
            raise InputError(f"{where}: {exc}") from None


# ---------------------------------------------------------------- public


def _validated(data: object, source: str) -> SweepSpec:
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a YAML mapping, got {type(data).__name__}")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {describe_validation_error(exc)}") from None
    modes = [m for m in ("grid", "list", "random") if getattr(spec, m) is not None]
    if len(modes) != 1:
        raise InputError(f"{source}: give exactly one of grid, list, random (got {', '.join(modes) or 'none'})")
    for key in spec.fixed:
        if key not in WORKLOAD_KEYS:
            raise InputError(f"{source}: fixed: unknown workload key '{key}' "
                             f"(expected one of {', '.join(WORKLOAD_KEYS)})")
    return spec


def parse_spec(data: object, source: str, base_dir: Path) -> Sweep:
    """Validate a spec mapping and resolve every point (InputError, one line, on any problem)."""
    spec = _validated(data, source)
    hw_base = _base_hardware(source, base_dir, spec.hardware)
    for key, value in spec.overrides.items():
        if not hardware_key_exists(key):
            raise InputError(f"{source}: overrides: unknown hardware key '{key}'")
        set_dotted(hw_base, key, value)
    shape, art = _model_shape(source, base_dir, spec.model)
    if art is not None and spec.layers is not None:
        raise InputError(f"{source}: key 'layers': not supported with model.artifact (the artifact has every layer)")
    if spec.layers is not None and spec.layers > shape.num_layers:
        raise InputError(f"{source}: key 'layers': {spec.layers} exceeds the model's {shape.num_layers} layers")
    if spec.grid is not None:
        axes, raw = _expand_grid(source, spec.grid)
    elif spec.list is not None:
        axes, raw = _expand_list(source, spec.list)
    else:
        assert spec.random is not None
        axes, raw = _expand_random(source, spec.random)
    _check_key_conflicts(source, spec, axes, art)
    resolver = _Resolver(source, spec, hw_base, shape, art, memory_cap())
    return Sweep(spec.name, tuple(axes), tuple(resolver.point(i, params) for i, params in enumerate(raw)))


def load_spec(path: str | Path) -> Sweep:
    """Load, validate and expand a sweep spec file; paths inside it are relative to it."""
    p = Path(path)
    return parse_spec(read_yaml(p, "sweep spec"), str(p), p.resolve().parent)
