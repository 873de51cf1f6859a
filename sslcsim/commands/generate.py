"""`sslcsim generate`: a whole generation (prefill, then decode steps with the KV cache
growing) of a compressed model and its dense baseline on one hardware config."""

from __future__ import annotations

import argparse
import dataclasses
import io
import json
from pathlib import Path

from workloads.errors import InputError


def register(sub: argparse._SubParsersAction) -> None:
    from sslcsim.commands.simulate import add_attention_args, add_budget_args

    p = sub.add_parser("generate", help="simulate prefill + N decode steps (time to first token, tokens/s)")
    p.add_argument("--model", help="preset name or transformers config.json path (optional with --artifact)")
    p.add_argument("--artifact", help="compressed artifact directory (real S/U/V); the budget flags are then ignored")
    p.add_argument("--hw", required=True, help="hardware YAML (hwconfigs/*.yaml)")
    p.add_argument("--prompt", type=int, required=True, help="prompt tokens per sequence (prefilled at once)")
    p.add_argument("--new-tokens", type=int, required=True, help="tokens generated per sequence (decode steps)")
    p.add_argument("--batch", type=int, default=1, help="sequences generated together")
    add_budget_args(p)
    add_attention_args(p, " (window/topk: the decode steps; mask: the prompt's prefill)")
    p.add_argument("--layers", type=int, help="simulate only the first N layers")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--samples", type=int, help="simulate only this many decode steps, evenly spaced, and "
                   "interpolate the rest in the context length (default: every step exactly)")
    p.add_argument("--json", metavar="OUT", help="write the result (every step's cycles included) as JSON")
    p.add_argument("--plot", metavar="DIR", help="write generation.{pdf,svg,png}: per-token latency and op-class shares")
    p.set_defaults(func=main)


SHARE_NOTE = "Active share: the fraction of the generation's time during which ops of that class run (classes overlap)."


def rows(res: dict) -> list[list[str]]:
    """The result's table rows: (what, dense, compressed, speedup or energy gain)."""
    d, c = res["dense"], res["compressed"]
    ms = lambda s: f"{s * 1e3:,.3f} ms"  # noqa: E731
    out = [["time to first token", ms(d["time_to_first_token_s"]), ms(c["time_to_first_token_s"]),
            f"{res['speedup']['time_to_first_token']:.2f}x"]]
    for k in ("first", "median", "last"):
        lat_d, lat_c = d["per_token_latency_s"][k], c["per_token_latency_s"][k]
        out.append([f"per-token latency, {k}", ms(lat_d), ms(lat_c), f"{lat_d / lat_c:.2f}x"])
    out.append(["tokens/s (whole generation)", f"{d['tokens_per_s']:,.2f}", f"{c['tokens_per_s']:,.2f}",
                f"{res['speedup']['total']:.2f}x"])
    out.append(["tokens/s (decode steps)", f"{d['decode_tokens_per_s']:,.2f}", f"{c['decode_tokens_per_s']:,.2f}",
                f"{res['speedup']['decode']:.2f}x"])
    for k in ("projections", "attention_core", "vector", "writeback"):
        out.append([f"active share: {k.replace('_', ' ')}", f"{d['active_share'][k]:.1%}",
                    f"{c['active_share'][k]:.1%}", ""])
    out.append(["KV-cache DRAM bytes", f"{d['kv_cache_bytes'] / 1e9:,.3f} GB", f"{c['kv_cache_bytes'] / 1e9:,.3f} GB",
                ""])
    return out + (_energy_rows(res) if "energy" in c else [])


def render(res: dict) -> str:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{res['model']} on {res['hardware']}: prompt {res['prompt']}, {res['new_tokens']} new "
                        f"tokens, batch {res['batch']}")
    for col in ("", "dense", "compressed", "speedup"):
        table.add_column(col, justify="right")
    for r in rows(res):
        table.add_row(*r)
    console = Console(file=io.StringIO(), width=120)
    console.print(table)
    compared = "dense weights" if res.get("dense_weights") else "compressed weights"
    if res.get("attention_sparsity"):
        compared += f", attention sparsity {res['attention_sparsity']}"
    console.print(f"compared: {compared}; baseline: dense weights and dense attention.")
    console.print(f"method: {res['method']}. {SHARE_NOTE}")
    return console.file.getvalue()


