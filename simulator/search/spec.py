"""Search specs: a sweep spec whose `grid`/`list`/`random` is replaced by a `search` section.

```yaml
name: edge-search
hardware: ../hwconfigs/edge.yaml          # the sweep spec's keys, with the same meaning
model: smollm2-135m
layers: 2
fixed: {phase: decode, batch: 1, ratio: 0.5}
search:
  trials: 200                             # trial budget (a rerun with more trials resumes)
  seed: 0
  sampler: nsga2                          # nsga2 (default), tpe or random
  objectives: [total_cycles, pj_per_token, area_mm2]
  reference: {total_cycles: 2.0e6, pj_per_token: 2.0e9, area_mm2: 4.0}   # hypervolume reference point
  axes:                                   # the sweep's random-axis forms
    denser_engine.rows: {low: 4, high: 64, scale: log, integer: true}
    dram.bandwidth_gbps: {low: 3.2, high: 51.2, scale: log}
    pattern: [unstructured, "2:4"]        # a list is a choice
    "denser_engine.cols,sparser_engine.lines": [[16, 48], [32, 32]]   # a zipped choice
```

Everything but `search` is validated by the sweep's own rules (simulator.sweep.spec) when the
spec loads, and every trial's point is resolved by `parse_spec` itself, so a search point is
exactly the sweep point of the same values (same checks, same key, same row). Each axis value
is checked on its own up front (the hardware schema's range, the workload's); a combination
the simulator refuses (a budget a projection cannot meet, tiles that do not fit) is part of the
space and is recorded as an infeasible trial.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from simulator.config import describe_validation_error, parse_hw, read_yaml
from simulator.search.frontier import Measured, read_frontier
from simulator.search.objectives import Objective, objective
from simulator.sweep import spec as sweep_rules
from simulator.sweep.spec import (MAX_POINTS, WORKLOAD_DEFAULTS, WORKLOAD_KEYS, Point, RandomAxis, SweepSpec,
                                  WorkloadPoint, hardware_key_exists, parse_spec, set_dotted)
from workloads.errors import InputError
from workloads.limits import MAX_SEED

MAX_OBJECTIVES = 4  # the exact hypervolume costs n^(d-1) log n
ARTIFACT = "artifact"  # the axis over a frontier's artifacts (search.frontier)


class SearchSection(BaseModel):
    """The `search:` section's schema (strict, like the sweep's)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)

    trials: int = Field(..., ge=1, le=MAX_POINTS, description="trial budget")
    seed: int = Field(0, ge=0, le=MAX_SEED)
    sampler: Literal["nsga2", "tpe", "random"] = "nsga2"
    population: Optional[int] = Field(None, ge=2, le=MAX_POINTS, description="NSGA-II population (default 50)")
    objectives: list[str] = Field(..., min_length=1, max_length=MAX_OBJECTIVES)
    reference: dict[str, float]
    axes: dict[str, Any]
    frontier: Optional[str] = Field(None, description="a `sslcsim frontier` output directory: search its artifacts")


@dataclass(frozen=True)
class Axis:
    """One searched axis: a choice among values (`choices`) or a numeric range."""

    name: str  # as in the spec; comma-joined keys for a zipped choice
    keys: tuple[str, ...]
    choices: Optional[tuple[Any, ...]] = None
    low: float = 0.0
    high: float = 0.0
    log: bool = False
    integer: bool = False

    def labels(self) -> tuple[Any, ...]:
        """The choices as the optimiser stores them: plain values as they are, lists as JSON."""
        assert self.choices is not None
        return tuple(json.dumps(c) if isinstance(c, list) else c for c in self.choices)

    def value(self, sampled: Any) -> Any:
        """The axis value of what the optimiser sampled (a choice's label, or a number)."""
        if self.choices is not None:
            return self.choices[self.labels().index(sampled)]
        return int(sampled) if self.integer else float(sampled)

    def assign(self, value: Any) -> dict[str, Any]:
        """{key: value} of one axis value (a zipped choice sets each of its keys)."""
        return dict(zip(self.keys, value)) if len(self.keys) > 1 else {self.keys[0]: value}


