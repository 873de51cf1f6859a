"""`sslcsim sweep`: run a design-space sweep spec into a resumable SQLite database."""

from __future__ import annotations

import argparse
import os
import sys


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "sweep", help="run a sweep spec (hardware keys x budgets x workloads) into a SQLite database",
        description="Expand and validate every point of SPEC before any runs, then simulate the points "
                    "not already in --out, writing each as it finishes. Re-running the same command "
                    "resumes; a killed run loses no finished point. See docs/sweeps.md.")
    p.add_argument("spec", help="sweep spec YAML (see examples/)")
    p.add_argument("--out", required=True, help="results database (SQLite), created or resumed")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="worker processes (local) or LocalCluster workers (dask without --scheduler); "
                        "default: CPU count")
    p.add_argument("--executor", choices=["local", "dask"], default="local")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--csv", default=None, help="after the run, export every row to this CSV file")
    p.add_argument("--parquet", default=None, help="after the run, export every row to Parquet (needs pyarrow)")
    p.add_argument("--dry-run", action="store_true", help="validate and count points; simulate nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.reports.files import check_output_path
    from simulator.sweep.executors import make_executor
    from simulator.sweep.run import run_sweep
    from simulator.sweep.spec import load_spec
    from simulator.sweep.store import Store, export_csv, export_parquet, stored_keys

    for out in (args.out, args.csv, args.parquet):  # before any work: never fail after the sweep
        if out:
            check_output_path(out)
    done = stored_keys(args.out)  # read-only: a database the sweep would refuse is refused now, unchanged
    sweep = load_spec(args.spec)  # every point validated here, before anything runs
    if args.dry_run:
        todo = len({p.key for p in sweep.points} - done)
        print(f"{sweep.name}: {len(sweep.points)} points over axes {', '.join(sweep.axes)}; {todo} to run")
        return 0
    executor = make_executor(args.executor, args.workers, args.scheduler)
    try:
        out = run_sweep(sweep, args.out, executor, progress=not args.no_progress, command=args.argv)
    finally:
        executor.close()
    print(f"{sweep.name}: {out.total} points, {out.skipped} already done, {out.ran} simulated"
          f" on {executor.workers} {args.executor} worker(s)"
          + (f", {out.errors} with errors (status=error in the database)" if out.errors else "")
          + f" -> {args.out}", file=sys.stderr)
    store = Store(args.out)
    try:
        if args.csv:
            print(f"wrote {export_csv(store, args.csv)} rows to {args.csv}", file=sys.stderr)
        if args.parquet:
            print(f"wrote {export_parquet(store, args.parquet)} rows to {args.parquet}", file=sys.stderr)
    finally:
        store.close()
    return 0
