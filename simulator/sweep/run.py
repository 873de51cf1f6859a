"""The sweep driver: skip finished points, submit the rest, store each result as it lands."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from simulator.sweep.executors import Executor
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


def run_sweep(sweep: Sweep, db: str | Path, executor: Executor,
              progress: bool = True) -> SweepOutcome:
    """Run every pending point of `sweep` on `executor`, writing each row to `db` as it finishes."""
    store = Store(db)
    try:
        distinct = len({p.key for p in sweep.points})
        todo = pending(sweep, store)
        outcome = SweepOutcome(distinct, distinct - len(todo), 0, 0)
        if not todo:
            return outcome
        by_future = {}
        for p in todo:
            by_future[executor.submit(simulate_point, p, p.key)] = p
        bar = _bar(len(todo), outcome.skipped, sweep.name, progress)
        try:
            for fut in executor.as_completed(list(by_future)):
                row = fut.result()
                store.insert(sweep, by_future.pop(fut), row)
                outcome.ran += 1
                outcome.errors += row["status"] != "ok"
                bar.update(1)
        finally:
            bar.close()
        return outcome
    finally:
        store.close()


def _bar(total: int, skipped: int, name: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=f"{name} ({skipped} done before)" if skipped else name, unit="pt",
                file=sys.stderr, disable=not enabled, dynamic_ncols=True,
                bar_format="{desc}: {n_fmt}/{total_fmt} points |{bar}| {rate_fmt}, elapsed {elapsed}, ETA {remaining}")
