"""Hardware-aware against loss-only global allocation (issue 21): sslc-obs on SmolLM2-135M,
16 x 512 calibration tokens (first half of pydoc_data.topics), perplexity on 16 x 512 held-out
tokens (second half), every artifact simulated with its real masks on vitcod.yaml for decode
(one token) and a 512-token prefill.

  python benchmarks/bench_hw_allocation.py [--loss-only 0.5 0.45 0.4 0.35] [--hw-ratios 0.5 0.4]
        [--variants decode:cycles prefill:cycles decode:energy] [--workdir /tmp/sslcsim-hw] [--resume]
      -> benchmarks/results/hw_allocation.md|json

A hardware-aware artifact at --ratio r has the cost (by the cost table) of the loss-only
artifact at r. It is compared at matched simulated cost: the loss-only perplexity at the
hardware-aware artifact's simulated cycles (or pJ/token), interpolated (log perplexity linear
in cost) between the two nearest loss-only artifacts, and the loss-only cost at its
perplexity. Nothing is tuned on the evaluation text: the allocation has no free setting.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
RESULTS = ROOT / "benchmarks" / "results"
SSLCSIM = [sys.executable, "-m", "sslcsim.cli"]
HW = ROOT / "hwconfigs" / "vitcod.yaml"
MODEL, METHOD, PREFILL_SEQ = "smollm2-135m", "sslc-obs", 512
CAL = ["--calib-samples", "16", "--calib-seqlen", "512"]
EVAL = ["--windows", "16", "--seqlen", "512", "--dense-weights"]


def _run(cmd: list[str], log) -> dict:
    p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    log.write(f"$ {' '.join(shlex.quote(c) for c in cmd)}\n{p.stdout}\n{p.stderr[-2000:]}\n")
    log.flush()
    if p.returncode:
        raise SystemExit(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
    return json.loads(p.stdout[p.stdout.index("{"):])


def simulate(art: Path) -> dict:
    """Per phase: the artifact's cycles, speedup and pJ/token with its real masks, the same
    allocation shape-only (synthetic masks), and the cost table's estimate of its cycles."""
    from simulator.api import simulate_shape, simulate_workloads
    from simulator.config import load_hw
    from workloads.allocation_file import read_allocation
    from workloads.budget import Budget
    from workloads.from_artifact import from_artifact
    from workloads.presets import PRESETS

    hw, model = load_hw(HW), PRESETS[MODEL]
    alloc = read_allocation(art / "manifest.json", model, model.num_layers)
    out = {}
    for phase, seq in (("decode", 1), ("prefill", PREFILL_SEQ)):
        rep = simulate_workloads(*from_artifact(art, phase, 1, seq), hw)
        shape = simulate_shape(model, hw, Budget(0.5, None, 0.0), phase, 1, seq, 0, None, "projections", 0, alloc)
        t, e = rep["totals"], rep["energy"]
        out[phase] = {"cycles": t["total_cycles"], "dense_cycles": t["dense_cycles"], "speedup": t["speedup"],
                      "pj_per_token": e["compressed"]["pj_per_token"], "dense_pj_per_token": e["dense"]["pj_per_token"],
                      "energy_gain": e["energy_gain"], "shape_only_cycles": shape["totals"]["total_cycles"],
                      "shape_only_pj_per_token": shape["energy"]["compressed"]["pj_per_token"]}
    return out


def table_estimate(art: Path, ratio: float, cache: Path) -> dict:
    """The cost table's estimate (sum over projections of one-projection runs) of the
    artifact's allocation, cycles per phase."""
    from compression import allocation, cost_allocation
    from simulator.config import load_hw
    from sslcsim import costs
    from workloads.presets import PRESETS

    man = json.loads((art / "manifest.json").read_text())
    shapes = {p["name"].rsplit(".", 1)[-1]: tuple(p["shape"]) for p in man["layers"][0]["projections"]}
    counts = {}
    for s in shapes.values():
        counts[s] = counts.get(s, 0) + PRESETS[MODEL].num_layers
    cands = {s: allocation.candidates(*s, ratio, None) for s in counts}
    out = {}
    for phase in ("decode", "prefill"):
        table = costs.build_table(load_hw(HW), phase, "cycles", 1, PREFILL_SEQ, {s: [(c.kept, c.rank) for c in cs]
                                  for s, cs in cands.items()}, counts, costs.CostCache(cache))
        models = {s: cost_allocation.cost_model(table, *s, cs) for s, cs in cands.items()}
        out[phase] = sum(models[shapes[k.rsplit(".", 1)[-1]]].cost(allocation.Share(kept, rank))
                         for k, (kept, rank) in man["allocation"].items())
    return out


