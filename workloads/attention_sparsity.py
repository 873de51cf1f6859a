"""The `--attention-sparsity` flag on a workload: a KV budget for its decode steps
(workloads/kv_budget.py), or a prompt's attention map from a mask file for its prefill."""

from __future__ import annotations

import dataclasses

import numpy as np

from workloads.attention_masks import load_mask_file
from workloads.errors import InputError
from workloads.kv_budget import check_budget_fits, parse_attention_sparsity
from workloads.workload import Workload


def _prompt_masks(w: Workload, path: str):
    """Per layer, the (heads, seq, seq) map of the mask file: one layer's map for every layer, or
    one map per layer."""
    masks = load_mask_file(path)
    layers, heads, n, _ = masks.shape
    m = w.model
    if layers not in (1, m.num_layers) or heads != m.num_attention_heads or n != w.seq:
        layers_ok = "1" if m.num_layers == 1 else f"1 or {m.num_layers}"
        raise InputError(f"{path}: mask of shape {masks.shape}; expected (L, {m.num_attention_heads}, {w.seq}, "
                         f"{w.seq}) with L = {layers_ok} (layers, heads, prompt tokens, prompt tokens) for {m.name}")
    one: np.ndarray = masks[0]
    return (lambda layer: one) if layers == 1 else masks.__getitem__


def with_attention_sparsity(w: Workload, spec: str | None, decode_keys: int | None) -> Workload:
    """`w` with the flag's sparsity. `decode_keys`: the keys of the longest decode step that
    follows (None: `w` is a prefill with no decode steps). window:/topk: become w.kv_budget,
    refused when they keep every key of that step; mask:FILE becomes w.attention_masks, for a
    prefill only, of shape (1 or layers, heads, seq, seq)."""
    if spec is None:
        return w
    if w.scope != "layer":
        raise InputError(f"--attention-sparsity {spec}: the attention core is simulated with --scope layer only")
    parsed = parse_attention_sparsity(spec)
    if isinstance(parsed, str):
        if w.phase != "prefill":
            raise InputError(f"--attention-sparsity {spec}: a mask file is a prefill attention map; a decode step "
                             "takes window:W[+S] or topk:K")
        return dataclasses.replace(w, attention_masks=_prompt_masks(w, parsed))
    if decode_keys is None:
        raise InputError(f"--attention-sparsity {spec}: a KV budget applies to decode steps; a prefill takes "
                         "mask:FILE.npy")
    check_budget_fits(parsed, decode_keys, "the longest decode step")
    return dataclasses.replace(w, kv_budget=parsed)

