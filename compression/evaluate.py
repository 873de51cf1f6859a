"""Evaluation: perplexity (causal LMs, non-overlapping windows of held-out text) and
embedding fidelity (encoders: cosine of mean-pooled embeddings vs the dense model)."""

from __future__ import annotations

import math

import torch
from tqdm import tqdm

from compression import calibration, export, models
from workloads import artifact


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


class _Replay(torch.nn.Module):
    """Stands in for a decoder layer once every real layer has run: the first returns the
    stored final hidden states of the current batch, the others pass them through, so the
    model's own forward computes the final norm and the head."""

    def __init__(self, outputs: list[torch.Tensor] | None, as_tuple: bool):
        super().__init__()
        self.outputs = iter(outputs) if outputs is not None else None
        self.as_tuple = as_tuple

    def forward(self, hidden: torch.Tensor, *args, **kwargs):
        if self.outputs is not None:
            hidden = next(self.outputs)
        return (hidden,) if self.as_tuple else hidden


def _run_layers(lm: models.LoadedModel, chunks: list, artifact_dir: str | None, modules: bool,
                show_progress: bool) -> tuple[list, bool]:
    """Every chunk through layer 0, then layer 1, ... (artifact layers applied as each is
    loaded); returns the last layer's outputs and whether the layers return tuples."""
    entries = {}
    if artifact_dir is not None:
        entries = {e["index"]: e for e in export.check_artifact(lm.model, artifact_dir)["layers"]}
    returns_tuple: list[bool] = []
    n = len(models.layer_stack(lm.model))
    # leave=False: a bad artifact layer found mid-run then leaves only its one-line error
    with tqdm(range(n), desc="ppl layers", disable=not show_progress, unit="layer", leave=False) as bar:
        for i in bar:
            with lm.layer(i) as layer:
                replaced = {}
                if i in entries:
                    where = f"{artifact_dir}/{entries[i]['file']}"
                    replaced = export.apply_layer(layer, artifact.read_layer(artifact_dir, entries[i]), where,
                                                  modules)
                hook = layer.register_forward_hook(
                    lambda mod, args, out: returns_tuple.append(isinstance(out, (tuple, list))))
                try:
                    chunks = calibration.layer_forward(layer, chunks)
                finally:
                    hook.remove()
                    export.restore_layer(layer, replaced)  # release() expects the layer's own modules
    return chunks, returns_tuple[-1]


@torch.no_grad()
def streamed_perplexity(lm: models.LoadedModel, windows: torch.Tensor, batch: int = 4,
                        artifact_dir: str | None = None, modules: bool = True,
                        show_progress: bool = False) -> float:
    """perplexity() with one decoder layer in memory at a time: every window through layer 0,
    then layer 1, ..., then the final norm and head (modules as in export.apply_artifact)."""
    chunks = calibration.capture_inputs(lm.model, windows, batch, lm.is_causal)
    chunks, as_tuple = _run_layers(lm, chunks, artifact_dir, modules, show_progress)
    layers = models.layer_stack(lm.model)
    originals = list(layers)
    for i in range(len(layers)):
        layers[i] = _Replay([c.hidden for c in chunks] if i == 0 else None, as_tuple)
    try:
        return perplexity(lm.model, windows, batch)  # same batches, so the stored outputs line up
    finally:
        for i, layer in enumerate(originals):
            layers[i] = layer


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


def model_perplexity(model_name: str, artifact_dir: str | None, windows: int, seqlen: int, batch: int = 4) -> float:
    """Perplexity of a causal LM (fresh from `model_name`) on the held-out evaluation text,
    dense or with the artifact's S + U V written into its weights: what `sslcsim evaluate
    --dense-weights` reports."""
    from compression import text
    from workloads.errors import InputError

    txt, desc = text.read_text("evaluation")
    lm = models.load(model_name)
    if not lm.is_causal:
        raise InputError(f"{model_name}: perplexity needs a causal LM")
    ids = eval_windows(lm.tokenizer, txt, seqlen, windows)
    if ids.shape[0] == 0:
        raise InputError(f"{desc}: fewer tokens than one window of {seqlen}")
    if lm.store is None:
        if artifact_dir is not None:
            export.apply_artifact(lm.model, artifact_dir, modules=False)
        return perplexity(lm.model, ids, batch)
    return streamed_perplexity(lm, ids, batch, artifact_dir, modules=False)