@dataclass(frozen=True)
class Search:
    """A loaded search spec: the sweep part (resolved per trial), its axes and objectives."""

    name: str
    source: str
    base_dir: Path
    sweep: dict[str, Any]  # the spec without `search`: what every trial's point is resolved against
    axes: tuple[Axis, ...]
    objectives: tuple[Objective, ...]
    reference: tuple[float, ...]  # natural units, in objective order
    trials: int
    seed: int
    sampler: str
    population: Optional[int]
    artifacts: Optional[dict[str, Measured]] = None  # search.frontier's artifacts, by label

    def params(self, sampled: dict[str, Any]) -> dict[str, Any]:
        """The sweep point's axis values {key: value} of one trial's sampled values {axis name: value}."""
        out: dict[str, Any] = {}
        for axis in self.axes:
            out.update(axis.assign(axis.value(sampled[axis.name])))
        return out

    def point(self, params: dict[str, Any], where: str) -> Point:
        """The resolved sweep point of these axis values (InputError when the simulator refuses them)."""
        data, rest = self._model(params)
        return parse_spec({**data, "list": [rest]}, f"{self.source}: {where}", self.base_dir).points[0]

    def _model(self, params: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(the sweep part with the model of these values, the values a sweep point takes): a
        frontier's artifact is the model, not an axis of the sweep."""
        if ARTIFACT not in params:
            return self.sweep, params
        assert self.artifacts is not None
        rest = {k: v for k, v in params.items() if k != ARTIFACT}
        return {**self.sweep, "model": {"artifact": str(self.artifacts[params[ARTIFACT]].path)}}, rest

    def measured(self, params: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
        """The row with the artifact's measured perplexity, when the point is a frontier's artifact."""
        if ARTIFACT not in params or self.artifacts is None:
            return row
        return {**row, "perplexity": self.artifacts[params[ARTIFACT]].perplexity}

    def sweep_specs(self, points: list[dict[str, Any]], name: str) -> dict[str, dict[str, Any]]:
        """Sweep specs named `name` that re-run these points exactly: {"": spec}, or with a
        frontier {artifact label: spec} (a sweep spec has one model)."""
        groups: dict[str, list[dict[str, Any]]] = {}
        for p in points:
            groups.setdefault(p.get(ARTIFACT, ""), []).append(p)
        out = {}
        for label, group in groups.items():
            data, _ = self._model({ARTIFACT: label} if label else {})
            out[label] = self.sweep_spec([self._model(p)[1] for p in group], f"{name}-{label}" if label else name, data)
        return out

    def sweep_spec(self, points: list[dict[str, Any]], name: str,
                   sweep: Optional[dict[str, Any]] = None) -> dict[str, Any]:
        """A sweep spec (from `sweep`, default the spec's sweep part) that re-runs these points
        exactly (paths made absolute, so it runs from anywhere)."""
        data = copy.deepcopy(sweep or self.sweep)
        if isinstance(data["hardware"], str):
            data["hardware"] = str((self.base_dir / data["hardware"]).resolve())
        model = data["model"]
        if isinstance(model, str) and (self.base_dir / model).exists():
            data["model"] = {"config": str((self.base_dir / model).resolve())}
        elif isinstance(model, dict) and ("config" in model or "artifact" in model):
            (kind, value), = model.items()
            data["model"] = {kind: str((self.base_dir / value).resolve())}
        return {**data, "name": name, "list": points}


def _axis(source: str, name: str, raw: Any) -> Axis:
    where = f"{source}: search.axes.{name}"
    keys = tuple(k.strip() for k in str(name).split(","))
    if any(not k for k in keys) or len(set(keys)) != len(keys):
        raise InputError(f"{where}: malformed axis key")
    for k in keys:
        if k not in WORKLOAD_KEYS and not hardware_key_exists(k):
            raise InputError(f"{where}: unknown axis key '{k}' (expected a workload key ({', '.join(WORKLOAD_KEYS)}) "
                             "or a dotted hardware key such as sparser_engine.lines)")
    if isinstance(raw, list):
        if not raw:
            raise InputError(f"{where}: empty axis (give at least one value)")
        if len(keys) > 1 and any(not isinstance(v, list) or len(v) != len(keys) for v in raw):
            raise InputError(f"{where}: each value of a zipped axis must be a list of {len(keys)} values")
        if len(keys) == 1 and any(isinstance(v, (list, dict)) for v in raw):
            raise InputError(f"{where}: a choice of one key takes plain values (numbers, strings, booleans)")
        if len({json.dumps(v, sort_keys=True) for v in raw}) != len(raw):
            raise InputError(f"{where}: a value is given twice")
        return Axis(name, keys, choices=tuple(raw))
    if len(keys) > 1:
        raise InputError(f"{where}: a zipped axis is a list of choices, not a range")
    if not isinstance(raw, dict):
        raise InputError(f"{where}: expected a list of choices or {{low, high, scale, integer}}, got {raw!r}")
    try:
        r = RandomAxis.model_validate(raw)
    except ValidationError as exc:
        raise InputError(f"{where}: expected a list of choices or {{low, high, scale, integer}}: "
                         f"{describe_validation_error(exc)}") from None
    if not r.low <= r.high or (r.scale == "log" and r.low <= 0) or not abs(r.high - r.low) < 1e300:
        raise InputError(f"{where}: need low <= high, a finite range (and low > 0 for scale: log), "
                         f"got low={r.low} high={r.high}")
    if r.integer and not (r.low.is_integer() and r.high.is_integer()):
        raise InputError(f"{where}: an integer axis needs whole low and high, got low={r.low} high={r.high}")
    return Axis(name, keys, low=r.low, high=r.high, log=r.scale == "log", integer=r.integer)


def _extremes(axis: Axis) -> list[Any]:
    if axis.choices is not None:
        return list(axis.choices)
    return [int(axis.low), int(axis.high)] if axis.integer else [axis.low, axis.high]


def _check_values(source: str, axis: Axis, hw_base: dict[str, Any], fixed: dict[str, Any]) -> None:
    """Each value of the axis (each choice, both ends of a range) against the hardware schema or
    the workload's ranges, the rest of the point as the base: a value no point could take is a
    spec error, not an infeasible trial."""
    for value in _extremes(axis):
        params = axis.assign(value)
        where = f"{source}: search.axes.{axis.name} = {value!r}"
        hw_keys = {k: v for k, v in params.items() if k not in WORKLOAD_KEYS}
        if hw_keys:
            data = copy.deepcopy(hw_base)
            for k, v in hw_keys.items():
                set_dotted(data, k, v)
            parse_hw(data, where)
        wl = {k: v for k, v in params.items() if k in WORKLOAD_KEYS}
        if wl:
            try:
                WorkloadPoint.model_validate({**WORKLOAD_DEFAULTS, **fixed, **wl})
            except ValidationError as exc:
                raise InputError(f"{where}: {describe_validation_error(exc)}") from None


def _base(source: str, base_dir: Path, data: dict[str, Any], axes: list[str]) -> dict[str, Any]:
    """Validate the sweep part (everything but the axes) with the sweep's own checks; the base
    hardware mapping with the overrides applied."""
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as exc:
        raise InputError(f"{source}: {describe_validation_error(exc)}") from None
    for mode in ("grid", "list", "random"):
        if getattr(spec, mode) is not None:
            raise InputError(f"{source}: {mode}: a search spec has a search section instead of grid, list or random")
    for key in spec.fixed:
        if key not in WORKLOAD_KEYS:
            raise InputError(f"{source}: fixed: unknown workload key '{key}' "
                             f"(expected one of {', '.join(WORKLOAD_KEYS)})")
    hw_base = sweep_rules._base_hardware(source, base_dir, spec.hardware)
    for key, value in spec.overrides.items():
        if not hardware_key_exists(key):
            raise InputError(f"{source}: overrides: unknown hardware key '{key}'")
        set_dotted(hw_base, key, value)
    parse_hw(hw_base, f"{source}: overrides")
    shape, art = sweep_rules._model_shape(source, base_dir, spec.model)
    if art is not None and spec.layers is not None:
        raise InputError(f"{source}: key 'layers': not supported with model.artifact (the artifact has every layer)")
    if spec.layers is not None and spec.layers > shape.num_layers:
        raise InputError(f"{source}: key 'layers': {spec.layers} exceeds the model's {shape.num_layers} layers")
    sweep_rules._check_key_conflicts(source, spec, axes, art)
    return hw_base


def _objectives(source: str, sec: SearchSection, hw_base: dict[str, Any],
                measured: bool) -> tuple[tuple[Objective, ...], tuple[float, ...]]:
    objs = tuple(objective(source, name) for name in sec.objectives)
    if len(set(sec.objectives)) != len(objs):
        raise InputError(f"{source}: search.objectives: an objective is given twice")
    if set(sec.reference) != set(sec.objectives):
        raise InputError(f"{source}: search.reference: give one value per objective "
                         f"({', '.join(sec.objectives)}), got {', '.join(sec.reference) or 'none'}")
    energy = [o.name for o in objs if o.needs_technology]
    if energy and hw_base.get("technology") is None:
        raise InputError(f"{source}: search.objectives: '{energy[0]}' needs a hardware config with a technology "
                         "section (docs/energy.md)")
    if "perplexity" in sec.objectives and not measured:
        raise InputError(f"{source}: search.objectives: 'perplexity' needs measured artifacts (search.frontier: "
                         "a `sslcsim frontier` output directory); simulated budgets have none")
    return objs, tuple(sec.reference[name] for name in sec.objectives)


def parse_search(data: object, source: str, base_dir: Path) -> Search:
    """Validate a search spec mapping (InputError, one line, on any problem)."""
    if not isinstance(data, dict):
        raise InputError(f"{source}: expected a YAML mapping, got {type(data).__name__}")
    if "search" not in data:
        raise InputError(f"{source}: no search section (give search: {{trials, objectives, reference, axes}})")
    rest = {k: v for k, v in data.items() if k != "search"}
    try:
        sec = SearchSection.model_validate(data["search"])
    except ValidationError as exc:
        raise InputError(f"{source}: search: {describe_validation_error(exc)}") from None
    if sec.population is not None and sec.sampler != "nsga2":
        raise InputError(f"{source}: search.population: applies to sampler nsga2 only (got sampler {sec.sampler})")
    if not sec.axes:
        raise InputError(f"{source}: search.axes: no axes (give at least one key: range or [choices])")
    axes = [_axis(source, name, raw) for name, raw in sec.axes.items()]
    keys = [k for a in axes for k in a.keys]
    if len(set(keys)) != len(keys):
        raise InputError(f"{source}: search.axes: a key is in two axes")
    artifacts = _frontier(source, base_dir, sec, rest)
    hw_base = _base(source, base_dir, rest, keys)
    for axis in axes:
        _check_values(source, axis, hw_base, rest.get("fixed", {}))
    if artifacts is not None:
        axes.append(Axis(ARTIFACT, (ARTIFACT,), choices=tuple(artifacts)))
    objs, ref = _objectives(source, sec, hw_base, artifacts is not None)
    return Search(str(rest["name"]), source, base_dir, rest, tuple(axes), objs, ref, sec.trials, sec.seed,
                  sec.sampler, sec.population, artifacts)


def _frontier(source: str, base_dir: Path, sec: SearchSection,
              rest: dict[str, Any]) -> Optional[dict[str, Measured]]:
    """search.frontier's artifacts (None without one). Their model is the spec's: `rest` gets
    the first artifact as its model, so that the sweep's checks (an artifact fixes the
    budget) apply; each trial then names its own."""
    if sec.frontier is None:
        return None
    if "model" in rest:
        raise InputError(f"{source}: model: a search over search.frontier's artifacts takes the model from them; "
                         "leave model out")
    artifacts = read_frontier(f"{source}: search.frontier", base_dir / sec.frontier)
    rest["model"] = {"artifact": str(next(iter(artifacts.values())).path)}
    return artifacts


def load_search(path: str | Path) -> Search:
    """Load and validate a search spec file; paths inside it are relative to it."""
    p = Path(path)
    return parse_search(read_yaml(p, "search spec"), str(p), p.resolve().parent)