def point(label: str, ratio: float, variant: str | None, work: Path, log) -> dict:
    art = work / f"{label.replace(':', '-').replace('@', '_')}"
    cmd = SSLCSIM + ["compress", "--model", MODEL, "--method", METHOD, "--allocation", "global", "--ratio", str(ratio),
                     "--out", str(art), "--no-progress"] + CAL
    if variant:  # phase:metric, or phase:metric:synthetic (priced on the per-shape synthetic-mask table)
        phase, metric, *masks = variant.split(":")
        cmd += ["--cost-hw", str(HW), "--cost-phase", phase, "--cost", metric, "--cost-cache", str(work / "costs.json"),
                "--cost-masks", masks[0] if masks else "candidates"]
    t = time.time()
    comp = _run(cmd, log)
    wall = time.time() - t
    ev = _run(SSLCSIM + ["evaluate", "--model", MODEL, "--artifact", str(art)] + EVAL, log)
    return {"label": label, "ratio": ratio, "variant": variant or "loss-only", "ppl": ev["perplexity"],
            "kept_fraction": comp["kept_fraction"], "compress_wall_s": wall,
            "allocation_cost": comp.get("allocation_cost"), "sim": simulate(art),
            "table_estimate_cycles": table_estimate(art, ratio, work / "costs.json"),
            "compress_command": "sslcsim " + " ".join(cmd[3:])}


def _interp(points: list[tuple[float, float]], x: float) -> tuple[float, bool]:
    """y at x, linear between the two nearest points by x (extrapolated from the end pair:
    flagged True)."""
    pts = sorted(points)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0), False
    (x0, y0), (x1, y1) = (pts[0], pts[1]) if x < pts[0][0] else (pts[-2], pts[-1])
    return y0 + (y1 - y0) * (x - x0) / (x1 - x0), True


def matched(rows: list[dict]) -> list[dict]:
    """Each hardware-aware row against the loss-only curve in its own phase, by cycles and by
    pJ/token."""
    ref = [r for r in rows if r["variant"] == "loss-only"]
    out = []
    for r in rows:
        if r["variant"] == "loss-only" or len(ref) < 2:
            continue
        phase = r["variant"].split(":")[0]
        for key in ("cycles", "pj_per_token"):
            curve = [(x["sim"][phase][key], math.log(x["ppl"])) for x in ref]
            own = r["sim"][phase][key]
            lppl, ext1 = _interp(curve, own)
            cost_at, ext2 = _interp([(y, x) for x, y in curve], math.log(r["ppl"]))
            out.append({"label": r["label"], "phase": phase, "by": key, "cost": own, "ppl": r["ppl"],
                        "loss_only_ppl_at_cost": math.exp(lppl), "loss_only_cost_at_ppl": cost_at,
                        "gain_at_ppl": cost_at / own, "extrapolated": ext1 or ext2})
    return out


