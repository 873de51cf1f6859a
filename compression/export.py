"""Decompositions -> artifact tensors, and artifacts -> runnable modules (S x + U (V x))."""

from __future__ import annotations

import warnings

import numpy as np
import torch
import torch.nn as nn

from compression.sslc import Decomposition
from workloads import artifact


def projection_tensors(name: str, dec: Decomposition, act_norm: torch.Tensor) -> dict[str, np.ndarray]:
    S = dec.S.detach().float().cpu().numpy()
    mask = dec.mask.detach().cpu().numpy()
    values, indices, indptr = artifact.dense_to_csr(S, mask)
    return {
        f"{name}.U": np.ascontiguousarray(dec.U.detach().float().cpu().numpy(), dtype=np.float32),
        f"{name}.V": np.ascontiguousarray(dec.V.detach().float().cpu().numpy(), dtype=np.float32),
        f"{name}.S.values": values,
        f"{name}.S.indices": indices,
        f"{name}.S.indptr": indptr,
        f"{name}.act_norm": np.ascontiguousarray(act_norm.detach().float().cpu().numpy(), dtype=np.float32),
    }


def dense_weight(p: artifact.ProjectionTensors) -> torch.Tensor:
    return torch.from_numpy(p.dense())


class SparseLowRankLinear(nn.Module):
    """Replaces nn.Linear: y = S x + U (V x) + b, with S a CSR tensor (frozen buffer) and
    U, V parameters (the only thing fine-tuning trains)."""

    def __init__(self, p: artifact.ProjectionTensors, bias: torch.Tensor | None = None):
        super().__init__()
        m, n = p.shape
        self.in_features, self.out_features = n, m
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta"
            S = torch.sparse_csr_tensor(torch.from_numpy(p.indptr.astype(np.int64)),
                                        torch.from_numpy(p.indices.astype(np.int64)),
                                        torch.from_numpy(p.values.copy()), size=(m, n),
                                        check_invariants=False)  # the artifact reader validated them
        self.register_buffer("S", S, persistent=False)
        self.U = nn.Parameter(torch.from_numpy(p.U.copy()))
        self.V = nn.Parameter(torch.from_numpy(p.V.copy()))
        self.bias = None if bias is None else nn.Parameter(bias.detach().clone(), requires_grad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shape = x.shape
        x2 = x.reshape(-1, shape[-1])
        y = torch.sparse.mm(self.S, x2.T).T  # S x
        if self.U.shape[1]:
            y = y + (x2 @ self.V.T) @ self.U.T  # U (V x)
        if self.bias is not None:
            y = y + self.bias
        return y.reshape(*shape[:-1], self.out_features)


def check_artifact(model, path) -> dict:
    """The artifact's manifest, after checking it was made for a model with this many layers."""
    from compression import models
    from workloads.errors import InputError

    man = artifact.load_manifest(path)
    n = len(models.layer_stack(model))
    if man["model"]["num_layers"] != n:
        raise InputError(f"{path}: manifest has {man['model']['num_layers']} layers, model has {n}")
    return man


def apply_layer(layer, projs: dict[str, artifact.ProjectionTensors], where: str, modules: bool = True
                ) -> dict[str, nn.Module]:
    """Swap one layer's projections for the artifact's S + U V (see apply_artifact).

    Returns the nn.Linear modules that were replaced, by name ({} when modules=False), so
    that restore_layer can put them back.
    """
    from compression import models
    from workloads.errors import InputError

    lins = models.linear_projections(layer)
    replaced: dict[str, nn.Module] = {}
    for name, p in projs.items():
        if name not in lins:
            raise InputError(f"{where}: projection '{name}' not in the model's layer")
        lin = lins[name]
        if tuple(lin.weight.shape) != tuple(p.shape):
            raise InputError(f"{where}: projection '{name}' shape {p.shape} != model {tuple(lin.weight.shape)}")
        if modules:
            _set_submodule(layer, name, SparseLowRankLinear(p, lin.bias))
            replaced[name] = lin
        else:
            with torch.no_grad():
                lin.weight.copy_(dense_weight(p))
    return replaced


def restore_layer(layer, replaced: dict[str, nn.Module]) -> None:
    """Undo apply_layer's module swaps."""
    for name, mod in replaced.items():
        _set_submodule(layer, name, mod)


def _set_submodule(layer, name: str, mod: nn.Module) -> None:
    parent_name, _, child = name.rpartition(".")
    setattr(layer.get_submodule(parent_name) if parent_name else layer, child, mod)


def apply_artifact(model, path, verify: bool = True, modules: bool = True) -> dict:
    """Swap every compressed projection of `model` for the artifact's S + U V.

    modules=True installs SparseLowRankLinear modules; False writes the dense S + U V into
    the existing nn.Linear weights (faster on CPU, same function).  Returns the manifest.
    """
    from compression import models

    man = check_artifact(model, path)
    layers = models.layer_stack(model)
    for entry, projs in artifact.iter_layers(path, verify=verify):
        apply_layer(layers[entry["index"]], projs, f"{path}/{entry['file']}", modules)
    return man
