"""A study's results: its trials, Pareto set and hypervolume; the Pareto table, the sweep spec
that re-runs the Pareto set, and re-running one trial from its stored provenance."""

from __future__ import annotations

import csv
import io
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import yaml

import simulator
from simulator.reports.files import atomic_write
from simulator.reports.provenance import canonical_sha256
from simulator.search.hypervolume import hypervolume, pareto_indices
from simulator.search.objectives import minimised, values
from simulator.search.plot import pareto_figure
from simulator.search.spec import Search
from simulator.search.study import refuse_foreign, storage
from simulator.sweep.worker import simulate_point
from workloads.errors import InputError

# columns the table adds after the objectives, where a row has them and they are not objectives
EXTRA = ("speedup", "seconds", "pj_per_token", "area_mm2", "energy_gain")


@dataclass(frozen=True)
class TrialResult:
    number: int
    params: dict[str, Any]  # sweep axis values
    values: tuple[float, ...]  # objectives, natural units, spec order
    row: dict[str, Any]  # the sweep worker's row
    provenance: dict[str, Any]  # params, point key, hardware sha256, simulator version


def load_study(search: Search, db: str | Path) -> Any | None:
    """The search's study in `db`, read as it is (no lock: a running search may be writing);
    None when there is no database or no study of the spec's name in it."""
    import optuna

    path = Path(db)
    if not path.is_file() or path.stat().st_size == 0:
        return None
    refuse_foreign(path)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    store = storage(path, create=False)
    if search.name not in [s.study_name for s in store.get_all_studies()]:
        return None
    return optuna.load_study(study_name=search.name, storage=store)


def require_study(search: Search, db: str | Path) -> Any:
    """load_study, or InputError when there is nothing to read."""
    study = load_study(search, db)
    if study is None:
        raise InputError(f"{db}: no study named '{search.name}' (the spec's name) here; run "
                         f"`sslcsim search {search.source} --out {db}` first")
    return study


def results(study: Any) -> list[TrialResult]:
    """Every simulated (COMPLETE) trial, in trial order."""
    from optuna.trial import TrialState

    return [TrialResult(t.number, t.user_attrs["point"]["params"], tuple(t.values), t.user_attrs["row"],
                        t.user_attrs["point"]) for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]


def pareto(search: Search, trials: list[TrialResult]) -> list[TrialResult]:
    """The non-dominated trials; of trials with equal objective values (a point sampled twice)
    only the first is listed."""
    keep = pareto_indices([minimised(t.values, search.objectives) for t in trials])
    return [trials[i] for i in keep]


def front_hypervolume(search: Search, vals: list[Sequence[float]]) -> float:
    """Hypervolume of objective values (natural units, spec order) against the spec's reference."""
    return hypervolume([minimised(v, search.objectives) for v in vals], minimised(search.reference, search.objectives))


def row_values(search: Search, rows: list[dict[str, Any]]) -> list[list[float]]:
    """Objective values of sweep rows (status ok, every objective present): a sweep of the same
    space measured with the search's rule."""
    names = [o.name for o in search.objectives]
    return [values(r, search.objectives) for r in rows if r.get("status") == "ok" and all(r.get(n) is not None
                                                                                          for n in names)]


def _cell(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}" if math.isfinite(v) else str(v)
    return str(v)


def table(search: Search, front: list[TrialResult]) -> tuple[str, str]:
    """(Markdown, CSV) of the Pareto set, best first by the first objective: trial, axis
    values, objectives, headline metrics, hardware sha256."""
    axes = list(dict.fromkeys(k for t in front for k in t.params))
    objs = [o.name for o in search.objectives]
    extra = [c for c in EXTRA if c not in objs and any(t.row.get(c) is not None for t in front)]
    head = ["trial", *axes, *(f"{o.name} ({o.unit})" for o in search.objectives), *extra, "hardware sha256"]
    first = search.objectives[0]
    ordered = sorted(front, key=lambda t: (-t.values[0] if first.maximise else t.values[0], t.number))
    rows = [[str(t.number), *(_cell(t.params.get(a)) for a in axes), *(_cell(v) for v in t.values),
             *(_cell(t.row.get(c)) for c in extra), t.provenance["hardware_sha256"][:12]] for t in ordered]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)] + ["| " + " | ".join(r) + " |" for r in rows]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    w.writerows(rows)
    return "\n".join(md) + "\n", buf.getvalue()


