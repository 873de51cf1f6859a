"""How much the calibration loss cares about each output channel of each projection.

For a causal LM with calibration windows, the next-token loss summed over all tokens is
NLL. A change dy_t of a projection's output at token t changes it by about
1/2 (g_t . dy_t)^2 at a minimum (the empirical Fisher, g_t = dNLL/dy_t). Keeping only the
diagonal and treating g^2 and dy^2 as uncorrelated over tokens, a weight error E (m x n)
costs about

    dNLL ~ 1/2 sum_k F_k (E H E^T)_kk,   F_k = (1/T) sum_t g_tk^2   (per output channel k)

with H = X X^T the projection's calibration Gram matrix and T the token count. F carries
the scale that a layer-wise loss lacks: activations grow with depth, and the gradients
that reach a deep layer shrink with them, so F-weighted errors of different layers are
comparable where plain ones are not (budget allocation, `allocation.py`).

The gradients are taken on the dense model, layer by layer, so a streamed model still
holds one decoder layer at a time: a forward pass stores every layer's input hidden
states (layers x tokens x hidden floats), the final norm and the output embeddings give
dNLL/dh at the top, and each layer, from the last down, is re-run with gradients on its
stored input to pass dNLL/dh one layer down and to read dNLL/dy at its projections.
"""

from __future__ import annotations

from contextlib import contextmanager

import torch
from tqdm import tqdm

from compression import calibration, models
from workloads.errors import InputError


def final_norm(model):
    """The norm applied to the last layer's output before the output embeddings."""
    base = models.base_model(model)
    for name in ("norm", "ln_f", "final_layer_norm"):
        mod = getattr(base, name, None)
        if mod is not None:
            return mod
    raise InputError(f"{type(model).__name__}: no final norm (.norm, .ln_f or .final_layer_norm) for the calibration loss")


@contextmanager
def _frozen(*modules):
    """No weight gradients inside the block (only activations' are read; none left on the model)."""
    params = [(p, p.requires_grad) for mod in modules for p in mod.parameters()]
    for p, _ in params:
        p.requires_grad_(False)
    try:
        with torch.enable_grad():
            yield
    finally:
        for p, req in params:
            p.requires_grad_(req)


def _top_gradients(lm, chunks: list, ids: torch.Tensor) -> list[torch.Tensor]:
    """dNLL/dh of the last layer's output, per chunk (NLL summed over the next tokens)."""
    norm, head = final_norm(lm.model), lm.model.get_output_embeddings()
    if head is None:
        raise InputError(f"{lm.model_id}: no output embeddings for the calibration loss")
    out, start = [], 0
    with _frozen(norm, head):
        for c in chunks:
            labels = ids[start:start + c.hidden.shape[0]]
            start += c.hidden.shape[0]
            h = c.hidden.detach().requires_grad_(True)
            logits = head(norm(h)).float()
            loss = torch.nn.functional.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]),
                                                     labels[:, 1:].reshape(-1), reduction="sum")
            loss.backward()
            out.append(h.grad.detach())
    return out


def _layer_backward(layer, chunks: list, inputs: list, grads: list, acc: dict) -> list[torch.Tensor]:
    """Re-run one layer on its stored inputs, backpropagate `grads`; adds sum_t g_tk^2 of
    every projection's output to `acc`; returns dNLL/dh of the layer's input."""
    def make_hook(name):
        def hook(mod, inp, out):
            def grad_hook(g):
                sq = g.detach().double().square().reshape(-1, g.shape[-1]).sum(0)
                acc[name] = acc[name] + sq if name in acc else sq
            out.register_hook(grad_hook)
        return hook

    handles = [mod.register_forward_hook(make_hook(name)) for name, mod in models.linear_projections(layer).items()]
    down = []
    try:
        with _frozen(layer):
            for c, h, g in zip(chunks, inputs, grads):
                x = h.detach().requires_grad_(True)
                y = layer(x, *c.args, **c.kwargs)
                y = y[0] if isinstance(y, (tuple, list)) else y
                y.backward(g)
                down.append(x.grad.detach())
    finally:
        for hd in handles:
            hd.remove()
    return down


def output_fisher(lm, chunks: list, ids: torch.Tensor, n_layers: int,
                  show_progress: bool = False) -> dict[str, torch.Tensor]:
    """{"<layer>.<projection>": F (m,) float64}, F_k = (1/T) sum_t (dNLL/dy_tk)^2 over the
    T calibration tokens (module docstring); `chunks` are the first layer's inputs."""
    if not lm.is_causal:
        raise InputError(f"{lm.model_id}: --allocation global weighs errors by the next-token loss, "
                         "which needs a causal LM")
    if n_layers != len(models.layer_stack(lm.model)):
        raise InputError("--allocation global: needs every layer (the loss is the model's output)")
    inputs = []
    for i in tqdm(range(n_layers), desc="sensitivity (forward)", disable=not show_progress, unit="layer"):
        inputs.append([c.hidden for c in chunks])
        with lm.layer(i) as layer:
            chunks = calibration.layer_forward(layer, chunks)
    grads = _top_gradients(lm, chunks, ids)
    tokens = int(ids.numel())
    fisher: dict[str, torch.Tensor] = {}
    for i in tqdm(reversed(range(n_layers)), total=n_layers, desc="sensitivity (backward)",
                  disable=not show_progress, unit="layer"):
        acc: dict[str, torch.Tensor] = {}
        with lm.layer(i) as layer:
            grads = _layer_backward(layer, chunks, inputs[i], grads, acc)
        inputs[i] = None  # this layer's inputs are spent: free them as the pass goes down
        fisher.update({f"{i}.{name}": F / tokens for name, F in acc.items()})
    return fisher