def shares_study(ratios: list[float], variants: list[str], work: Path) -> list[dict]:
    """Without compressing: stage 1 of sslc-obs on the dense model (calibration only), then the
    loss-only and each hardware-aware allocation, compared by the cost table and the loss
    estimate (how far, and where, the hardware moves the budget)."""
    import torch

    from compression import allocation, calibration, cost_allocation, methods, models, text
    from simulator.config import load_hw
    from sslcsim import costs

    out = []
    for ratio in ratios:
        lm = models.load(MODEL)
        hp = methods.check_hyperparameters(METHOD, {"ratio": ratio, "allocation": "global"})
        torch.manual_seed(0)
        ids = calibration.token_windows(lm.tokenizer, text.read_text(None)[0], 512, 16, 0)
        chunks = calibration.capture_inputs(lm.model, ids, 8, lm.is_causal)
        curves = allocation.measure(lm, chunks, ids, hp, len(models.layer_stack(lm.model)))
        for variant in variants:
            phase, metric = variant.split(":")
            vhp = {**hp, "cost": costs.describe(load_hw(HW), str(HW), phase, metric, 1, PREFILL_SEQ, None, None)}
            table = costs.for_model(lm, METHOD, vhp, load_hw(HW), work / "costs.json")
            shares, rec = cost_allocation.plan(curves, vhp, table)
            budget = int(round(ratio * sum(m * n for m, n in curves.sizes)))
            ref = allocation.top_up(allocation.allocate_global(curves.curves, budget), curves.sizes, budget, None)
            models_ = [cost_allocation.cost_model(table, m, n, allocation.candidates(m, n, ratio, None))
                       for m, n in curves.sizes]
            slopes = {f"{m}x{n}": cm.slopes[0] for cm, (m, n) in zip(models_, curves.sizes)}
            out.append({"ratio": ratio, "variant": variant, "record": rec, "rank_slopes_rank0": slopes,
                        "moved_entries": sum(abs(a.kept - b.kept) for a, b in zip(shares, ref)),
                        "projections_changed": sum(a != b for a, b in zip(shares, ref)),
                        "ranked_projections": [sum(s.rank > 0 for s in ref), sum(s.rank > 0 for s in shares)]})
            print(json.dumps(out[-1]), flush=True)
    return out


def shares_table() -> list[str]:
    """The allocations alone (`--shares`), if they were computed."""
    path = RESULTS / "hw_allocation_shares.json"
    if not path.exists():
        return []
    study = json.loads(path.read_text())
    shapes = list(study[0]["rank_slopes_rank0"])
    md = ["", "The allocations alone (`--shares`: stage 1 on the calibration text, no compression): at the loss-only "
          "allocation's table cost, the hardware-aware one's kept fraction and calibration-loss estimate (grid "
          "candidates), projections given a rank (loss-only -> hardware-aware), and the cost table's marginal cost "
          "of one kept entry at rank 0 per shape (m x n):", "",
          "| ratio | cost | kept | loss estimate (loss-only) | change | ranked projections | "
          + " | ".join(f"per entry {s}" for s in shapes) + " |", "|---" * (6 + len(shapes)) + "|"]
    for x in study:
        r = x["record"]
        md.append(f"| {x['ratio']} | {x['variant']} | {r['kept_fraction']:.4f} | {r['loss_estimate']:.0f} "
                  f"({r['loss_only_loss_estimate']:.0f}) | {r['loss_estimate'] / r['loss_only_loss_estimate'] - 1:+.1%} | "
                  f"{x['ranked_projections'][0]} -> {x['ranked_projections'][1]} | "
                  + " | ".join(f"{x['rank_slopes_rank0'][s]:.4g}" for s in shapes) + " |")
    return md