def write_report(search: Search, study: Any, out: Path, formats: tuple[str, ...], db: str) -> dict[str, Any]:
    """pareto.md, pareto.csv, pareto-sweep.yaml (re-runs the Pareto set with `sslcsim sweep`)
    and the figure (pareto.<fmt>) in `out`; returns the counts and the hypervolume."""
    trials = results(study)
    front = pareto(search, trials)
    hv = front_hypervolume(search, [t.values for t in trials])
    counted = sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.get_trials(deepcopy=False))
    summary = {"trials": counted, "feasible": len(trials), "pareto": len(front), "hypervolume": hv}
    md, csv_text = table(search, front)
    ref = ", ".join(f"{o.name} {r:g}" for o, r in zip(search.objectives, search.reference))
    atomic_write(out / "pareto.md", f"# {search.name}: Pareto set\n\nSpec `{search.source}`, study `{db}`: "
                 f"{counted} trials, {len(trials)} feasible, {len(front)} on the Pareto set; hypervolume "
                 f"{hv:.6g} (reference point: {ref}; units: the product of the objectives'). Simulator "
                 f"{simulator.__version__}.\n\nRe-run one point: `sslcsim search {search.source} --out {db} --rerun "
                 "TRIAL`; re-run them all: `sslcsim sweep pareto-sweep.yaml --out rerun.db` (one spec per artifact of a frontier).\n\n" + md)
    atomic_write(out / "pareto.csv", csv_text)
    for label, spec in search.sweep_specs([t.params for t in front], f"{search.name}-pareto").items():
        stem = f"pareto-sweep-{label}" if label else "pareto-sweep"
        atomic_write(out / f"{stem}.yaml", f"# The Pareto set of study {db} (trials "
                     f"{', '.join(str(t.number) for t in front)}), as a sweep spec: "
                     f"sslcsim sweep {stem}.yaml --out rerun.db\n" + yaml.safe_dump(spec, sort_keys=False))
    if front:
        pareto_figure(search, [(t.number, t.values) for t in trials], [(t.number, t.values) for t in front], out,
                      formats)
    return summary


def rerun(search: Search, study: Any, number: int) -> tuple[TrialResult, dict[str, Any], list[str]]:
    """Re-simulate trial `number` from its stored axis values: (the stored trial, the new row,
    the differences: objective values, point key, hardware digest or simulator version)."""
    trials = {t.number: t for t in results(study)}
    if number not in trials:
        raise InputError(f"--rerun {number}: no simulated trial {number} in study '{search.name}' "
                         f"(trials 0..{len(study.get_trials(deepcopy=False)) - 1}; infeasible and failed ones "
                         "have no result)")
    stored = trials[number]
    point = search.point(stored.params, f"trial {number}")
    row = simulate_point(point)
    diffs = [f"{key}: stored {old}, now {new}" for key, old, new in (
        ("point key", stored.provenance["point_key"], point.key),
        ("hardware sha256", stored.provenance["hardware_sha256"], canonical_sha256(point.hardware)),
        ("simulator version", stored.provenance["simulator_version"], simulator.__version__)) if old != new]
    if row["status"] != "ok":
        return stored, row, diffs + [f"status: now {row['status']} ({row['error']})"]
    new = values(row, search.objectives)
    diffs += [f"{o.name}: stored {a!r}, now {b!r}" for o, a, b in zip(search.objectives, stored.values, new) if a != b]
    return stored, row, diffs
