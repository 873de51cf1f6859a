"""Run a frontier: per point compress (resumable artifact), evaluate perplexity, simulate the
artifact on every hardware config and phase; store each point as it finishes; write the
table and the Pareto plot of perplexity against speedup."""

from __future__ import annotations

import csv
import io
import math
import time
from pathlib import Path

from simulator.reports.files import atomic_write
from simulator.reports.provenance import canonical_sha256, environment
from sslcsim.frontier.spec import Frontier, FrontierPoint
from sslcsim.frontier.store import FrontierStore
from workloads.errors import InputError

DENSE_KEY = "dense"


def _hyperparameters(fr: Frontier, p: FrontierPoint) -> dict:
    from compression import methods

    hp = {"ratio": p.ratio, **fr.spec.hyperparameters.get(p.method, {})}
    if p.method in methods.ALLOCATED:
        hp["allocation"] = p.allocation
    if p.hw is not None:  # a hardware-aware global allocation (sslcsim/costs.py)
        from sslcsim import costs

        v, (path, hw) = fr.spec.hardware_aware[p.hw], fr.cost_hardware[p.hw]
        hp["allocation"] = "global"
        hp["cost"] = costs.describe(hw, str(path), v.phase, v.cost, v.batch, v.seq, v.target, None, v.masks)
    return methods.check_hyperparameters(p.method, hp)


def _simulations(fr: Frontier, artifact_dir: Path) -> dict:
    """{"<hardware>|<phase>": speedup, cycles and dense cycles} of the artifact against dense;
    on a config with a technology also pJ per token (compressed, dense), the energy gain
    (dense / compressed energy) and the chip area (mm^2)."""
    from simulator.api import simulate_workloads
    from workloads.from_artifact import from_artifact

    out = {}
    for path, hw in fr.hardware:
        for ph in fr.spec.phases:
            seq = ph.seq if ph.phase == "prefill" else 1
            comp, dense = from_artifact(artifact_dir, ph.phase, ph.batch, seq)
            report = simulate_workloads(comp, dense, hw)
            t = report["totals"]
            sim = {"speedup": t["speedup"], "total_cycles": t["total_cycles"], "dense_cycles": t["dense_cycles"],
                   "hardware_sha256": canonical_sha256(hw.model_dump(mode="json"))}
            if "energy" in report:
                e = report["energy"]
                sim.update(pj_per_token=e["compressed"]["pj_per_token"], dense_pj_per_token=e["dense"]["pj_per_token"],
                           energy_gain=e["energy_gain"], area_mm2=e["compressed"]["area_mm2"]["total"])
            out[f"{Path(path).stem}|{ph.phase}"] = sim
    return out


def _point(fr: Frontier, p: FrontierPoint, out: Path) -> dict:
    from compression import evaluate, models, pipeline

    hp = _hyperparameters(fr, p)
    art = out / "artifacts" / p.label
    s = fr.spec
    t0 = time.time()
    lm = models.load(s.model)
    table = None
    if p.hw is not None:
        from sslcsim import costs

        table = costs.for_model(lm, p.method, hp, fr.cost_hardware[p.hw][1], out / "cost_cache.json")
    man = pipeline.compress_model(lm, p.method, hp, s.seed, str(art),
                                  calib_samples=s.calibration.samples, calib_seqlen=s.calibration.seqlen,
                                  show_progress=False, costs=table)
    t1 = time.time()
    ppl = evaluate.model_perplexity(s.model, str(art), s.evaluation.windows, s.evaluation.seqlen)
    t2 = time.time()
    return {"kept_fraction": pipeline.summarize(man)["kept_fraction"], "perplexity": ppl,
            "simulations": _simulations(fr, art), "compress_s": t1 - t0, "eval_s": t2 - t1, "status": "ok",
            "error": None}