def _energy_rows(res: dict) -> list[list[str]]:
    """Energy per generated token, tokens per joule and average power, dense and compressed."""
    d, c = res["dense"]["energy"], res["compressed"]["energy"]
    uj = lambda pj: f"{pj * 1e-6:,.3f} uJ"  # noqa: E731
    return [
        ["energy (whole generation)", f"{d['total_pj'] * 1e-9:,.3f} mJ", f"{c['total_pj'] * 1e-9:,.3f} mJ",
         f"energy gain {res['energy_gain']['total']:.2f}x"],
        ["energy per token (whole generation)", uj(d["pj_per_token"]), uj(c["pj_per_token"]), ""],
        ["energy per token (decode steps)", uj(d["decode_pj_per_token"]), uj(c["decode_pj_per_token"]),
         f"energy gain {res['energy_gain']['decode']:.2f}x"],
        ["tokens per joule (whole generation)", f"{d['tokens_per_joule']:,.1f}", f"{c['tokens_per_joule']:,.1f}", ""],
        ["average power", f"{d['average_power_w']:,.3f} W", f"{c['average_power_w']:,.3f} W", ""],
        ["chip area", f"{res['area_mm2']:,.2f} mm^2", f"{res['area_mm2']:,.2f} mm^2", ""],
    ]


def main(args: argparse.Namespace) -> int:
    from simulator.config import load_hw
    from simulator.reports.files import atomic_write, check_output_path
    from simulator.reports.provenance import artifact_workload, provenance, shape_workload
    from sslcsim.commands.simulate import budget_from_args
    from workloads.from_artifact import from_artifact
    from workloads.presets import resolve_model
    from workloads.attention_sparsity import with_attention_sparsity
    from workloads.workload import from_shape

    for out in _outputs(args):  # before any work: never print a table and then fail
        check_output_path(out)
    hw = load_hw(args.hw)
    if args.artifact:
        expected = resolve_model(args.model) if args.model else None
        comp, dense = from_artifact(args.artifact, "prefill", args.batch, args.prompt, expected)
        spec = artifact_workload(args.artifact, expected, "prefill", args.batch, args.prompt, "layer")
    else:
        if not args.model:
            raise InputError("generate: give --model (a preset or config.json) or --artifact DIR")
        model, budget = resolve_model(args.model), budget_from_args(args)
        comp = from_shape(model, budget, "prefill", args.batch, args.prompt, args.seed, args.layers)
        dense = from_shape(model, None, "prefill", args.batch, args.prompt, args.seed, args.layers)
        spec = shape_workload(model, budget, "prefill", args.batch, args.prompt, args.seed, args.layers, "layer")
    spec["new_tokens"], spec["samples"] = args.new_tokens, args.samples
    spec.update(attention_sparsity=args.attention_sparsity, dense_weights=args.dense_weights)
    check_fits(args.artifact or args.model, comp, hw, args.new_tokens, args.samples)  # before the budget's check
    comp = with_attention_sparsity(dataclasses.replace(dense if args.dense_weights else comp, scope="layer"),
                                   args.attention_sparsity, args.prompt + args.new_tokens)
    res = run_with_progress(comp, dense, hw, args.new_tokens, args.samples)
    res["attention_sparsity"], res["dense_weights"] = args.attention_sparsity, args.dense_weights
    res["provenance"] = provenance(hw, spec, args.argv)
    print(render(res), end="")
    if args.json:
        atomic_write(args.json, json.dumps(res, indent=1))
    if args.plot:
        from simulator.plots.generation_plots import generation_figure

        for path in generation_figure(res, args.plot):
            print(f"wrote {path}")
    return 0


def _outputs(args: argparse.Namespace) -> list[str]:
    """Every file the command will write: the JSON report and the plot's files."""
    outs = [args.json] if args.json else []
    if args.plot:
        from simulator.plots.style import FORMATS

        outs += [str(Path(args.plot) / f"generation.{fmt}") for fmt in FORMATS]
    return outs


def check_fits(where: str, comp, hw, new_tokens: int, samples: int | None) -> None:
    """Refuse, before any step runs, a generation whose prefill or last decode step the
    simulator cannot hold in memory (simulator/program/footprint.py)."""
    from simulator.program.footprint import check_footprint
    from simulator.schedule.generation import check_generation

    check_generation(comp, new_tokens, samples)
    check_footprint(where, comp.model, hw, "prefill", comp.batch, comp.seq, "layer")
    check_footprint(where, comp.model, hw, "decode", comp.batch, 1, "layer", comp.seq + new_tokens - 1)


def run_with_progress(comp, dense, hw, new_tokens: int, samples: int | None) -> dict:
    """The generation with a progress bar over the simulated steps (stderr)."""
    from simulator.schedule.generation import simulate_generation, step_indices
    from tqdm import tqdm

    steps = 2 * (1 + len(step_indices(new_tokens, samples)))
    with tqdm(total=steps, desc="steps simulated", unit="step", leave=False) as bar:
        return simulate_generation(comp, dense, hw, new_tokens, samples, progress=bar.update)
