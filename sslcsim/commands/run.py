"""`sslcsim run` (what `make run` calls): the end-to-end default job.

Compress SmolLM2-135M with SSLC (reusing a cached artifact whose manifest matches), evaluate
it, simulate its real S/U/V on a hardware config for decode and prefill (the projections),
simulate a whole generation of it end to end (whole decoder layers: prefill of the prompt,
then every decode step exactly), compare with shape-only estimates (synthetic masks with the
same per-projection nnz and ranks), reproduce the paper's Table 4, and write a report
directory: tables, JSON/CSV and plots.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("run", help="the default end-to-end job: compress, evaluate, simulate, report")
    p.add_argument("--model", default="smollm2-135m", help="model to compress (default smollm2-135m)")
    p.add_argument("--ratio", type=float, default=0.5, help="SSLC kept ratio (default 0.5)")
    p.add_argument("--rank", type=int, default=None, help="SSLC rank (default: the compressor's rank share)")
    p.add_argument("--iters", type=int, default=40, help="SSLC alternating steps (default 40, the paper's T)")
    p.add_argument("--calib-samples", type=int, default=16, help="calibration windows (default 16: smaller than "
                   "`sslcsim compress`'s 32 to keep the job short)")
    p.add_argument("--calib-seqlen", type=int, default=256, help="calibration window length (default 256)")
    p.add_argument("--eval-windows", type=int, default=8, help="held-out perplexity windows (default 8)")
    p.add_argument("--eval-seqlen", type=int, default=256, help="perplexity window length (default 256)")
    p.add_argument("--hw", default=str(ROOT / "hwconfigs" / "vitcod.yaml"), help="hardware YAML (default vitcod.yaml)")
    p.add_argument("--batch", type=int, default=1, help="sequences per step (default 1)")
    p.add_argument("--prefill-seq", type=int, default=2048, help="prefill sequence length, and the end-to-end "
                   "generation's prompt (default 2048)")
    p.add_argument("--new-tokens", type=int, default=1024, help="tokens the end-to-end generation decodes, every "
                   "step exactly (default 1024, as the paper's Table 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", default=str(ROOT / ".sslcsim-cache"), help="artifact cache directory")
    p.add_argument("--out", default=str(ROOT / "reports" / "default"), help="report directory")
    p.set_defaults(func=main)


def _artifact_dir(args: argparse.Namespace, hp: dict) -> Path:
    key = json.dumps({"model": args.model, "method": "sslc", "hp": hp, "seed": args.seed,
                      "calib": [args.calib_samples, args.calib_seqlen]}, sort_keys=True)
    return Path(args.cache) / "artifacts" / f"{args.model}-sslc-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def _table(title: str, header: list[str], rows: list[list[str]]) -> tuple[str, str]:
    """(terminal text, Markdown) of one table."""
    from rich.console import Console
    from rich.table import Table

    t = Table(title=title)
    for h in header:
        t.add_column(h, justify="right")
    for r in rows:
        t.add_row(*r)
    console = Console(file=io.StringIO(), width=150)
    console.print(t)
    md = [f"### {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    md += ["| " + " | ".join(r) + " |" for r in rows]
    return console.file.getvalue(), "\n".join(md) + "\n"


def _intro(args: argparse.Namespace, hw) -> str:
    """The report's opening paragraph: the job's model, budget, hardware and sample sizes."""
    return (f"# sslcsim default job\n\nModel `{args.model}`, SSLC at ratio {args.ratio}, hardware `{hw.name}` "
            f"(`{args.hw}`), batch {args.batch}, prefill sequence {args.prefill_seq}, seed {args.seed}.\n"
            f"Calibration: {args.calib_samples} windows of {args.calib_seqlen} tokens (smaller than the "
            f"compressor's default 32 x 512, to keep the job short) and {args.iters} SSLC alternating steps (the paper "
            f"uses 40); evaluation: {args.eval_windows} held-out "
            f"windows of {args.eval_seqlen} tokens, disjoint from calibration; the compressed model is evaluated "
            f"with the artifact's S + U V folded into the weights.\n")


class _Job:
    """The default job's state: its report directory, progress bar, the terminal text,
    Markdown and wall times it collects, and the dense baselines' runs it shares."""

    def __init__(self, args: argparse.Namespace, hw) -> None:
        from tqdm import tqdm

        self.args, self.hw = args, hw
        self.out = Path(args.out)
        self.out.mkdir(parents=True, exist_ok=True)
        # compress, evaluate, simulate, generate, compare, table 4, report
        self.steps = tqdm(total=7, desc="default job", unit="step")
        self.text_out: list[str] = []
        self.md: list[str] = [_intro(args, hw)]
        self.timings: dict[str, float] = {}
        self.phases = {"decode": 1, "prefill": args.prefill_seq}
        self.dense_runs: dict = {}  # (hardware, phase) -> the dense baseline's run, shared by every comparison

    def add_table(self, title: str, header: list[str], rows: list[list[str]]) -> None:
        s_txt, s_md = _table(title, header, rows)
        self.text_out.append(s_txt)
        self.md.append(s_md)

    def simulate(self, workload, dense, cfg, phase: str) -> dict:
        """The summary of `workload` on `cfg` against its dense baseline (run once per config and phase)."""
        from simulator.reports.summary import summarize
        from simulator.schedule.run import run as run_simulation

        if (cfg, phase) not in self.dense_runs:  # keyed by the config's values, not its name
            self.dense_runs[(cfg, phase)] = run_simulation(dense, cfg)
        return summarize(run_simulation(workload, cfg), self.dense_runs[(cfg, phase)])