def run_frontier(fr: Frontier, out: Path, argv: list[str], progress: bool = True) -> dict:
    """Every point not yet in out/frontier.db, then the table and the plot; returns counts."""
    from tqdm import tqdm

    from compression import evaluate

    for p in fr.points:  # every point's hyper-parameters checked before any work
        _hyperparameters(fr, p)
    store = FrontierStore(out / "frontier.db")
    env = environment(argv)
    try:
        done = store.done()
        todo = [p for p in fr.points if fr.key(p) not in done]
        bar = tqdm(total=len(todo) + (DENSE_KEY not in done), desc=fr.spec.name, unit="point", disable=not progress)
        if DENSE_KEY not in done:
            t = time.time()
            ppl = evaluate.model_perplexity(fr.spec.model, None, fr.spec.evaluation.windows, fr.spec.evaluation.seqlen)
            store.insert({"key": DENSE_KEY, "label": "dense", "method": "dense", "allocation": "", "ratio": 1.0,
                          "status": "ok", "kept_fraction": 1.0, "perplexity": ppl, "eval_s": time.time() - t,
                          "provenance": env})
            bar.update(1)
        for p in todo:
            row = {"key": fr.key(p), "label": p.label, "method": p.method, "allocation": p.allocation,
                   "ratio": p.ratio, "provenance": env}
            try:
                row.update(_point(fr, p, out))
            except InputError as exc:  # e.g. a budget this method cannot meet: recorded, the others go on
                row.update(status="error", error=str(exc))
            store.insert(row)
            bar.update(1)
        bar.close()
        rows = store.rows()
    finally:
        store.close()
    write_outputs(fr, rows, out)
    return {"points": len(fr.points), "ran": len(todo), "skipped": len(fr.points) - len(todo)}


def _energy_keys(fr: Frontier) -> list[str]:
    """The "<hardware>|<phase>" keys whose config has a technology (energy is simulated)."""
    return [f"{Path(h).stem}|{ph.phase}" for h, hw in fr.hardware if hw.technology is not None
            for ph in fr.spec.phases]


def _energy_cells(sim: dict) -> list[str]:
    """pJ/token and energy gain of one simulation; empty where it has none (a row stored
    before the config had a technology)."""
    if "pj_per_token" not in sim:
        return ["", ""]
    return [f"{sim['pj_per_token']:.4g}", f"{sim['energy_gain']:.3f}"]


def table(fr: Frontier, rows: list[dict]) -> tuple[str, str]:
    """(Markdown, CSV) of every row: perplexity, its increase over dense, kept ratio, speedups,
    and on configs with a technology pJ per token and the energy gain (dense / compressed)."""
    keys = [f"{Path(h).stem}|{ph.phase}" for h, _ in fr.hardware for ph in fr.spec.phases]
    ekeys = _energy_keys(fr)
    dense = next((r["perplexity"] for r in rows if r["key"] == DENSE_KEY), math.nan)
    head = ["method", "allocation", "ratio", "kept fraction", "perplexity", "increase over dense"] + \
        [f"speedup {k.replace('|', ' ')} (x)" for k in keys] + \
        [h for k in ekeys for h in (f"pJ/token {k.replace('|', ' ')}", f"energy gain {k.replace('|', ' ')} (x)")]
    md = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(head)
    for r in rows:
        if r["status"] != "ok":
            md.append(f"| {r['method']} | {r['allocation']} | {r['ratio']} | error: {r['error']} |")
            continue
        sims = r["simulations"] or {}
        cells = [r["method"], r["allocation"], f"{r['ratio']:g}", f"{r['kept_fraction']:.4f}", f"{r['perplexity']:.2f}",
                 f"{r['perplexity'] - dense:+.2f}"] + [f"{sims[k]['speedup']:.3f}" if k in sims else "" for k in keys] \
            + [c for k in ekeys for c in _energy_cells(sims.get(k, {}))]
        md.append("| " + " | ".join(cells) + " |")
        w.writerow(cells)
    return "\n".join(md) + "\n", buf.getvalue()


def write_outputs(fr: Frontier, rows: list[dict], out: Path) -> None:
    """frontier.md, frontier.csv, pareto.* (perplexity vs speedup) and, where a config has a
    technology, pareto_energy.* (perplexity vs pJ per token)."""
    from simulator.plots.frontier_plots import pareto_figure

    md, csv_text = table(fr, rows)
    atomic_write(out / "frontier.md", f"# {fr.spec.name}: perplexity against simulated speedup\n\n"
                 f"Spec: `{fr.source}`; model {fr.spec.model}; calibration {fr.spec.calibration.samples} x "
                 f"{fr.spec.calibration.seqlen}; evaluation {fr.spec.evaluation.windows} x {fr.spec.evaluation.seqlen} "
                 "held-out tokens.\n\n" + md)
    atomic_write(out / "frontier.csv", csv_text)
    pareto_figure(fr, rows, out)
    if _energy_keys(fr):
        pareto_figure(fr, rows, out, x="pj_per_token")
