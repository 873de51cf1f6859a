"""Hardware-aware allocation on a config whose costs differ by projection shape (issue 21,
beyond vitcod.yaml): bench_hw_allocation.py's loss-only sslc-obs artifacts (same calibration,
same held-out perplexities) simulated on another config, against hardware-aware artifacts
priced on that config.

  python benchmarks/bench_hw_allocation_configs.py --hw gpu-a100-like.yaml --phase prefill
        [--cost-phase decode|prefill|both] [--ratios 0.5 0.4] [--workdir /tmp/sslcsim-hw]
      -> benchmarks/results/hw_allocation_<config>_<phase>[_cost-<cost phase>].md|json

Needs bench_hw_allocation.py's loss-only artifacts in --workdir and their perplexities in
benchmarks/results/hw_allocation.json. The comparison is the same: the loss-only perplexity
at the hardware-aware artifact's simulated cost, interpolated in log perplexity between the
two nearest loss-only artifacts.
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
sys.path.insert(0, str(ROOT))

from bench_hw_allocation import CAL, EVAL, METHOD, MODEL, PREFILL_SEQ, RESULTS, SSLCSIM, _interp, _run  # noqa: E402
from machine_info import cpu_model  # noqa: E402


def cost(art: Path, hw_path: Path, phase: str) -> dict:
    """The artifact's simulated cycles and pJ/token on the config, real masks."""
    from simulator.api import simulate_workloads
    from simulator.config import load_hw
    from workloads.from_artifact import from_artifact

    rep = simulate_workloads(*from_artifact(art, phase, 1, PREFILL_SEQ if phase == "prefill" else 1), load_hw(hw_path))
    e = rep.get("energy")
    return {"cycles": rep["totals"]["total_cycles"], "speedup": rep["totals"]["speedup"],
            "pj_per_token": e["compressed"]["pj_per_token"] if e else None}


OTHER = {"decode": "prefill", "prefill": "decode"}


SHAPES = ((576, 576), (192, 576), (1536, 576), (576, 1536))  # SmolLM2-135M's projections, m x n


def per_entry(hw_path: Path, phase: str) -> dict:
    """Per projection shape: cycles per kept entry between kept 0.4 and 0.6 (rank 0, a seeded
    wanda-like synthetic mask, one projection as the cost table prices it)."""
    from simulator.config import load_hw
    from sslcsim.costs import _simulate, _synthetic

    hw, seq = load_hw(hw_path), PREFILL_SEQ if phase == "prefill" else 1
    at = lambda m, n, f: _simulate(hw, phase, 1, seq, m, n, 0, _synthetic(m, n, int(f * m * n), 0, 1))["cycles"]  # noqa: E731
    return {f"{m}x{n}": (at(m, n, 0.6) - at(m, n, 0.4)) / (0.2 * m * n) for m, n in SHAPES}


