"""`sslcsim compress`: calibrate and decompose a model into a compressed artifact."""

from __future__ import annotations

import argparse
import json


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "compress", help="compress a model (SSLC or a baseline) into an artifact directory",
        description="Compress every decoder/encoder layer's linear projections, layer by layer, "
                    "into S + U V and write the artifact (manifest.json + layer_XXX.safetensors). "
                    "An interrupted run resumes from the last finished layer.")
    p.add_argument("--model", required=True,
                   help="'smollm2-135m', 'minilm', a transformers model directory, or a .gguf file")
    p.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                   help="read one decoder layer at a time from the safetensors files, so memory scales "
                        "with one layer (default: on for causal LMs stored as safetensors; GGUF and "
                        ".bin checkpoints always load whole)")
    p.add_argument("--method", default="sslc",
                   choices=["sslc", "sslc-obs", "magnitude", "wanda", "sparsegpt", "svd", "asvd"],
                   help="sslc: the paper's algorithm; sslc-obs: SSLC whose sparse step is SparseGPT's OBS "
                        "pruning of the low-rank residual (kept weights updated to compensate)")
    p.add_argument("--ratio", type=float, default=0.5,
                   help="kept fraction of each matrix: sparse + r(m+n)/(mn) + preserve (default 0.5)")
    p.add_argument("--rank", type=int, default=None,
                   help="SSLC rank r (default: the low-rank part gets --rank-share of the budget)")
    p.add_argument("--rank-share", type=float, default=None,
                   help="SSLC: share of the kept budget given to the low-rank part when --rank is not "
                        "set (default 0.125 = the paper's r=128 on 4096x4096 at 50%%; sslc-obs: 0.0625)")
    p.add_argument("--preserve", type=float, default=None, help="SSLC preserved fraction (default 0.01)")
    p.add_argument("--iters", type=int, default=None,
                   help="SSLC alternating steps T (default 40; sslc-obs: its SSLC steps before the OBS steps, "
                        "default 40)")
    p.add_argument("--obs-steps", type=int, default=None,
                   help="sslc-obs: error-compensated (OBS) sparse steps after the SSLC steps, each after "
                        "the first preceded by a low-rank refit (default 1)")
    p.add_argument("--sparse-metric", default=None, choices=["salience", "wanda", "magnitude"],
                   help="SSLC sparse step metric (plug-in over another pruning metric, paper Table 9)")
    p.add_argument("--pattern", default="unstructured", help="'unstructured' or N:M such as 2:4, 4:8")
    p.add_argument("--allocation", default=None, choices=["uniform", "owl", "global"],
                   help="how the model's budget is shared across projections: uniform (every matrix keeps "
                        "--ratio, the paper), owl (outlier-weighted per layer) or global (measured error "
                        "curves, one exact total; sslc and sslc-obs split each budget between S and U V, the "
                        "pruning methods move only the sparse budget); docs/compression.md")
    g = p.add_argument_group("hardware-aware allocation (with --allocation global; docs/compression.md)")
    g.add_argument("--cost-hw", default=None,
                   help="hardware config (YAML): weigh each allocation candidate by its simulated cost on it")
    g.add_argument("--cost-phase", default="decode", choices=["decode", "prefill", "both"],
                   help="phase the cost is simulated in (both: each phase relative to dense, summed; default decode)")
    g.add_argument("--cost", default="cycles", choices=["cycles", "energy"],
                   help="what a candidate costs: simulated cycles, or energy (the config needs a technology)")
    g.add_argument("--cost-batch", type=int, default=1, help="sequences per step in the cost simulations (default 1)")
    g.add_argument("--cost-seq", type=int, default=512, help="prompt tokens of a prefill cost simulation (default 512)")
    g.add_argument("--cost-target", type=float, default=None,
                   help="total cost as a fraction of the dense model's (default: the cost of the loss-only "
                        "global allocation at --ratio)")
    g.add_argument("--loss-target", type=float, default=None,
                   help="instead: the least cost whose calibration-loss estimate is at most this multiple of "
                        "the loss-only global allocation's at --ratio")
    g.add_argument("--cost-masks", default="candidates", choices=["candidates", "synthetic"],
                   help="S mask a candidate is priced on: its own (stage 1's salience mask; default) or a seeded "
                        "synthetic one per shape (needs no weights, predicts real masks' cost worse)")
    g.add_argument("--cost-cache", default=None, help="JSON file caching the cost simulations across runs")
    p.add_argument("--calib-samples", type=int, default=32)
    p.add_argument("--calib-seqlen", type=int, default=512)
    p.add_argument("--calib-text", default=None,
                   help="text file for calibration (default: first half of pydoc_data.topics)")
    p.add_argument("--batch", type=int, default=8, help="calibration windows per forward")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", required=True, help="artifact directory")
    p.add_argument("--overwrite", action="store_true", help="discard an existing artifact at --out")
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def hyperparameters(args: argparse.Namespace) -> dict:
    from compression.methods import ALLOCATED

    hp = {"ratio": args.ratio, "pattern": args.pattern}
    if args.method in ALLOCATED:
        hp["allocation"] = args.allocation
    elif args.allocation is not None:
        from workloads.errors import InputError

        raise InputError(f"--allocation: does not apply to --method {args.method} (pure low rank)")
    _cost_options(args, hp)
    own = {"sslc": ("rank", "rank_share", "preserve", "iters", "sparse_metric"),
           "sslc-obs": ("rank", "rank_share", "iters", "obs_steps")}.get(args.method, ())
    for opt in ("rank", "rank_share", "preserve", "iters", "sparse_metric", "obs_steps"):
        if opt in own:
            hp[opt] = getattr(args, opt)
        elif getattr(args, opt) is not None:
            from workloads.errors import InputError

            raise InputError(f"--{opt.replace('_', '-')}: does not apply to --method {args.method}")
    return hp