def _compress_and_evaluate(job: _Job) -> tuple[Path, float, float, dict]:
    """Steps 1-3: dense perplexity, SSLC compression (or its cached artifact), compressed
    perplexity. Returns (artifact, dense perplexity, SSLC perplexity, compression summary)."""
    from compression import evaluate, export, methods, models, pipeline, text

    args, timings, steps = job.args, job.timings, job.steps
    # 1. dense perplexity first: compression rewrites the loaded model's weights in place
    steps.set_postfix_str("evaluate dense")
    t = time.time()
    lm = models.load(args.model)
    txt, desc = text.read_text("evaluation")
    windows = evaluate.eval_windows(lm.tokenizer, txt, args.eval_seqlen, args.eval_windows)
    ppl_dense = evaluate.perplexity(lm.model, windows)
    timings["evaluate_dense_s"] = time.time() - t

    # 2. compress (or reuse the cached artifact whose manifest matches)
    steps.set_postfix_str("compress")
    t = time.time()
    hp = methods.check_hyperparameters("sslc", {"ratio": args.ratio, "pattern": "unstructured", "rank": args.rank,
                                                "iters": args.iters})
    art = _artifact_dir(args, hp)
    man = pipeline.compress_model(lm, "sslc", hp, args.seed, str(art), calib_samples=args.calib_samples,
                                  calib_seqlen=args.calib_seqlen)
    timings["compress_s"] = time.time() - t
    steps.update()

    # 3. the compressed model: the artifact's S + U V folded into the weights (the same
    # numbers as S x + U (V x) up to float summation order, and as fast as the dense model)
    steps.set_postfix_str("evaluate SSLC")
    t = time.time()
    export.apply_artifact(lm.model, str(art), modules=False)
    ppl_comp = evaluate.perplexity(lm.model, windows)
    del lm
    timings["evaluate_sslc_s"] = time.time() - t
    summary = pipeline.summarize(man)
    job.add_table("Compression (held-out perplexity)", ["model", "method", "kept ratio", "perplexity dense",
                                                        "perplexity SSLC", "artifact"],
                  [[args.model, "sslc", f"{args.ratio}", f"{ppl_dense:.2f}", f"{ppl_comp:.2f}", str(art)]])
    steps.update()
    return art, ppl_dense, ppl_comp, summary