def hw_point(ratio: float, hw_path: Path, phase: str, cost_phase: str, work: Path, log) -> dict:
    """A hardware-aware artifact priced in `cost_phase`, its perplexity and its cycles in `phase`
    and the other phase."""
    art = work / f"hw {hw_path.stem} {cost_phase}-cycles_{ratio}"
    cmd = SSLCSIM + ["compress", "--model", MODEL, "--method", METHOD, "--allocation", "global", "--ratio", str(ratio),
                     "--out", str(art), "--no-progress", *CAL, "--cost-hw", str(hw_path), "--cost-phase", cost_phase,
                     "--cost", "cycles", "--cost-cache", str(work / f"costs-{hw_path.stem}.json")]
    if not (art / "manifest.json").exists():
        _run(cmd, log)
    ev = _run(SSLCSIM + ["evaluate", "--model", MODEL, "--artifact", str(art)] + EVAL, log)
    man = json.loads((art / "manifest.json").read_text())
    return {"ratio": ratio, "ppl": ev["perplexity"], "kept_fraction": man["allocation_cost"]["kept_fraction"],
            "loss_estimate_change": man["allocation_cost"]["loss_estimate"] / man["allocation_cost"][
                "loss_only_loss_estimate"] - 1, "sim": cost(art, hw_path, phase),
            "other_phase": cost(art, hw_path, OTHER[phase]),
            "command": "sslcsim " + " ".join(shlex.quote(c) for c in cmd[3:])}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hw", required=True, help="a config in hwconfigs/")
    ap.add_argument("--phase", choices=["decode", "prefill"], required=True)
    ap.add_argument("--ratios", type=float, nargs="+", default=[0.5, 0.4])
    ap.add_argument("--cost-phase", choices=["decode", "prefill", "both"], help="what the allocation prices "
                    "(default: --phase, the phase compared at matched cycles)")
    ap.add_argument("--workdir", default="/tmp/sslcsim-hw")
    args = ap.parse_args()
    hw_path, work, t0 = ROOT / "hwconfigs" / args.hw, Path(args.workdir), time.time()
    cost_phase = args.cost_phase or args.phase
    base = [r for r in json.loads((RESULTS / "hw_allocation.json").read_text())["rows"] if r["variant"] == "loss-only"]
    loss_only = [{"ratio": r["ratio"], "ppl": r["ppl"], "sim": cost(work / f"loss-only_{r['ratio']}", hw_path, args.phase),
                  "other_phase": cost(work / f"loss-only_{r['ratio']}", hw_path, OTHER[args.phase])} for r in base]
    curve = [(r["sim"]["cycles"], math.log(r["ppl"])) for r in loss_only]
    with open(work / "bench-configs.log", "a") as log:
        hw_rows = [hw_point(r, hw_path, args.phase, cost_phase, work, log) for r in args.ratios]
    for r in hw_rows:
        lp, ext = _interp(curve, r["sim"]["cycles"])
        r["loss_only_ppl_at_cost"], r["extrapolated"] = math.exp(lp), ext
        c_at, _ = _interp([(y, x) for x, y in curve], math.log(r["ppl"]))
        r["cost_gain_at_ppl"] = c_at / r["sim"]["cycles"]
    stem = f"hw_allocation_{hw_path.stem}_{args.phase}" + ("" if cost_phase == args.phase else f"_cost-{cost_phase}")
    slopes = per_entry(hw_path, args.phase)
    (RESULTS / f"{stem}.json").write_text(json.dumps({"loss_only": loss_only, "hardware_aware": hw_rows,
                                                      "cycles_per_kept_entry": slopes}, indent=1))
    md = [f"# Hardware-aware ({cost_phase} cycles) against loss-only global allocation on {args.hw}, {args.phase}",
          "", f"Command: `.venv/bin/python benchmarks/bench_hw_allocation_configs.py --hw {args.hw} --phase {args.phase} "
          f"--cost-phase {cost_phase} "
          f"--ratios {' '.join(map(str, args.ratios))}`; {cpu_model()}, {time.time() - t0:.0f} s (an artifact already "
          "in --workdir is evaluated and simulated, not compressed again; each compress took about 5 min here). "
          "sslc-obs on "
          "SmolLM2-135M; the loss-only artifacts and perplexities of `hw_allocation.md`; cycles with real masks "
          f"({args.phase}{', 512 tokens' if args.phase == 'prefill' else ', one token'}, batch 1).", "",
          f"| allocation | ratio | kept | perplexity | {args.phase} cycles | speedup | loss-only perplexity at that "
          f"cost | cost gain at equal perplexity | loss estimate vs loss-only | {OTHER[args.phase]} cycles (speedup) |",
          "|---|---|---|---|---|---|---|---|---|---|"]
    other = lambda r: f"{r['other_phase']['cycles']:,} ({r['other_phase']['speedup']:.3f})"  # noqa: E731
    md += [f"| loss-only | {r['ratio']} | {r['ratio']} | {r['ppl']:.2f} | {r['sim']['cycles']:,} | "
           f"{r['sim']['speedup']:.3f} | | | | {other(r)} |" for r in loss_only]
    md += [f"| hardware-aware ({cost_phase} cycles) | {r['ratio']} | {r['kept_fraction']:.4f} | {r['ppl']:.2f} | "
           f"{r['sim']['cycles']:,} | {r['sim']['speedup']:.3f} | {r['loss_only_ppl_at_cost']:.2f}"
           f"{'*' if r['extrapolated'] else ''} | {r['cost_gain_at_ppl']:.3f}x | {r['loss_estimate_change']:+.1%} | "
           f"{other(r)} |" for r in hw_rows]
    md += ["", "* extrapolated.", "", f"What the hardware tells the allocation: {args.phase} cycles per kept entry by "
           "shape (m x n), kept 0.4 -> 0.6, rank 0, synthetic wanda-like mask: "
           + ", ".join(f"{k} {v:.4g}" for k, v in slopes.items())
           + f" (max / min {max(slopes.values()) / min(slopes.values()):.2f}).", "", "Commands:", ""] + [f"- `{r['command']}`" for r in hw_rows]
    (RESULTS / f"{stem}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