def write(rows: list[dict], meta: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    m = matched(rows)
    (RESULTS / "hw_allocation.json").write_text(json.dumps({**meta, "rows": rows, "matched": m}, indent=1))
    md = ["# Hardware-aware against loss-only global allocation: sslc-obs on SmolLM2-135M, vitcod.yaml", "",
          f"Last command: `{meta['command']}` (rows accumulate over `--resume` runs; each row's own compress "
          "command is listed at the end; `.venv/bin/python benchmarks/bench_hw_allocation.py --loss-only 0.55 0.5 "
          "0.45 0.4 0.35 --hw-ratios 0.5 0.4 --variants decode:cycles prefill:cycles` makes the main rows from "
          "scratch)  ", f"Machine: {meta['cpu']} (shared, 2 cores).  ",
          "Calibration 16 x 512 tokens (first half of pydoc_data.topics); perplexity on 16 x 512 held-out tokens "
          "(second half, `--dense-weights`); every artifact simulated with its real masks on hwconfigs/vitcod.yaml: "
          f"decode (batch 1, one token) and prefill ({PREFILL_SEQ} tokens). `decode:cycles` at ratio r: "
          "`--cost-hw vitcod.yaml --cost-phase decode --cost cycles --ratio r` (target: the loss-only allocation's "
          "cost at r by the same cost model); `:synthetic`: with `--cost-masks synthetic`.", "",
          "| allocation | ratio | kept | perplexity | decode cycles | decode speedup | decode pJ/token | "
          "prefill cycles | prefill speedup | prefill pJ/token | synthetic table / simulated (decode, prefill) | "
          "its own cost model / simulated |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        d, p, est = r["sim"]["decode"], r["sim"]["prefill"], r["table_estimate_cycles"]
        rec = r.get("allocation_cost")
        own = f"{rec['cost'] / r['sim'][rec['phase']]['cycles']:.3f}" if rec and rec["metric"] == "cycles" else ""
        md.append(f"| {r['variant']} | {r['ratio']} | {r['kept_fraction']:.4f} | {r['ppl']:.2f} | {d['cycles']} | "
                  f"{d['speedup']:.3f} | {d['pj_per_token']:.4g} | {p['cycles']} | {p['speedup']:.3f} | "
                  f"{p['pj_per_token']:.4g} | {est['decode'] / d['cycles']:.3f}, {est['prefill'] / p['cycles']:.3f} | "
                  f"{own} |")
    md += ["", "Matched cost (loss-only curve interpolated in log perplexity, linear in cost between its two "
           "nearest artifacts; * = extrapolated):", "",
           "| hardware-aware | phase | matched by | its cost | its perplexity | loss-only perplexity at that cost | "
           "loss-only cost at its perplexity | cost gain at equal perplexity |", "|---|---|---|---|---|---|---|---|"]
    for x in m:
        md.append(f"| {x['label']} | {x['phase']} | {x['by']} | {x['cost']:.6g} | {x['ppl']:.2f} | "
                  f"{x['loss_only_ppl_at_cost']:.2f}{'*' if x['extrapolated'] else ''} | "
                  f"{x['loss_only_cost_at_ppl']:.6g} | {x['gain_at_ppl']:.3f}x |")
    md += shares_table()
    notes = RESULTS / "hw_allocation_notes.md"
    if notes.exists():
        md += ["", notes.read_text().rstrip()]
    md += ["", "Commands:", ""] + [f"- `{r['compress_command']}`" for r in rows]
    (RESULTS / "hw_allocation.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loss-only", type=float, nargs="*", default=[0.5, 0.45, 0.4, 0.35])
    ap.add_argument("--hw-ratios", type=float, nargs="*", default=[0.5, 0.4])
    ap.add_argument("--variants", nargs="*", default=["decode:cycles", "prefill:cycles"])
    ap.add_argument("--workdir", default="/tmp/sslcsim-hw")
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--table-only", action="store_true", help="rewrite the table from the stored rows")
    ap.add_argument("--shares", action="store_true",
                    help="only the allocations (no compression): loss-only against hardware-aware by the cost "
                         "table and the loss estimate -> benchmarks/results/hw_allocation_shares.json")
    args = ap.parse_args()
    from machine_info import cpu_model

    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    if args.shares:
        study = shares_study(args.hw_ratios, args.variants, work)
        (RESULTS / "hw_allocation_shares.json").write_text(json.dumps(study, indent=1))
        return
    res = RESULTS / "hw_allocation.json"
    rows = json.loads(res.read_text())["rows"] if (args.resume or args.table_only) and res.exists() else []
    for r in rows:  # rows run before --cost-masks existed were priced on the synthetic-mask table
        if r["variant"] != "loss-only" and r["variant"].count(":") == 1 and "--cost-masks" not in r["compress_command"]:
            r["variant"] += ":synthetic"
            r["label"] = f"hw {r['variant']}@{r['ratio']}"
            old = r["variant"].rsplit(":", 1)[0].replace(":", "-")
            r["compress_command"] = r["compress_command"].replace(f"hw {old}_", f"hw {old}-synthetic_")
    meta = {"command": " ".join(shlex.quote(a) for a in sys.argv), "cpu": cpu_model(),
            "load_avg_at_start": os.getloadavg()[0]}
    todo = [(f"loss-only@{r}", r, None) for r in args.loss_only] + \
        [(f"hw {v}@{r}", r, v) for r in args.hw_ratios for v in args.variants]
    with open(work / "bench.log", "a") as log:
        for label, ratio, variant in ([] if args.table_only else todo):
            if any(r["label"] == label for r in rows):
                continue
            rows.append(point(label, ratio, variant, work, log))
            print(json.dumps({k: rows[-1][k] for k in ("label", "ppl", "kept_fraction")}), flush=True)
            write(rows, meta)
    write(rows, meta)


if __name__ == "__main__":
    main()
