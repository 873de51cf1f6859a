"""compress_model: calibrate and decompose a model layer by layer into an artifact."""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tqdm import tqdm

from compression import allocation, calibration, cost_allocation, export, methods, models, text
from compression.cost_allocation import CostTable, MaskCosts
from compression.sslc import exact_loss
from workloads import artifact
from workloads.errors import InputError


def _resume_check(out: Path, manifest: dict) -> dict | None:
    path = out / artifact.MANIFEST_NAME
    if not path.exists():
        return None
    old = artifact.load_manifest(path)
    for key in ("method", "hyperparameters", "seed", "model", "calibration"):
        if old[key] != manifest[key]:
            raise InputError(f"{path}: key '{key}' is {old[key]!r} but this run has {manifest[key]!r}; "
                             f"use a new --out directory (or --overwrite)")
    return old


def _stored_shares(old: dict, out: Path) -> dict:
    """A resumed artifact's allocation, checked: {"<layer>.<projection>": [kept, rank]}."""
    shares = old["allocation"]
    ok = isinstance(shares, dict) and all(
        isinstance(v, list) and len(v) == 2 and all(isinstance(x, int) and not isinstance(x, bool) and x >= 0 for x in v)
        for v in shares.values())
    if not ok:
        raise InputError(f"{out / artifact.MANIFEST_NAME}: key 'allocation': expected an object of "
                         "[kept, rank] integer pairs per projection")
    return shares


def _restore_layer(layer, out: Path, entry: dict) -> None:
    """Write a finished layer's S + U V (from the artifact) into its nn.Linear weights."""
    export.apply_layer(layer, artifact.read_layer(out, entry, verify=True), str(out / entry["file"]), modules=False)


def _compress_layer(layer, i: int, chunks: list, method: str, hp: dict, seed: int, out: Path,
                    shares: dict | None = None) -> dict:
    """Decompose every projection of layer i (at its allocated share, when `shares`), write
    its file, leave S + U V in its weights; returns the layer's manifest entry."""
    stats = calibration.collect_stats(layer, chunks)
    tensors: dict = {}
    entries: list = []
    for name, lin in models.linear_projections(layer).items():
        W = lin.weight.detach().float()
        st = stats[name]
        where = f"layer {i} '{name}': "
        share = allocation.Share(*shares[f"{i}.{name}"]) if shares else None
        dec = methods.decompose(method, W, st, hp, seed=seed + i, where=where, share=share)
        Wc = dec.S + dec.U @ dec.V
        err = exact_loss(W - Wc, st.H32)
        ref = exact_loss(W, st.H32)
        extra = {"recon_error": err / ref if ref > 0 else 0.0}
        if method == "sslc":
            extra.update(loss_trace=[float(x) for x in dec.exact_trace],
                         proxy_trace=[float(x) for x in dec.proxy_trace],
                         best_step=dec.best_step, rejected_steps=dec.rejected)
        elif method == "sslc-obs":
            extra.update(loss_trace=[float(x) for x in dec.exact_trace],
                         proxy_trace=[float(x) for x in dec.proxy_trace], best_step=dec.best_step)
        entries.append(artifact.projection_entry(
            name, models.module_kind(name), tuple(W.shape), dec.U.shape[1], int(dec.mask.sum()),
            dec.preserved, **extra))
        ptensors = export.projection_tensors(name, dec, st.act_norm)
        tensors.update(ptensors)
        with torch.no_grad():  # exactly what a resumed run rebuilds from the file
            lin.weight.copy_(export.dense_weight(artifact.ProjectionTensors.from_tensors(entries[-1], ptensors)))
    return artifact.write_layer(out, i, tensors, entries)


def _plan(lm, chunks: list, ids: torch.Tensor, method: str, hp: dict, n_total: int, costs: CostTable | MaskCosts | None,
          manifest: dict, show_progress: bool) -> dict:
    """The allocation {"<layer>.<projection>": [kept, rank]}: loss-only, or hardware-aware when
    hp["cost"] is set (its cost record then goes into the manifest as `allocation_cost`)."""
    split = method in methods.SPLIT_ALLOCATED
    if hp.get("cost") is None:
        planned = allocation.plan(lm, chunks, ids, hp, n_total, show_progress, split)
        return {k: [s.kept, s.rank] for k, s in planned.items()}
    if costs is None:
        raise InputError("hardware-aware allocation: no cost table was given (sslcsim compress --cost-hw builds it)")
    mask_cost = costs.cost if isinstance(costs, cost_allocation.MaskCosts) else None
    curves = allocation.measure(lm, chunks, ids, hp, n_total, split, show_progress, mask_cost)
    shares, record = cost_allocation.plan(curves, hp, costs, split)
    manifest["allocation_cost"] = record
    return {k: [s.kept, s.rank] for k, s in zip(curves.keys, shares)}


