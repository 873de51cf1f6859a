"""Finding a loaded model's layer stack and the linear projections inside a layer.

A module of its own so that both models.py (which loads models) and streaming.py (which
loads their layers one at a time) can use it without importing each other."""

from __future__ import annotations

from workloads.errors import InputError


def base_model(model):
    """The module that holds the layer stack (LlamaModel, BertModel, ...)."""
    return getattr(model, "base_model", model)


def layer_stack(model):
    """The ModuleList of decoder/encoder layers."""
    base = base_model(model)
    for path in ("layers", "encoder.layer", "h", "decoder.layers"):
        obj = base
        try:
            for part in path.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        return obj
    raise InputError(f"{type(model).__name__}: cannot find the layer stack (expected .layers or .encoder.layer)")


def module_kind(name: str) -> str:
    """'attention' or 'mlp' for a projection's qualified name inside a layer."""
    first = name.split(".")[0]
    return "attention" if ("attn" in first or "attention" in first) else "mlp"


def linear_projections(layer) -> dict:
    """{qualified name: nn.Linear} inside one layer, in module order."""
    import torch.nn as nn

    return {name: mod for name, mod in layer.named_modules() if isinstance(mod, nn.Linear)}
