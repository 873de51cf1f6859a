"""`sslcsim finetune`: low-rank recovery -- train U and V with S frozen (paper Sec. 4.3)."""

from __future__ import annotations

import argparse
import json

MAX_TRAIN_WINDOWS = 4096  # consecutive windows of the training text, at most


def register(subparsers) -> None:
    p = subparsers.add_parser(
        "finetune", help="fine-tune the low-rank factors U, V of an artifact (S frozen)",
        description="Load a model and a compressed artifact, train only U and V on a text file, "
                    "report perplexity before/after on held-out text and write a new artifact.")
    p.add_argument("--model", required=True)
    p.add_argument("--artifact", required=True)
    p.add_argument("--text", default=None, help="training text file (default: calibration half of "
                                                "pydoc_data.topics)")
    p.add_argument("--out", required=True, help="directory for the fine-tuned artifact")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--seqlen", type=int, default=256)
    p.add_argument("--eval-windows", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-progress", action="store_true")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from workloads.errors import InputError

    if args.steps < 1 or args.batch < 1 or args.seqlen < 2 or args.lr <= 0:
        raise InputError("--steps/--batch must be >= 1, --seqlen >= 2, --lr > 0")
    from pathlib import Path

    import torch

    from compression import evaluate, export, finetune, models, text

    if Path(args.out).resolve() == Path(args.artifact).resolve():
        raise InputError(f"--out {args.out}: must differ from --artifact")
    train_txt, train_desc = text.read_text(args.text)
    lm = models.load(args.model)
    if not lm.is_causal:
        raise InputError(f"--model {args.model}: fine-tuning needs a causal LM")
    man = export.apply_artifact(lm.model, args.artifact, modules=True)
    eval_w = evaluate.eval_windows(lm.tokenizer, text.evaluation_text(), args.seqlen, args.eval_windows)
    before = evaluate.perplexity(lm.model, eval_w)
    train_w = evaluate.eval_windows(lm.tokenizer, train_txt, args.seqlen, MAX_TRAIN_WINDOWS)
    if train_w.shape[0] == 0:
        raise InputError(f"--text {train_desc}: fewer tokens than --seqlen {args.seqlen}")
    torch.manual_seed(args.seed)
    stats = finetune.train(lm.model, train_w, args.steps, args.lr, args.batch, args.seed,
                           show_progress=not args.no_progress)
    after = evaluate.perplexity(lm.model, eval_w)
    finetune.save_artifact(lm.model, args.artifact, args.out, man, {
        "text": train_desc, "steps": args.steps, "lr": args.lr, "batch": args.batch, "seqlen": args.seqlen,
        "seed": args.seed})
    print(json.dumps({"artifact": args.out, "ppl_before": before, "ppl_after": after,
                      "trainable_params": stats["trainable"], "steps": stats["steps"],
                      "final_train_loss": stats.get("final_loss"), "wall_s": round(stats.get("wall_s", 0), 1),
                      "eval_windows": int(eval_w.shape[0]), "seqlen": args.seqlen}, indent=1))
    return 0
