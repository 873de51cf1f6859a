"""Evaluation: perplexity (causal LMs, non-overlapping windows of held-out text) and
embedding fidelity (encoders: cosine of mean-pooled embeddings vs the dense model)."""

from __future__ import annotations

import math

import torch
from tqdm import tqdm


def eval_windows(tokenizer, text: str, seqlen: int, max_windows: int | None) -> torch.Tensor:
    ids = torch.tensor(tokenizer(text, add_special_tokens=False, return_attention_mask=False)["input_ids"])
    n = ids.numel() // seqlen
    if max_windows:
        n = min(n, max_windows)
    return ids[: n * seqlen].reshape(n, seqlen)


@torch.no_grad()
def perplexity(model, windows: torch.Tensor, batch: int = 4, show_progress: bool = False) -> float:
    """exp(mean next-token NLL) over every predicted token of the windows (no overlap, no stride)."""
    nll = 0.0
    count = 0
    for s in tqdm(range(0, windows.shape[0], batch), desc="ppl", disable=not show_progress, unit="batch"):
        ids = windows[s: s + batch]
        logits = model(input_ids=ids, use_cache=False).logits.float()
        lp = torch.nn.functional.cross_entropy(
            logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1), reduction="sum")
        nll += float(lp)
        count += ids[:, 1:].numel()
    return math.exp(nll / count)


def sentences(text: str, max_items: int | None, min_chars: int = 40) -> list[str]:
    parts = [p.strip() for p in text.split("\n\n")]
    parts = [" ".join(p.split()) for p in parts if len(p.strip()) >= min_chars]
    return parts[:max_items] if max_items else parts


@torch.no_grad()
def embeddings(model, tokenizer, items: list[str], seqlen: int = 128, batch: int = 16) -> torch.Tensor:
    outs = []
    for s in range(0, len(items), batch):
        enc = tokenizer(items[s: s + batch], padding=True, truncation=True, max_length=seqlen,
                        return_tensors="pt")
        h = model(**enc).last_hidden_state
        m = enc["attention_mask"].unsqueeze(-1).float()
        e = (h * m).sum(1) / m.sum(1).clamp_min(1)
        outs.append(torch.nn.functional.normalize(e, dim=-1))
    return torch.cat(outs)


def cosine_fidelity(ref: torch.Tensor, got: torch.Tensor) -> dict:
    cos = (ref * got).sum(-1) / (ref.norm(dim=-1) * got.norm(dim=-1)).clamp_min(1e-12)
    return {"mean_cosine": float(cos.mean()), "min_cosine": float(cos.min()), "items": int(cos.numel())}