def compress_model(lm: models.LoadedModel, method: str, hp: dict, seed: int, out_dir: str,
                   calib_samples: int = 32, calib_seqlen: int = 512, calib_text: str | None = None,
                   batch: int = 8, overwrite: bool = False, show_progress: bool = True,
                   max_layers: int | None = None, costs: CostTable | MaskCosts | None = None) -> dict:
    """Compress every layer's nn.Linear projections; write/resume the artifact at out_dir.

    Layer i holds real weights only while it is calibrated and run (`lm.layer(i)`), so a
    streamed model never has two decoder layers in memory. `costs`: the candidates' costs on
    a hardware config, for a hardware-aware global allocation (hp["cost"] describes them).
    """
    hp = methods.check_hyperparameters(method, hp)
    torch.manual_seed(seed)
    model = lm.model
    out = Path(out_dir)
    text_str, text_desc = text.read_text(calib_text)
    manifest = {
        "format_version": artifact.FORMAT_VERSION,
        "model": models.model_info(model, lm.model_id),
        "method": method,
        "hyperparameters": hp,
        "seed": int(seed),
        "calibration": {"text": text_desc, "samples": int(calib_samples), "seqlen": int(calib_seqlen)},
        "layers": [],
        "complete": False,
    }
    if overwrite and out.exists():
        for f in list(out.glob("layer_*.safetensors")) + [out / artifact.MANIFEST_NAME]:
            f.unlink(missing_ok=True)
    old = _resume_check(out, manifest)
    done: dict[int, dict] = {}
    if old is not None:
        done = {e["index"]: e for e in old["layers"]}
        manifest["layers"] = list(old["layers"])
    out.mkdir(parents=True, exist_ok=True)

    ids = calibration.token_windows(lm.tokenizer, text_str, calib_seqlen, calib_samples, seed)
    n_total = len(models.layer_stack(model))
    n_layers = n_total if max_layers is None else min(max_layers, n_total)
    chunks = calibration.capture_inputs(model, ids, batch, lm.is_causal)
    t0 = time.time()
    shares = None
    if hp.get("allocation", "uniform") != "uniform":  # stage 1 on the dense model, then the shares
        if old is not None and "allocation" in old:
            shares = _stored_shares(old, out)
            if "allocation_cost" in old:
                manifest["allocation_cost"] = old["allocation_cost"]
        else:
            shares = _plan(lm, chunks, ids, method, hp, n_total, costs, manifest, show_progress)
        manifest["allocation"] = shares
    bar = tqdm(range(n_layers), desc=f"{method} layers", disable=not show_progress, unit="layer")
    for i in bar:
        with lm.layer(i) as layer:
            if i in done:
                _restore_layer(layer, out, done[i])
            else:
                entry = _compress_layer(layer, i, chunks, method, hp, seed, out, shares)
                manifest["layers"] = sorted(manifest["layers"] + [entry], key=lambda e: e["index"])
                manifest["complete"] = len(manifest["layers"]) == n_total
                artifact.write_manifest(out, manifest)
                errs = [p["recon_error"] for p in entry["projections"]]
                bar.set_postfix(recon=f"{sum(errs) / len(errs):.3f}")
            chunks = calibration.layer_forward(layer, chunks)
    manifest["complete"] = len(manifest["layers"]) == n_total
    artifact.write_manifest(out, manifest)
    manifest["_wall_s"] = time.time() - t0
    return manifest


def summarize(manifest: dict) -> dict:
    """Totals over an artifact: kept fraction, mean reconstruction error per module kind."""
    kept = total = 0
    errs: dict[str, list[float]] = {"attention": [], "mlp": []}
    for layer in manifest["layers"]:
        for p in layer["projections"]:
            m, n = p["shape"]
            kept += p["nnz"] + p["rank"] * (m + n)
            total += m * n
            if "recon_error" in p:
                errs[p["module"]].append(p["recon_error"])
    return {
        "kept_fraction": kept / total if total else math.nan,
        "recon_error": {k: (sum(v) / len(v) if v else math.nan) for k, v in errs.items()},
        "layers": len(manifest["layers"]),
    }
