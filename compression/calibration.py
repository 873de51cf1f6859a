"""Layer-by-layer calibration: capture the first layer's full call, replay layer by layer.

The first layer's positional and keyword arguments (hidden states, attention mask,
``position_embeddings``, ``position_ids`` ... whatever this transformers version passes)
are captured with a forward pre-hook that raises a sentinel, so nothing past the
embeddings runs. Each layer is then called with exactly those arguments and its output
becomes the next layer's hidden states.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import torch

from compression import models


class _Captured(Exception):
    def __init__(self, args, kwargs):
        super().__init__("captured")
        self.args = args
        self.kwargs = kwargs


@dataclass
class Chunk:
    hidden: torch.Tensor  # (batch, seq, hidden)
    args: tuple  # remaining positional args after hidden_states
    kwargs: dict


def token_windows(tokenizer, text: str, seqlen: int, samples: int, seed: int) -> torch.Tensor:
    """(samples, seqlen) token ids: seeded random windows of the text."""
    ids = tokenizer(text, add_special_tokens=False, return_attention_mask=False)["input_ids"]
    ids = torch.tensor(ids, dtype=torch.long)
    if ids.numel() < seqlen + 1:
        from workloads.errors import InputError

        raise InputError(f"calibration text: {ids.numel()} tokens, fewer than --seqlen {seqlen}")
    g = torch.Generator().manual_seed(seed)
    starts = torch.randint(0, ids.numel() - seqlen, (samples,), generator=g)
    return torch.stack([ids[s: s + seqlen] for s in starts.tolist()])


@torch.no_grad()
def capture_inputs(model, input_ids: torch.Tensor, batch: int, is_causal: bool) -> list[Chunk]:
    layers = models.layer_stack(model)
    chunks: list[Chunk] = []

    def pre_hook(mod, args, kwargs):
        raise _Captured(args, kwargs)

    handle = layers[0].register_forward_pre_hook(pre_hook, with_kwargs=True)
    try:
        for s in range(0, input_ids.shape[0], batch):
            ids = input_ids[s: s + batch]
            extra = {"use_cache": False} if is_causal else {}
            try:
                model(input_ids=ids, attention_mask=torch.ones_like(ids), **extra)
            except _Captured as cap:
                args, kwargs = cap.args, dict(cap.kwargs)
                if args:
                    hidden, rest = args[0], tuple(args[1:])
                else:
                    hidden, rest = kwargs.pop("hidden_states"), ()
                chunks.append(Chunk(hidden=hidden.detach(), args=rest, kwargs=kwargs))
            else:
                raise RuntimeError("first layer was never called")
    finally:
        handle.remove()
    return chunks


@torch.no_grad()
def layer_forward(layer, chunks: list[Chunk]) -> list[Chunk]:
    out = []
    for c in chunks:
        y = layer(c.hidden, *c.args, **c.kwargs)
        if isinstance(y, (tuple, list)):
            y = y[0]
        out.append(Chunk(hidden=y.detach(), args=c.args, kwargs=c.kwargs))
    return out


@dataclass
class InputStats:
    """Calibration statistics of one projection's input X (n features x T tokens)."""

    sumsq: torch.Tensor  # (n,) float64, sum over tokens of x_j^2
    H: torch.Tensor  # (n, n) float64, X X^T

    @property
    def act_norm(self) -> torch.Tensor:
        """Per-input-channel ||X_j||_2 over all calibration tokens."""
        return self.sumsq.sqrt().float()

    @functools.cached_property
    def H32(self) -> torch.Tensor:
        """H in float32, converted once for the projections that share this input."""
        return self.H.float()


@torch.no_grad()
def collect_stats(layer, chunks: list[Chunk]) -> dict[str, InputStats]:
    """Run the layer over the chunks and gather per-projection input statistics.

    Projections fed the same tensor (q/k/v, gate/up) share one statistics object.
    """
    projs = models.linear_projections(layer)
    stats: dict[str, InputStats] = {}
    last: list = [None, None]  # (tensor, owner name) of the previous hook call

    def make_hook(name):
        def hook(mod, inp, out):
            x = inp[0]
            if last[0] is x and last[1] in stats:
                stats[name] = stats[last[1]]
                return
            last[0], last[1] = x, name
            x2 = x.reshape(-1, x.shape[-1]).float()
            st = stats.get(name)
            if st is None:
                n = x2.shape[1]
                st = stats[name] = InputStats(sumsq=torch.zeros(n, dtype=torch.float64),
                                              H=torch.zeros(n, n, dtype=torch.float64))
            st.sumsq += x2.double().square().sum(0)
            st.H += (x2.T @ x2).double()
        return hook

    handles = [mod.register_forward_hook(make_hook(name)) for name, mod in projs.items()]
    try:
        for c in chunks:
            last[0] = last[1] = None
            layer(c.hidden, *c.args, **c.kwargs)
    finally:
        for h in handles:
            h.remove()
        last[0] = last[1] = None
    return stats