def _cost_options(args: argparse.Namespace, hp: dict) -> None:
    """hp["cost"] from --cost-hw and its options (which are errors without it)."""
    from workloads.errors import InputError

    given = [o for o in ("cost_target", "loss_target", "cost_cache") if getattr(args, o) is not None]
    if args.cost_hw is None:
        if given:
            raise InputError(f"--{given[0].replace('_', '-')}: needs --cost-hw")
        return
    from simulator.config import load_hw
    from sslcsim import costs

    for opt in ("cost_batch", "cost_seq"):
        if not 1 <= getattr(args, opt) <= 1 << 16:
            raise InputError(f"--{opt.replace('_', '-')}: expected an integer in 1..65536, got {getattr(args, opt)}")
    hp["cost"] = costs.describe(load_hw(args.cost_hw), args.cost_hw, args.cost_phase, args.cost, args.cost_batch,
                                args.cost_seq, args.cost_target, args.loss_target, args.cost_masks)


def run(args: argparse.Namespace) -> int:
    from workloads.errors import InputError

    for opt in ("calib_samples", "calib_seqlen", "batch"):
        if getattr(args, opt) < 1:
            raise InputError(f"--{opt.replace('_', '-')}: expected >= 1, got {getattr(args, opt)}")
    from compression import methods, models, pipeline

    hp = methods.check_hyperparameters(args.method, hyperparameters(args))
    lm = models.load(args.model, stream=args.stream)
    table = None
    if hp.get("cost"):
        from simulator.config import load_hw
        from sslcsim import costs

        table = costs.for_model(lm, args.method, hp, load_hw(args.cost_hw), args.cost_cache)
    man = pipeline.compress_model(lm, args.method, hp, args.seed, args.out,
                                  calib_samples=args.calib_samples, calib_seqlen=args.calib_seqlen,
                                  calib_text=args.calib_text, batch=args.batch,
                                  overwrite=args.overwrite, show_progress=not args.no_progress, costs=table)
    summ = pipeline.summarize(man)
    extra = {"allocation_cost": man["allocation_cost"]} if "allocation_cost" in man else {}
    print(json.dumps({"artifact": args.out, "method": args.method, "complete": man["complete"],
                      "wall_s": round(man.get("_wall_s", 0.0), 2), **summ, **extra}, indent=1))
    return 0
