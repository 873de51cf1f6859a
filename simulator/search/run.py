"""The search driver: ask the sampler for trials, simulate their points on the sweep's
executors (simulator.sweep.worker, the sweep's own worker), tell the results as they land.

Keeps `executor.workers` trials in flight. A trial's point that the simulator refuses
(a budget a projection cannot meet, tiles that do not fit, a worker error) is told as
infeasible. A trial whose point was already simulated in this study reuses that result
instead of simulating it again. Each trial is written to the study in its own transaction
when told, so a driver killed at any moment loses only the trials in flight (left RUNNING,
failed and not counted when the search resumes).
"""

from __future__ import annotations

import sys
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simulator
from simulator.reports.provenance import canonical_sha256, environment
from simulator.search import objectives
from simulator.search.spec import Search
from simulator.search.study import counted, distributions, fail_interrupted, open_study
from simulator.sweep.executors import Executor
from simulator.sweep.run import failed_row, run_isolated
from simulator.sweep.spec import Point
from simulator.sweep.worker import simulate_point
from workloads.errors import InputError


@dataclass
class SearchOutcome:
    """Counts of one invocation."""

    budget: int  # trials the spec asks for
    before: int  # counted trials already in the study
    interrupted: int  # trials a killed run left RUNNING, now marked failed
    ran: int  # trials told now (simulated, reused or infeasible)
    infeasible: int  # of those, refused by the simulator
    reused: int  # of those, a point already simulated in the study


@dataclass
class _Flight:
    trial: Any  # optuna.Trial
    point: Point
    attrs: dict[str, Any]


def _provenance(point: Point, params: dict[str, Any]) -> dict[str, Any]:
    """What re-runs a trial: its axis values, the point's key, the hardware digest, the version."""
    return {"params": params, "point_key": point.key, "hardware_sha256": canonical_sha256(point.hardware),
            "simulator_version": simulator.__version__}


def tell(study: Any, search: Search, trial: Any, attrs: dict[str, Any], row: dict[str, Any]) -> bool:
    """Store a trial's attributes and row, then finish it: COMPLETE with the objective values,
    or PRUNED (infeasible) when the point failed or lacks an objective. True when feasible."""
    from optuna.trial import TrialState

    row = search.measured(attrs["point"]["params"], row)
    vals = None
    if row.get("status") == "ok":
        missing = [o.name for o in search.objectives if row.get(o.name) is None]
        if missing:
            row = {**row, "status": "error", "error": f"the simulation gave no {missing[0]}"}
        else:
            vals = objectives.values(row, search.objectives)
    for key, value in {**attrs, "row": {k: v for k, v in row.items() if k != "point_hash"}}.items():
        trial.set_user_attr(key, value)
    if vals is None:
        trial.set_user_attr("error", row.get("error") or "unknown error")
        study.tell(trial, state=TrialState.PRUNED)
        return False
    study.tell(trial, vals)
    return True


@dataclass(frozen=True)
class _Seen:
    number: int  # the trial that simulated the point
    row: dict[str, Any]


def _known(study: Any) -> dict[str, _Seen]:
    """Simulated points of the study's counted trials, by point key (a point the spec refused
    before simulating has no key): a sampled point seen before reuses its result."""
    out = {}
    for t in counted(study):
        key = t.user_attrs.get("point", {}).get("point_key")
        if key is not None and key not in out:
            out[key] = _Seen(t.number, dict(t.user_attrs["row"], error=t.user_attrs.get("error")))
    return out


