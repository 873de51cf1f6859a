"""`sslcsim simulate`: cycles, utilization and speedup of a compressed model on a hardware config."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from workloads.errors import InputError

if TYPE_CHECKING:
    from workloads.budget import Budget

PATTERNS = {"unstructured": ("unstructured", "uniform"), "wanda-like": ("unstructured", "wanda-like")}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("simulate", help="simulate a compressed model against its dense baseline")
    p.add_argument("--model", help="preset name or transformers config.json path (optional with --artifact: "
                                     "then it must match the artifact's model)")
    p.add_argument("--artifact", help="compressed artifact directory (real S/U/V); the budget flags are then ignored")
    p.add_argument("--hw", help="hardware YAML (hwconfigs/*.yaml); required unless --scalesim-config")
    p.add_argument("--scalesim-config", metavar="CFG", help="a SCALE-Sim 3.0.0 .cfg: time the --topology GEMM layers as "
                   "SCALE-Sim does and print its COMPUTE_REPORT (plus this project's physical cycles)")
    p.add_argument("--topology", metavar="CSV", help="a SCALE-Sim GEMM (or conv) topology .csv, with --scalesim-config")
    add_budget_args(p)
    add_attention_args(p)
    p.add_argument("--phase", choices=["decode", "prefill"], default="decode")
    p.add_argument("--batch", type=int, default=1)
    p.add_argument("--seq", type=int, default=2048, help="sequence length (prefill)")
    p.add_argument("--layers", type=int, help="simulate only the first N layers")
    p.add_argument("--scope", choices=["projections", "layer"], default="projections",
                   help="projections: the linear layers only (default; what Table 4 and earlier reports time); "
                        "layer: the whole decoder layer (attention core and KV cache, norms, SiLU x up, residuals)")
    p.add_argument("--allocation-file", metavar="FILE",
                   help="per-projection budgets for a shape-only run: YAML/JSON {projections: {\"<layer>.<proj>\": "
                        "{rank, density}}}, or an artifact's manifest.json with an allocation "
                        "(workloads/allocation_file.py); replaces --ratio/--rank per projection")
    p.add_argument("--context", type=int, default=0,
                   help="decode with --scope layer: tokens already in each sequence's KV cache (default 0)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", metavar="OUT", help="write the full report as JSON")
    p.add_argument("--csv", metavar="OUT", help="write per-projection/layer/module rows as CSV")
    p.set_defaults(func=main)


def add_budget_args(p: argparse.ArgumentParser) -> None:
    """The shape-only budget flags `simulate` and `generate` share."""
    p.add_argument("--ratio", type=float, default=0.5, help="kept fraction p = sparse + low-rank (+ preserved)")
    p.add_argument("--rank", type=int, default=None,
                   help="rank r of U V (default: the rule compress uses, the low-rank part gets 1/8 of the kept "
                        "budget per projection: floor(0.125 ratio m n / (m + n)); 128 for 4096 x 4096 at 0.5)")
    p.add_argument("--preserve", type=float, default=0.01, help="preserved top-salience fraction q")
    p.add_argument("--pattern", default="unstructured",
                   help="unstructured (uniform iid mask), wanda-like (skewed, exact per-row density) or N:M, e.g. 2:4")
    p.add_argument("--s-density", choices=["accounting", "ratio"], default="accounting",
                   help="S density = ratio - low-rank share (accounting, default) or = ratio (Table 4 reading)")


def add_attention_args(p: argparse.ArgumentParser, needs: str = "; needs --scope layer") -> None:
    """The sparse-attention flags `simulate` and `generate` share (workloads/attention_sparsity.py)."""
    p.add_argument("--attention-sparsity", metavar="SPEC",
                   help="sparse attention of the compared model (the dense baseline keeps dense attention): "
                        "window:W[+S] (decode: W recent keys + S attention sinks), topk:K (decode: the K "
                        "highest-scoring keys per KV-head group, selected on the vector unit, their V rows "
                        "gathered) or mask:FILE.npy (prefill: a (1 or layers, heads, seq, seq) attention map)"
                        + needs)
    p.add_argument("--dense-weights", action="store_true",
                   help="the compared model keeps dense weights (with --attention-sparsity: the speedup of "
                        "sparse attention alone)")


def budget_from_args(args: argparse.Namespace) -> Budget:
    from workloads.budget import Budget

    pattern, generator = PATTERNS.get(args.pattern, (args.pattern, "nm"))  # N:M: the pattern is the generator
    return Budget(args.ratio, args.rank, args.preserve, pattern, generator, args.s_density)


def main(args: argparse.Namespace) -> int:
    # imported here so that other commands and --help start without numba and pydantic
    from simulator.api import simulate_workloads
    from simulator.config import load_hw
    from simulator.program.footprint import check_footprint
    from simulator.reports.files import atomic_write, check_output_path
    from simulator.reports.provenance import artifact_workload, provenance, shape_workload
    from simulator.reports.summary import render_table, to_csv, to_json
    from workloads.from_artifact import from_artifact
    from workloads.presets import resolve_model
    from workloads.attention_sparsity import with_attention_sparsity
    from workloads.workload import check_phase, check_scope, from_shape

    for out in (args.json, args.csv):  # before any work: never print a table and then fail
        if out:
            check_output_path(out)
    if args.scalesim_config or args.topology:
        return scalesim_main(args)
    if not args.hw:
        raise InputError("simulate: give --hw X.yaml (or --scalesim-config X.cfg --topology T.csv)")
    hw = load_hw(args.hw)
    seq = args.seq if args.phase == "prefill" else 1
    if args.artifact and args.allocation_file:
        raise InputError("simulate: --allocation-file is for shape-only runs; an --artifact has its own budgets")
    if args.artifact:
        expected = resolve_model(args.model) if args.model else None
        comp, dense = from_artifact(args.artifact, args.phase, args.batch, seq, expected)
        check_scope(args.scope, args.phase, args.context)
        check_footprint(args.artifact, comp.model, hw, args.phase, args.batch, seq, args.scope, args.context)
        workload = artifact_workload(args.artifact, expected, args.phase, args.batch, seq, args.scope, args.context)
    else:
        if not args.model:
            raise InputError("simulate: give --model (a preset or config.json) or --artifact DIR")
        model, budget = resolve_model(args.model), budget_from_args(args)
        check_phase(args.phase, args.batch, seq)
        check_scope(args.scope, args.phase, args.context)
        check_footprint(args.model, model, hw, args.phase, args.batch, seq, args.scope, args.context)
        alloc = None
        if args.allocation_file:
            from workloads.allocation_file import read_allocation

            alloc = read_allocation(args.allocation_file, model, args.layers or model.num_layers)
        comp = from_shape(model, budget, args.phase, args.batch, seq, args.seed, args.layers, alloc)
        dense = from_shape(model, None, args.phase, args.batch, seq, args.seed, args.layers)
        workload = shape_workload(model, budget, args.phase, args.batch, seq, args.seed, args.layers, args.scope,
                                  args.context, alloc)
    comp, dense = comp.with_scope(args.scope, args.context), dense.with_scope(args.scope, args.context)
    comp = with_attention_sparsity(dense if args.dense_weights else comp, args.attention_sparsity,
                                   args.context + 1 if args.phase == "decode" else None)
    workload.update(attention_sparsity=args.attention_sparsity, dense_weights=args.dense_weights)
    report = simulate_workloads(comp, dense, hw)
    report["provenance"] = provenance(hw, workload, args.argv)
    print(render_table(report), end="")
    if args.json:
        atomic_write(args.json, to_json(report))
    if args.csv:
        atomic_write(args.csv, to_csv(report))
    return 0


def scalesim_main(args: argparse.Namespace) -> int:
    """SCALE-Sim's own config and topology files in, its COMPUTE_REPORT out."""
    import json

    from simulator.reports.files import atomic_write
    from simulator.scalesim.files import read_gemm_topology, read_scalesim_config
    from simulator.scalesim.report import compute_report, render_compute_report, report_json

    if not (args.scalesim_config and args.topology):
        raise InputError("simulate: --scalesim-config and --topology go together")
    if args.hw or args.model or args.artifact:
        raise InputError("simulate: --scalesim-config/--topology take no --hw, --model or --artifact")
    rows = compute_report(read_scalesim_config(args.scalesim_config), read_gemm_topology(args.topology))
    text = render_compute_report(rows)
    print(text, end="")
    if args.json:
        atomic_write(args.json, json.dumps(report_json(rows), indent=2) + "\n")
    if args.csv:
        atomic_write(args.csv, text)
    return 0
