"""Streamed models: the skeleton on the meta device and one decoder layer's weights at a time.

Calibration and evaluation only ever need one decoder layer at a time, so a model whose
float32 weights do not fit in memory (7B: 28 GB) still runs. The model is built from its
config with every parameter on the meta device (no storage). Buffers that the
constructor computes (rotary ``inv_freq``, position ids) stay real: they are not in the
checkpoint. Everything outside the layer stack (embeddings, final norm, lm_head) is read
from the safetensors files at load; a LayerStore reads layer i when asked and puts it
back on the meta device afterwards, so its storage is freed.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn as nn

from compression.checkpoint import Checkpoint
from compression.layers import layer_stack


def _stack_path(model: nn.Module) -> str:
    """Qualified name of the layer stack, e.g. 'model.layers' (LLaMA) or 'encoder.layer' (BERT)."""
    stack = layer_stack(model)
    return next(name for name, mod in model.named_modules() if mod is stack)


def _checkpoint_names(model: nn.Module, required: list[str], ckpt: Checkpoint) -> Callable[[str], str]:
    """Model key -> checkpoint key: as is, or with the base-model prefix ('model.', 'bert.')
    added or removed (a head model saved as its base model, or the reverse), whichever
    finds the most required keys; ties keep the key as is."""
    prefix = f"{getattr(model, 'base_model_prefix', '')}."
    candidates: list[Callable[[str], str]] = [lambda k: k]
    if prefix != ".":
        candidates += [lambda k: prefix + k, lambda k: k.removeprefix(prefix)]
    return max(candidates, key=lambda name: sum(name(k) in ckpt for k in required))


def _assign(module: nn.Module, tensors: dict[str, torch.Tensor]) -> None:
    # assign=True swaps the tensors in (meta tensors cannot be copied into) and keeps requires_grad
    module.load_state_dict(tensors, strict=False, assign=True)


class LayerStore:
    """Reads decoder layer i's weights from the checkpoint on demand and drops them again.

    Every parameter of every layer is checked (present, same shape) when the store is
    made, so a broken checkpoint fails before any compute. At most one layer is
    resident: materialising a second before releasing the first is a bug.
    """

    def __init__(self, model: nn.Module, ckpt: Checkpoint, to_ckpt: Callable[[str], str]):
        self._ckpt = ckpt
        self._layers = layer_stack(model)
        prefix = _stack_path(model)
        self._keys: list[dict[str, str]] = []  # per layer: {key inside the layer: checkpoint key}
        for i, layer in enumerate(self._layers):
            keys = {}
            for k, t in layer.state_dict(keep_vars=True).items():
                ck = to_ckpt(f"{prefix}.{i}.{k}")
                if t.is_meta or ck in ckpt:  # a computed buffer the checkpoint lacks keeps its value
                    ckpt.check(ck, tuple(t.shape))
                    keys[k] = ck
            self._keys.append(keys)
        self._resident: int | None = None

    def materialise(self, i: int) -> nn.Module:
        """Layer i with its weights read from disk (cast to the skeleton's dtype)."""
        if self._resident is not None:
            raise RuntimeError(f"layer {self._resident} is still loaded; release it before loading layer {i}")
        layer = self._layers[i]
        like = layer.state_dict()
        _assign(layer, self._ckpt.read(self._keys[i], {k: like[k] for k in self._keys[i]}))
        self._resident = i
        return layer

    def release(self, i: int) -> None:
        """Put layer i's streamed tensors back on the meta device (their storage is freed)."""
        layer = self._layers[i]
        like = layer.state_dict()
        _assign(layer, {k: torch.empty_like(like[k], device="meta") for k in self._keys[i]})
        self._resident = None


def _load_outside_layers(model: nn.Module, state: dict[str, torch.Tensor], ckpt: Checkpoint,
                         to_ckpt: Callable[[str], str]) -> None:
    """Read every tensor outside the layer stack; tied keys (lm_head = embed_tokens) get one shared tensor."""
    groups: dict[int, list[str]] = {}
    for k, t in state.items():
        groups.setdefault(id(t), []).append(k)
    chosen: list[tuple[list[str], str]] = []  # (tied keys, the one read from disk)
    for keys in groups.values():
        source = next((k for k in keys if to_ckpt(k) in ckpt), None)
        if source is not None:
            chosen.append((keys, source))
        elif state[keys[0]].is_meta:
            ckpt.check(to_ckpt(keys[0]), tuple(state[keys[0]].shape))  # raises: not in the checkpoint
    read = ckpt.read({s: to_ckpt(s) for _, s in chosen}, {s: state[s] for _, s in chosen})
    tensors: dict[str, torch.Tensor] = {}
    for keys, source in chosen:
        value, old = read[source], state[source]
        if isinstance(old, nn.Parameter):  # one Parameter object for all tied keys keeps them tied
            value = nn.Parameter(value, requires_grad=old.requires_grad)
        tensors.update(dict.fromkeys(keys, value))
    _assign(model, tensors)


def load(directory: str, config, cls, dtype: torch.dtype) -> tuple[nn.Module, LayerStore]:
    """The model of `cls` (AutoModelForCausalLM, AutoModel) for `config`, every decoder layer
    on the meta device, everything else read from the safetensors files in `directory`."""
    from accelerate import init_empty_weights

    ckpt = Checkpoint(directory)
    with init_empty_weights(include_buffers=False):
        model = cls.from_config(config, dtype=dtype)
    # accelerate re-wraps every registered parameter, which undoes the tie post_init made
    model.tie_weights()
    state = model.state_dict(keep_vars=True)
    prefix = _stack_path(model) + "."
    to_ckpt = _checkpoint_names(model, [k for k, t in state.items() if t.is_meta], ckpt)
    _load_outside_layers(model, {k: t for k, t in state.items() if not k.startswith(prefix)}, ckpt, to_ckpt)
    store = LayerStore(model, ckpt, to_ckpt)
    model.eval()
    return model, store