def _simulate_artifact(job: _Job, art: Path) -> dict[str, dict]:
    """Step 4: the real artifact simulated for decode and prefill; per phase, its report."""
    from simulator.reports.files import atomic_write
    from simulator.reports.provenance import artifact_workload, provenance
    from simulator.reports.summary import to_csv
    from workloads.from_artifact import from_artifact

    args, hw, out = job.args, job.hw, job.out
    job.steps.set_postfix_str("simulate")
    t = time.time()
    reports = {}
    for phase, seq in job.phases.items():
        comp, dense = from_artifact(art, phase, args.batch, seq)
        reports[phase] = job.simulate(comp, dense, hw, phase)
        reports[phase]["provenance"] = provenance(hw, artifact_workload(str(art), None, phase, args.batch, seq),
                                                  args.argv)
        atomic_write(out / f"simulate_{phase}.json", json.dumps(reports[phase], indent=1))
        atomic_write(out / f"simulate_{phase}.csv", to_csv(reports[phase]))
    rows = []
    for phase, rep in reports.items():
        for mod in ("MHA", "FFN"):
            g = rep["modules"][mod]
            pl = g["per_layer"]
            rows.append([phase, mod, f"{pl['dense_cycles']:,.0f}", f"{pl['sparse_cycles']:,.0f}", f"{pl['lowrank_cycles']:,.0f}",
                         f"{pl['total_cycles']:,.0f}", f"{g['speedup']:.2f}x", f"{g['utilization']['denser']:.1%}",
                         f"{g['utilization']['sparser']:.1%}", f"{g['dram_bytes'] / 1e6:,.1f} / {g['dense_dram_bytes'] / 1e6:,.1f}"])
        tt = rep["totals"]
        rows.append([phase, "model", f"{tt['dense_cycles']:,}", "", "", f"{tt['total_cycles']:,}", f"{tt['speedup']:.2f}x",
                     "", "", f"{tt['dram_bytes'] / 1e6:,.1f} / {tt['dense_dram_bytes'] / 1e6:,.1f} ({tt['bound']})"])
    job.add_table(f"Projections only: real SSLC masks on {hw.name} (the linear layers; cycles per layer; module "
                  "totals include memory waits)",
                  ["phase", "module", "dense", "sparse busy", "low-rank busy", "total", "speedup", "util dense",
                   "util sparse", "DRAM MB (SSLC / dense)"], rows)
    job.timings["simulate_s"] = time.time() - t
    job.steps.update()
    return reports


def _generation(job: _Job, art: Path) -> None:
    """Step 5: end to end, the real artifact's whole generation on whole decoder layers (the
    attention core over the growing KV cache, norms, SiLU x up, residual adds): prefill of
    --prefill-seq prompt tokens, then --new-tokens decode steps, every one exact."""
    from simulator.plots.generation_plots import generation_figure
    from simulator.reports.files import atomic_write
    from simulator.reports.provenance import artifact_workload, provenance
    from sslcsim.commands.generate import SHARE_NOTE, check_fits, rows
    from simulator.schedule.generation import simulate_generation
    from workloads.from_artifact import from_artifact

    args, hw = job.args, job.hw
    job.steps.set_postfix_str("generate")
    t = time.time()
    comp, dense = from_artifact(art, "prefill", args.batch, args.prefill_seq)
    check_fits(str(art), comp, hw, args.new_tokens, None)
    res = simulate_generation(comp, dense, hw, args.new_tokens)
    spec = artifact_workload(str(art), None, "prefill", args.batch, args.prefill_seq, "layer")
    spec["new_tokens"], spec["samples"] = args.new_tokens, None
    res["provenance"] = provenance(hw, spec, args.argv)
    atomic_write(job.out / "generation.json", json.dumps(res, indent=1))
    figures = generation_figure(res, job.out)
    job.add_table(f"End to end: whole decoder layers on {hw.name}, real SSLC masks, prompt {args.prefill_seq} + "
                  f"{args.new_tokens} new tokens, batch {args.batch} ({res['method']})",
                  ["", "dense", "SSLC", "speedup"], rows(res))
    job.md.append(f"Whole decoder layers: projections, the attention core over the KV cache, norms, SiLU x up and "
                  f"residual adds (`sslcsim generate`); the projections-only table above has the linear layers "
                  f"alone. {SHARE_NOTE}\n\n" + "".join(f"![generation]({p.name})\n" for p in figures if p.suffix == ".png"))
    job.timings["generate_s"] = time.time() - t
    job.steps.update()