class _Driver:
    """One invocation's loop state (kept small: the loop itself is `run_search`)."""

    def __init__(self, study: Any, search: Search, executor: Executor, outcome: SearchOutcome, bar: Any) -> None:
        self.study, self.search, self.executor, self.outcome, self.bar = study, search, executor, outcome, bar
        self.dists = distributions(search)
        self.known = _known(study)
        self.flying: dict[Any, _Flight] = {}
        self.waiting: dict[str, list[tuple[Any, dict[str, Any]]]] = {}  # trials whose point is in flight
        self.broken = False  # the local pool died: the rest runs one point per process

    def finish(self, trial: Any, attrs: dict[str, Any], row: dict[str, Any]) -> None:
        ok = tell(self.study, self.search, trial, attrs, row)
        self.outcome.ran += 1
        self.outcome.infeasible += not ok
        self.bar.update(1)

    def start(self) -> None:
        """Ask for one trial and resolve its point; simulate it, or finish it at once when the
        point is infeasible or already known."""
        trial = self.study.ask(self.dists)
        params = self.search.params(trial.params)
        try:
            point = self.search.point(params, f"trial {trial.number}")
        except InputError as exc:
            self.finish(trial, {"point": {"params": params, "simulator_version": simulator.__version__}},
                        {"status": "error", "error": str(exc)})
            return
        attrs = {"point": _provenance(point, params)}
        seen = self.known.get(point.key)
        if seen is not None:
            self.reuse(trial, attrs, seen)
        elif any(f.point.key == point.key for f in self.flying.values()):  # told when that simulation lands
            self.waiting.setdefault(point.key, []).append((trial, attrs))
        elif self.broken:
            self.land(_Flight(trial, point, attrs), run_isolated(point))
        else:
            fut = self.executor.submit(simulate_point, point, f"{point.key[:16]}-t{trial.number}")
            self.flying[fut] = _Flight(trial, point, attrs)

    def reuse(self, trial: Any, attrs: dict[str, Any], seen: _Seen) -> None:
        self.outcome.reused += 1
        self.finish(trial, {**attrs, "duplicate_of": seen.number}, seen.row)

    def land(self, flight: _Flight, row: dict[str, Any]) -> None:
        self.finish(flight.trial, flight.attrs, row)
        seen = self.known.setdefault(flight.point.key, _Seen(flight.trial.number, row))
        for trial, attrs in self.waiting.pop(flight.point.key, []):
            self.reuse(trial, attrs, seen)

    def wait_one(self) -> None:
        """Tell the first trial in flight to finish; when the local pool has died, run every
        trial in flight alone in its own process (one that kills it again is recorded as such)."""
        fut = next(iter(self.executor.as_completed(list(self.flying))))
        flight = self.flying.pop(fut)
        try:
            row = fut.result()
        except BrokenProcessPool:
            self.broken = True
            for f in [flight, *self.flying.values()]:
                self.land(f, run_isolated(f.point))
            self.flying.clear()
            return
        except Exception as exc:  # noqa: BLE001  (a bug or a dead Dask worker: recorded, the search goes on)
            row = failed_row(flight.point, f"worker failed: {type(exc).__name__}: {exc}")
        self.land(flight, row)


def run_search(search: Search, db: str | Path, executor: Executor, progress: bool = True,
               command: list[str] | None = None) -> SearchOutcome:
    """Run the trials `search` still needs in study database `db` (created or resumed) on
    `executor`; each trial is stored as it finishes."""
    study, held = open_study(search, db)
    try:
        interrupted = fail_interrupted(study)
        before = len(counted(study))
        outcome = SearchOutcome(search.trials, before, interrupted, 0, 0, 0)
        todo = max(0, search.trials - before)
        if todo == 0:
            return outcome
        study.set_user_attr(f"run-{len(study.get_trials(deepcopy=False))}", environment(command or []))
        bar = _bar(todo, before, search.name, progress)
        driver = _Driver(study, search, executor, outcome, bar)
        try:
            asked = 0
            while asked < todo or driver.flying:
                while asked < todo and len(driver.flying) < executor.workers:
                    asked += 1
                    driver.start()
                if driver.flying:
                    driver.wait_one()
        finally:
            bar.close()
        return outcome
    finally:
        held.close()


def _bar(total: int, before: int, name: str, enabled: bool) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{name} ({before} done before)" if before else name, unit="trial",
                file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                bar_format="{desc}: {n_fmt}/{total_fmt} trials |{bar}| {rate_fmt}, elapsed {elapsed}, ETA {remaining}")
