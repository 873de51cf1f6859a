"""Benchmark: `sslcsim search` against random sweeps of the same space, by hypervolume.

For each seed, runs the commands a user types, each into a fresh database:
  sslcsim search SPEC --out S.db --trials 200 --seed K --workers 2       (the spec's sampler)
  sslcsim sweep R200.yaml --out R200.db --workers 2     (random: 200 samples, seed K, same axes)
  sslcsim sweep R2000.yaml --out R2000.db --workers 2   (random: 2,000 samples, seed K)
and measures the hypervolume of each one's feasible points with the spec's objectives and
reference point (simulator.search.hypervolume, the search's own rule). Records medians over the
seeds, each run's wall time, the machine, the load and the commands in
benchmarks/results/search.md (+ .json). Acceptance (issue 21): the search's median beats the
200-point random sweep's and is within 5% of the 2,000-point one's; the 200-trial search takes
under 10 minutes on 2 cores.

    python benchmarks/bench_search.py [--spec examples/search-edge.yaml] [--seeds 0,1,2]
        [--trials 200] [--samples 200,2000] [--samplers nsga2] [--workers 2] [--tmp DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from machine_info import cpu_model  # noqa: E402
from simulator.reports.files import atomic_write  # noqa: E402
from simulator.search.pareto import front_hypervolume, require_study, results, row_values  # noqa: E402
from simulator.search.spec import load_search  # noqa: E402
from simulator.sweep.store import Store  # noqa: E402
from sslcsim import __version__  # noqa: E402

TARGET_S = 600.0


def _run(cmd: list[str]) -> float:
    """Run one CLI command from the repository root; its wall time in seconds."""
    t0 = time.perf_counter()
    subprocess.run(cmd, cwd=REPO, check=True)
    return time.perf_counter() - t0


def random_spec(spec: Path, samples: int, seed: int, out: Path) -> Path:
    """The search spec as a sweep spec with `random:` over the same axes (paths made absolute)."""
    search = load_search(spec)
    raw = yaml.safe_load(spec.read_text())
    data = search.sweep_spec([], f"{search.name}-random{samples}")
    del data["list"]
    data["random"] = {"samples": samples, "seed": seed, "axes": raw["search"]["axes"]}
    atomic_write(out, yaml.safe_dump(data, sort_keys=False))
    return out


def _sweep_hv(search, db: Path) -> tuple[float, int]:
    store = Store(db)
    try:
        vals = row_values(search, store.rows())
    finally:
        store.close()
    return front_hypervolume(search, vals), len(vals)


def _one_seed(args, search, seed: int, tmp: Path) -> dict:
    cli = [sys.executable, "-m", "sslcsim.cli"]
    rec: dict = {"seed": seed}
    for sampler in args.samplers:
        db = tmp / f"search-{sampler}-{seed}.db"
        wall = _run(cli + ["search", args.spec, "--out", str(db), "--trials", str(args.trials), "--seed", str(seed),
                           "--sampler", sampler, "--workers", str(args.workers), "--no-progress",
                           "--report", str(tmp / f"report-{sampler}-{seed}")])
        trials = results(require_study(search, db))
        hv = front_hypervolume(search, [t.values for t in trials])
        rec[f"search_{sampler}"] = {"hv": hv, "feasible": len(trials), "wall_s": wall}
    for n in args.samples:
        spec = random_spec(Path(args.spec), n, seed, tmp / f"random{n}-{seed}.yaml")
        db = tmp / f"random{n}-{seed}.db"
        wall = _run(cli + ["sweep", str(spec), "--out", str(db), "--workers", str(args.workers), "--no-progress"])
        hv, feasible = _sweep_hv(search, db)
        rec[f"random_{n}"] = {"hv": hv, "feasible": feasible, "wall_s": wall}
    return rec


def _median(recs: list[dict], key: str, field: str) -> float:
    return statistics.median(r[key][field] for r in recs)


def _markdown(args, search, recs: list[dict], load: tuple, started: str) -> str:
    keys = [f"search_{s}" for s in args.samplers] + [f"random_{n}" for n in args.samples]
    ref = ", ".join(f"{o.name} {r:g}" for o, r in zip(search.objectives, search.reference))
    lines = [
        "# Search against random sweeps (issue 21)", "",
        f"`python benchmarks/bench_search.py --spec {args.spec} --seeds {','.join(map(str, args.seeds))} "
        f"--trials {args.trials} --samples {','.join(map(str, args.samples))} --samplers {','.join(args.samplers)} "
        f"--workers {args.workers}`", "",
        f"- Started {started}; sslcsim {__version__}; Python {platform.python_version()}; {cpu_model()}, "
        f"{os.cpu_count()} CPUs; load average before {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} (1/5/15 min), "
        "shared with other work.",
        f"- Space: `{args.spec}`: {len(search.axes)} axes ({', '.join(a.name for a in search.axes)}); objectives "
        + ", ".join(o.name + (" (max)" if o.maximise else " (min)") for o in search.objectives)
        + f"; reference point {ref}.",
        "- Hypervolume of each run's feasible points (exact; units: the product of the objectives'), "
        "relative to the median of the largest random sweep in brackets.", "",
        "| run | " + " | ".join(f"seed {r['seed']}" for r in recs) + " | median | wall s (median) |",
        "|---|" + "---|" * (len(recs) + 2)]
    top = _median(recs, keys[-1], "hv")
    for k in keys:
        cells = [f"{r[k]['hv']:.4g} ({r[k]['hv'] / top:.3f})" for r in recs]
        med = _median(recs, k, "hv")
        lines.append(f"| {k.replace('_', ' ')} | " + " | ".join(cells) + f" | {med:.4g} ({med / top:.3f}) | "
                     f"{_median(recs, k, 'wall_s'):.0f} |")
    lines += ["", "Feasible points per run: " + "; ".join(
        f"{k.replace('_', ' ')} " + "/".join(str(r[k]["feasible"]) for r in recs) for k in keys) + "."]
    return "\n".join(lines + _acceptance(args, recs)) + "\n"


def _acceptance(args, recs: list[dict]) -> list[str]:
    """Issue 21's criteria, checked on the medians of the spec's own sampler (the first)."""
    s, few, many = f"search_{args.samplers[0]}", f"random_{min(args.samples)}", f"random_{max(args.samples)}"
    hv, hv_few, hv_many = (_median(recs, k, "hv") for k in (s, few, many))
    worst = max(r[s]["wall_s"] for r in recs)
    return ["", f"Acceptance ({args.samplers[0]}, medians over {len(recs)} seeds): beats the {min(args.samples)}-point "
            f"random sweep: {'yes' if hv > hv_few else 'NO'} ({hv:.4g} against {hv_few:.4g}); within 5% of the "
            f"{max(args.samples)}-point one: {'yes' if hv >= 0.95 * hv_many else 'NO'} ({hv / hv_many:.3f}); the "
            f"{args.trials}-trial search under {TARGET_S:.0f} s: {'yes' if worst < TARGET_S else 'NO'} (slowest of the "
            f"seeds {worst:.0f} s on {args.workers} workers)."]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spec", default="examples/search-edge.yaml")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--trials", type=int, default=200)
    ap.add_argument("--samples", default="200,2000", help="random sweep sizes")
    ap.add_argument("--samplers", default="nsga2", help="samplers to run the search with")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--tmp", default="/tmp/bench_search", help="working directory (emptied first)")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "search.md"))
    ap.add_argument("--render", default=None, metavar="JSON",
                    help="run nothing: write --out from a record this script saved (same other flags)")
    args = ap.parse_args()
    args.seeds = [int(s) for s in args.seeds.split(",")]
    args.samples = [int(s) for s in args.samples.split(",")]
    args.samplers = args.samplers.split(",")
    search = load_search(REPO / args.spec)
    if args.render:
        saved = json.loads(Path(args.render).read_text())
        recs, load, started = saved["records"], saved["load"], saved["started"]
    else:
        tmp = Path(args.tmp)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        load = os.getloadavg()
        started = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        recs = []
        for seed in args.seeds:
            recs.append(_one_seed(args, search, seed, tmp))
            print(json.dumps(recs[-1]), file=sys.stderr)
    md = _markdown(args, search, recs, load, started)
    atomic_write(args.out, md)
    atomic_write(Path(args.out).with_suffix(".json"), json.dumps({"records": recs, "load": load, "started": started},
                                                                 indent=1))
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