def _shape_only_vs_real(job: _Job, art: Path, reports: dict[str, dict]):
    """Step 6: shape-only estimates (synthetic masks with the same per-projection nnz and
    ranks) against the real masks, on the job's hardware and on Table 4's; returns Table 4's
    hardware config."""
    from simulator.config import load_hw
    from simulator.reports.files import atomic_write
    from sslcsim.commands.reproduce import DEFAULT_HW
    from workloads.from_artifact import from_artifact, synthetic_like

    args, hw = job.args, job.hw
    job.steps.set_postfix_str("shape-only vs real")
    t = time.time()
    table4_hw = load_hw(DEFAULT_HW["table4"])
    cmp_rows = []
    comparison = []
    for label, cfg, phase in ((hw.name, hw, "decode"), (hw.name, hw, "prefill"), (table4_hw.name, table4_hw, "decode")):
        seq = job.phases[phase]
        comp, dense = from_artifact(art, phase, args.batch, seq)
        real = reports[phase] if cfg is hw else job.simulate(comp, dense, cfg, phase)
        for gen in ("uniform", "wanda-like"):
            twin = job.simulate(synthetic_like(art, gen, phase, args.batch, seq, args.seed), dense, cfg, phase)
            for mod in ("MHA", "FFN"):
                r, s = real["modules"][mod], twin["modules"][mod]
                err_total = 100 * (s["total_cycles"] / r["total_cycles"] - 1)
                err_sparse = 100 * (s["sparse_cycles"] / r["sparse_cycles"] - 1)
                comparison.append({"hw": label, "phase": phase, "generator": gen, "module": mod,
                                   "real_total": r["total_cycles"], "synthetic_total": s["total_cycles"],
                                   "real_sparse": r["sparse_cycles"], "synthetic_sparse": s["sparse_cycles"],
                                   "total_error_pct": err_total, "sparse_error_pct": err_sparse,
                                   "real_speedup": r["speedup"], "synthetic_speedup": s["speedup"]})
                cmp_rows.append([label, phase, mod, gen, f"{r['sparse_cycles']:,}", f"{s['sparse_cycles']:,}",
                                 f"{err_sparse:+.1f}%", f"{r['speedup']:.3f}x", f"{s['speedup']:.3f}x", f"{err_total:+.1f}%"])
    atomic_write(job.out / "shape_only_vs_real.json", json.dumps(comparison, indent=1))
    job.add_table("Shape-only estimate vs real SSLC masks (same nnz and rank per projection)",
                  ["hardware", "phase", "module", "generator", "sparse busy real", "sparse busy synthetic",
                   "sparse err", "speedup real", "speedup synthetic", "total err"], cmp_rows)
    job.timings["compare_s"] = time.time() - t
    job.steps.update()
    return table4_hw


def _table4(job: _Job, table4_hw) -> None:
    """Step 7: the paper's Table 4 on its hardware config."""
    from simulator.reports.files import atomic_write
    from simulator.reproduce.table4 import matching_reading, reproduce_table4
    from sslcsim.commands.reproduce import render

    job.steps.set_postfix_str("table 4")
    rows4 = reproduce_table4(table4_hw)
    atomic_write(job.out / "table4.json", json.dumps(rows4, indent=1))
    job.text_out.append(render(rows4))
    match = matching_reading(rows4)
    job.md.append("### SSLC Table 4 (`sslcsim reproduce table4`)\n\n" + "\n".join(
        f"- reading `{k}`: sparse and sum {'within' if v else 'not within'} 5% of the paper" for k, v in match.items()) + "\n")
    job.steps.update()


def _write_report(job: _Job, art: Path, ppl_dense: float, ppl_comp: float, summary: dict,
                  reports: dict[str, dict]) -> list[Path]:
    """Step 8: the plots, report.md and summary.json; returns the figure files."""
    from simulator.plots import report_plots
    from simulator.reports.files import atomic_write

    args, out, md, timings = job.args, job.out, job.md, job.timings
    job.steps.set_postfix_str("plots")
    plots = report_plots.cycle_breakdown(reports, out) + report_plots.utilization(reports, out) \
        + report_plots.dram_traffic(reports, out)
    if any("energy" in r for r in reports.values()):
        plots += report_plots.energy_breakdown(reports, out)
    md.append("### Figures\n\n" + "\n".join(f"![{p.stem}]({p.name})" for p in plots if p.suffix == ".png") + "\n")
    md.append(f"Wall time: {json.dumps({k: round(v, 1) for k, v in timings.items()})}\n")
    atomic_write(out / "summary.json", json.dumps({"model": args.model, "ratio": args.ratio, "artifact": str(art),
                                                   "perplexity_dense": ppl_dense, "perplexity_sslc": ppl_comp,
                                                   "compression": summary, "timings_s": timings,
                                                   "speedup": {p: r["totals"]["speedup"] for p, r in reports.items()}},
                                                  indent=1))
    atomic_write(out / "report.md", "\n".join(md))
    job.steps.update()
    return plots


def main(args: argparse.Namespace) -> int:
    """Runs the default job (the module docstring's steps) and prints its tables."""
    from simulator.config import load_hw

    job = _Job(args, load_hw(args.hw))
    art, ppl_dense, ppl_comp, summary = _compress_and_evaluate(job)
    reports = _simulate_artifact(job, art)
    _generation(job, art)
    table4_hw = _shape_only_vs_real(job, art, reports)
    _table4(job, table4_hw)
    plots = _write_report(job, art, ppl_dense, ppl_comp, summary, reports)
    job.steps.close()
    print("".join(job.text_out), end="")
    print(f"report: {job.out}/report.md ({len(plots)} figure files)")
    return 0
