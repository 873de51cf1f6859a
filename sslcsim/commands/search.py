"""`sslcsim search`: a multi-objective search over hardware keys and budgets into a resumable
Optuna study (SQLite), then its Pareto set as a table, a figure and a re-runnable sweep spec."""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "search", help="search hardware keys x budgets for the Pareto set of speed, energy and area (Optuna)",
        description="Validate SPEC (a sweep spec with a search: section), then run the trials the study in "
                    "--out still needs on the sweep's executors, each stored as it finishes; re-running the "
                    "same command resumes. Writes the Pareto set (table, figure, a sweep spec that re-runs it) "
                    "to --report. See docs/search.md.")
    p.add_argument("spec", help="search spec YAML (see examples/search-*.yaml)")
    p.add_argument("--out", required=True, help="study database (SQLite, Optuna's schema), created or resumed")
    p.add_argument("--trials", type=int, default=None, help="trial budget (default: the spec's search.trials)")
    p.add_argument("--seed", type=int, default=None, help="sampler seed (default: the spec's search.seed)")
    p.add_argument("--sampler", choices=["nsga2", "tpe", "random"], default=None,
                   help="sampler (default: the spec's search.sampler)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                   help="trials simulated at once: worker processes (local) or LocalCluster workers (dask "
                        "without --scheduler); default: CPU count")
    p.add_argument("--executor", choices=["local", "dask"], default="local")
    p.add_argument("--scheduler", default=None, help="Dask scheduler address, e.g. tcp://host:8786")
    p.add_argument("--report", default=None, help="directory for the Pareto table, figure and re-run spec "
                                                  "(default: OUT without its suffix, plus -pareto)")
    p.add_argument("--formats", default="png,pdf", help="figure formats (default png,pdf)")
    p.add_argument("--rerun", type=int, default=None, metavar="TRIAL",
                   help="re-simulate one stored trial from its provenance and compare; runs no search")
    p.add_argument("--dry-run", action="store_true", help="validate and count trials; simulate nothing")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def _formats(text: str) -> tuple[str, ...]:
    from workloads.errors import InputError

    formats = tuple(f.strip() for f in text.split(",") if f.strip())
    if not formats or set(formats) - {"pdf", "svg", "png"}:
        raise InputError(f"--formats {text}: expected a comma list of pdf, svg, png")
    return formats


def _rerun(search, args: argparse.Namespace) -> int:
    from simulator.search.pareto import require_study, rerun

    stored, row, diffs = rerun(search, require_study(search, args.out), args.rerun)
    print(f"trial {stored.number}: " + ", ".join(f"{k}={v}" for k, v in stored.params.items()))
    for o, v in zip(search.objectives, stored.values):
        print(f"  {o.name} ({o.unit}): stored {v!r}, now {row.get(o.name)!r}")
    prov = stored.provenance
    print(f"  hardware sha256 {prov['hardware_sha256']}, simulator {prov['simulator_version']}")
    if diffs:
        print("differs: " + "; ".join(diffs))
        return 1
    print("identical")
    return 0


def run(args: argparse.Namespace) -> int:
    from simulator.reports.files import check_output_path
    from simulator.search.spec import load_search
    from workloads.errors import InputError

    formats = _formats(args.formats)
    if args.trials is not None and args.trials < 1:
        raise InputError(f"--trials {args.trials}: expected a positive integer")
    check_output_path(args.out)
    search = load_search(args.spec)  # every axis and the sweep part validated before any trial
    if args.trials is not None:
        search = dataclasses.replace(search, trials=args.trials)
    if args.seed is not None:
        search = dataclasses.replace(search, seed=args.seed)
    if args.sampler is not None:
        if search.population is not None and args.sampler != "nsga2":
            print(f"sslcsim search: --sampler {args.sampler}: the spec's search.population ({search.population}) "
                  "applies to nsga2 and is not used", file=sys.stderr)
            search = dataclasses.replace(search, population=None)
        search = dataclasses.replace(search, sampler=args.sampler)
    if args.rerun is not None:
        return _rerun(search, args)
    if args.dry_run:
        return _dry_run(search, args)
    return _search(search, args, formats)


def _dry_run(search, args: argparse.Namespace) -> int:
    from simulator.search.pareto import load_study

    study = load_study(search, args.out)
    done = 0 if study is None else sum(t.state.name in ("COMPLETE", "PRUNED") for t in study.get_trials(deepcopy=False))
    print(f"{search.name}: {len(search.axes)} axes ({', '.join(a.name for a in search.axes)}), objectives "
          f"{', '.join(o.name for o in search.objectives)}, sampler {search.sampler}; {search.trials} trials, "
          f"{done} done, {max(0, search.trials - done)} to run")
    return 0


def _search(search, args: argparse.Namespace, formats: tuple[str, ...]) -> int:
    from simulator.search.pareto import require_study, write_report
    from simulator.search.run import run_search
    from simulator.sweep.executors import make_executor

    out = Path(args.out)
    report = Path(args.report) if args.report else out.with_name(out.stem + "-pareto")
    executor = make_executor(args.executor, args.workers, args.scheduler)
    try:
        o = run_search(search, out, executor, progress=not args.no_progress, command=args.argv)
    finally:
        executor.close()
    print(f"{search.name}: {o.before + o.ran} of {o.budget} trials ({o.before} done before, {o.ran} now on "
          f"{executor.workers} {args.executor} worker(s); {o.infeasible} infeasible, {o.reused} reused a simulated "
          f"point)" + (f"; {o.interrupted} interrupted trial(s) marked failed" if o.interrupted else "")
          + f" -> {out}", file=sys.stderr)
    s = write_report(search, require_study(search, out), report, formats, str(out))
    print(f"Pareto set: {s['pareto']} of {s['feasible']} feasible trials, hypervolume {s['hypervolume']:.6g} "
          f"-> {report}/pareto.md", file=sys.stderr)
    return 0
