"""The sweep driver: skip finished points, submit the rest, store each result as it lands."""

from __future__ import annotations

import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from simulator.reports.provenance import environment
from simulator.sweep.executors import Executor, process_context
from simulator.sweep.spec import Point, Sweep
from simulator.sweep.store import Store
from simulator.sweep.worker import simulate_point


@dataclass
class SweepOutcome:
    """Counts of one invocation."""

    total: int  # distinct points in the spec
    skipped: int  # already in the database
    ran: int  # simulated now
    errors: int  # of those, stored with status 'error'


def pending(sweep: Sweep, store: Store) -> list[Point]:
    """Distinct points not yet in the store, ordered so points sharing a dense baseline are adjacent."""
    done = store.done_keys()
    seen: set[str] = set()
    todo = []
    for p in sweep.points:
        if p.key not in done and p.key not in seen:
            seen.add(p.key)
            todo.append(p)
    order = {k: i for i, k in enumerate(dict.fromkeys(p.dense_key for p in todo))}
    return sorted(todo, key=lambda p: (order[p.dense_key], p.index))


def failed_row(point: Point, what: str) -> dict:
    """The row of a point whose worker failed: recorded against the point, the sweep goes on."""
    return {"point_hash": point.key, "status": "error", "error": what}


def run_sweep(sweep: Sweep, db: str | Path, executor: Executor, progress: bool = True,
              command: list[str] | None = None) -> SweepOutcome:
    """Run every pending point of `sweep` on `executor`, writing each row to `db` as it finishes.

    A point whose worker raises is stored as an error with the exception. A worker process
    that dies (killed, out of memory, a crash in native code) breaks a local pool; every
    point not finished then runs alone in a fresh process, so the one that kills its
    process is stored as an error and the others finish."""
    env = environment(command or [])
    store = Store(db)
    try:
        distinct = len({p.key for p in sweep.points})
        todo = pending(sweep, store)
        outcome = SweepOutcome(distinct, distinct - len(todo), 0, 0)
        if not todo:
            return outcome
        bar = _bar(len(todo), outcome.skipped, sweep.name, progress)

        def record(point: Point, row: dict) -> None:
            store.insert(sweep, point, row, env)
            outcome.ran += 1
            outcome.errors += row["status"] != "ok"
            bar.update(1)

        try:
            left = _run_pooled(todo, executor, record)
            for p in left:  # the pool broke: one point per process
                record(p, run_isolated(p))
        finally:
            bar.close()
        return outcome
    finally:
        store.close()


def _run_pooled(todo: list[Point], executor: Executor, record) -> list[Point]:
    """Runs the points on the executor; returns those left unfinished when its pool broke."""
    by_future = {executor.submit(simulate_point, p, p.key): p for p in todo}
    for fut in executor.as_completed(list(by_future)):
        point = by_future.pop(fut)
        try:
            row = fut.result()
        except BrokenProcessPool:
            left = [point]
            for f, p in by_future.items():  # every unfinished future of a broken pool has failed too
                if f.done() and not f.cancelled() and f.exception() is None:
                    record(p, f.result())
                else:
                    left.append(p)
            return left
        except Exception as exc:  # noqa: BLE001  (a bug or a dead Dask worker: recorded, the others go on)
            row = failed_row(point, f"worker failed: {type(exc).__name__}: {exc}")
        record(point, row)
    return []


def run_isolated(point: Point) -> dict:
    """One point in its own process; a process that dies is reported against the point."""
    with ProcessPoolExecutor(1, mp_context=process_context()) as pool:
        try:
            return pool.submit(simulate_point, point).result()
        except BrokenProcessPool:
            return failed_row(point, "the worker process died simulating this point (killed, out of memory or a "
                                     "crash in native code)")
        except Exception as exc:  # noqa: BLE001
            return failed_row(point, f"worker failed: {type(exc).__name__}: {exc}")


def _bar(total: int, skipped: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{name} ({skipped} done before)" if skipped else name, unit="pt",
                file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                bar_format="{desc}: {n_fmt}/{total_fmt} points |{bar}| {rate_fmt}, elapsed {elapsed}, ETA {remaining}")
