"""Low-rank fine-tuning recovery (paper Section 4.3): train U and V, S frozen."""

from __future__ import annotations

import dataclasses
import math
import time

import torch
from tqdm import tqdm

from compression import models
from compression.export import SparseLowRankLinear
from workloads import artifact


def trainable_lowrank(model) -> list[torch.nn.Parameter]:
    """Freeze everything; return the U, V parameters of the compressed projections."""
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    for mod in model.modules():
        if isinstance(mod, SparseLowRankLinear) and mod.U.shape[1] > 0:
            mod.U.requires_grad_(True)
            mod.V.requires_grad_(True)
            params += [mod.U, mod.V]
    return params


def train(model, windows: torch.Tensor, steps: int, lr: float, batch: int, seed: int,
          show_progress: bool = True) -> dict:
    params = trainable_lowrank(model)
    if not params:
        return {"steps": 0, "trainable": 0, "losses": []}
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    t0 = time.time()
    for _ in tqdm(range(steps), desc="finetune", disable=not show_progress, unit="step"):
        idx = torch.randint(0, windows.shape[0], (batch,), generator=g)
        ids = windows[idx]
        out = model(input_ids=ids, labels=ids, use_cache=False)
        opt.zero_grad()
        out.loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        losses.append(float(out.loss.detach()))
    model.eval()
    return {"steps": steps, "trainable": sum(p.numel() for p in params), "losses": losses,
            "wall_s": time.time() - t0, "final_loss": losses[-1] if losses else math.nan}


def save_artifact(model, src: str, out: str, manifest: dict, finetune_hp: dict) -> None:
    """Write the fine-tuned artifact at `out` layer by layer: `src`'s S and act_norm, the
    model's trained U and V; `manifest` (src's) gains the fine-tuning settings."""
    layers = models.layer_stack(model)
    new_man = dict(manifest, layers=[], complete=False,
                   hyperparameters=dict(manifest["hyperparameters"], finetune=finetune_hp))
    for entry, projs in artifact.iter_layers(src):
        tensors = {}
        layer = layers[entry["index"]]
        for name, p in projs.items():
            mod = layer.get_submodule(name)
            assert isinstance(mod, SparseLowRankLinear)
            trained = dataclasses.replace(p, U=mod.U.detach().float().numpy(), V=mod.V.detach().float().numpy())
            tensors.update(trained.tensors())
        new_man["layers"].append(artifact.write_layer(out, entry["index"], tensors, entry["projections"]))
        new_man["complete"] = len(new_man["layers"]) == manifest["model"]["num_layers"]
        artifact.write_manifest(out, new_man)
