"""`sslcsim evaluate`: perplexity (causal LM) or embedding fidelity (encoder) of a model,
dense or with a compressed artifact applied."""

from __future__ import annotations

import argparse
import json
import time


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "evaluate", help="perplexity / embedding fidelity of a dense or compressed model",
        description="Evaluate on held-out text (second half of pydoc_data.topics, disjoint from "
                    "calibration): perplexity over non-overlapping windows for causal LMs, cosine "
                    "similarity to the dense model's embeddings for encoders; per-layer "
                    "reconstruction error from the artifact's manifest.")
    p.add_argument("--model", required=True)
    p.add_argument("--stream", action=argparse.BooleanOptionalAction, default=None,
                   help="perplexity with one decoder layer in memory at a time, read from the "
                        "safetensors files (default: on for causal LMs stored as safetensors)")
    p.add_argument("--artifact", default=None, help="compressed artifact directory (omit: dense)")
    p.add_argument("--seqlen", type=int, default=512, help="window length (encoders: max tokens)")
    p.add_argument("--windows", type=int, default=None, help="at most this many windows/items (default all)")
    p.add_argument("--text", default=None, help="evaluation text file (default: pydoc_data.topics 2nd half)")
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--dense-weights", action="store_true",
                   help="write S + U V into the nn.Linear weights instead of S x + U (V x) modules")
    p.add_argument("--per-layer", action="store_true", help="print per-layer reconstruction error")
    p.add_argument("--json", default=None, help="also write the result as JSON here")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workloads.errors import InputError

    if args.seqlen < 2 or args.batch < 1 or (args.windows is not None and args.windows < 1):
        raise InputError("--seqlen must be >= 2, --batch and --windows >= 1")
    from simulator.reports.files import atomic_write, check_output_path
    from workloads import artifact

    # everything the user named is checked before the model loads (tens of seconds)
    if args.json:
        check_output_path(args.json)
    if args.artifact:
        artifact.check_files(args.artifact)
    from compression import evaluate, export, models, text

    txt, desc = text.read_text(args.text or "evaluation")
    lm = models.load(args.model, stream=args.stream)
    if lm.store is not None and not lm.is_causal:
        raise InputError(f"--stream: {args.model} is an encoder; its evaluation loads the whole model "
                         f"(drop --stream)")
    result: dict = {"model": lm.model_id, "artifact": args.artifact, "text": desc}
    t0 = time.time()
    if not lm.is_causal:
        items = evaluate.sentences(txt, args.windows)
        ref = evaluate.embeddings(lm.model, lm.tokenizer, items, args.seqlen)
    man = None
    if args.artifact:
        if lm.store is None:
            man = export.apply_artifact(lm.model, args.artifact, modules=not args.dense_weights)
        else:  # applied layer by layer as the layers are read
            man = export.check_artifact(lm.model, args.artifact)
        if not man["complete"]:
            print(f"warning: {args.artifact}: artifact is incomplete "
                  f"({len(man['layers'])}/{man['model']['num_layers']} layers)")
        result["method"] = man["method"]
        result["hyperparameters"] = man["hyperparameters"]
    if lm.is_causal:
        windows = evaluate.eval_windows(lm.tokenizer, txt, args.seqlen, args.windows)
        if windows.shape[0] == 0:
            raise InputError(f"{desc}: fewer tokens than one --seqlen {args.seqlen} window")
        if lm.store is None:
            result["perplexity"] = evaluate.perplexity(lm.model, windows, args.batch, show_progress=True)
        else:
            result["perplexity"] = evaluate.streamed_perplexity(
                lm, windows, args.batch, args.artifact, modules=not args.dense_weights, show_progress=True)
        result["windows"] = int(windows.shape[0])
        result["seqlen"] = args.seqlen
    else:
        got = evaluate.embeddings(lm.model, lm.tokenizer, items, args.seqlen)
        result.update(evaluate.cosine_fidelity(ref, got))
    result["eval_wall_s"] = round(time.time() - t0, 2)
    if man is not None:
        from compression.pipeline import summarize

        result.update(summarize(man))
        if args.per_layer:
            for layer in man["layers"]:
                errs = ", ".join(f"{p['name']}={p.get('recon_error', float('nan')):.4f}"
                                 for p in layer["projections"])
                print(f"layer {layer['index']:3d}: {errs}")
    print(json.dumps(result, indent=1))
    if args.json:
        atomic_write(args.json, json.dumps(result, indent=1))
    return 0
