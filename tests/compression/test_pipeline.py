"""Layer-by-layer compression of tiny LLaMA / Qwen2 models into artifacts, and loading back."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from compression import export, pipeline
from workloads import artifact
from workloads.errors import InputError

from _tiny_models import loaded

FAST = {"iters": 4}


def _compress(lm, method, out, hp=None, **kw):
    hp = dict(hp or {})
    if method == "sslc":
        hp = {**FAST, **hp}
    return pipeline.compress_model(lm, method, hp, 0, str(out), calib_samples=4, calib_seqlen=32,
                                   show_progress=False, **kw)


@pytest.mark.parametrize("kind", ["llama", "qwen2"])
def test_sslc_artifact_and_model_rebuild(kind, tmp_path):
    lm = loaded(kind)
    ids = torch.randint(0, 256, (2, 16))
    man = _compress(lm, "sslc", tmp_path / "a")
    assert man["complete"] and len(man["layers"]) == 2
    for layer in man["layers"]:
        names = [p["name"] for p in layer["projections"]]
        assert names == ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                         "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"]
        for p in layer["projections"]:
            m, n = p["shape"]
            assert p["nnz"] + p["rank"] * (m + n) == round(0.5 * m * n)  # budget exact
            assert p["module"] == ("attention" if "attn" in p["name"] else "mlp")
            lt = p["proxy_trace"]
            assert all(lt[i + 1] <= lt[i] for i in range(len(lt) - 1))
    # model with S x + U (V x) modules == model with dense S + U V weights
    a, b = loaded(kind), loaded(kind)
    export.apply_artifact(a.model, tmp_path / "a", modules=True)
    export.apply_artifact(b.model, tmp_path / "a", modules=False)
    assert isinstance(a.model.model.layers[0].mlp.down_proj, export.SparseLowRankLinear)
    with torch.no_grad():
        la, lb = a.model(input_ids=ids).logits, b.model(input_ids=ids).logits
    assert torch.allclose(la, lb, atol=1e-4)
    # the compressing model itself ends with exactly these weights
    with torch.no_grad():
        assert torch.allclose(lm.model(input_ids=ids).logits, lb, atol=1e-4)


@pytest.mark.parametrize("method,hp", [("magnitude", {}), ("wanda", {}), ("sparsegpt", {}), ("svd", {}),
                                       ("asvd", {}), ("wanda", {"pattern": "2:4"}),
                                       ("sparsegpt", {"pattern": "4:8"}), ("magnitude", {"pattern": "2:4"}),
                                       ("sslc", {"sparse_metric": "wanda"}),
                                       ("sslc", {"pattern": "2:4", "rank": 2})])
def test_baselines_budget(method, hp, tmp_path):
    man = _compress(loaded(), method, tmp_path / "a", hp)
    for _entry, projs in artifact.iter_layers(tmp_path / "a"):
        for p in projs.values():
            m, n = p.shape
            if method in ("svd", "asvd"):
                assert p.nnz == 0 and p.rank == int(0.5 * m * n / (m + n))
            elif hp.get("pattern") in ("2:4", "4:8"):
                N, M = map(int, hp["pattern"].split(":"))
                mask = np.zeros((m, n), bool)
                rows = np.repeat(np.arange(m), np.diff(p.indptr))
                mask[rows, p.indices.astype(int)] = True
                assert (mask.reshape(m, -1, M).sum(-1) == N).all()
            else:
                assert p.nnz + p.rank * (m + n) == round(0.5 * m * n)
    assert man["method"] == method


def test_sparsegpt_beats_magnitude_on_reconstruction(tmp_path):
    errs = {}
    for method in ("magnitude", "wanda", "sparsegpt"):
        man = _compress(loaded(), method, tmp_path / method)
        errs[method] = pipeline.summarize(man)["recon_error"]["mlp"]
    assert errs["sparsegpt"] < errs["wanda"] <= errs["magnitude"] * 1.05


def test_resume_and_mismatch(tmp_path):
    full = _compress(loaded(layers=3), "sslc", tmp_path / "full")
    part = _compress(loaded(layers=3), "sslc", tmp_path / "part", max_layers=1)
    assert not part["complete"] and len(part["layers"]) == 1
    resumed = _compress(loaded(layers=3), "sslc", tmp_path / "part")
    assert resumed["complete"]
    for a, b in zip(full["layers"], resumed["layers"]):
        assert a["sha256"] == b["sha256"]  # resumed run reproduces the uninterrupted one bit for bit
    with pytest.raises(InputError, match="hyperparameters"):
        _compress(loaded(layers=3), "sslc", tmp_path / "part", {"ratio": 0.4})
    with pytest.raises(InputError, match="method"):
        _compress(loaded(layers=3), "wanda", tmp_path / "part")


def test_apply_artifact_mismatch(tmp_path):
    _compress(loaded(layers=2), "wanda", tmp_path / "a")
    with pytest.raises(InputError, match="layers"):
        export.apply_artifact(loaded(layers=3).model, tmp_path / "a")


def test_bad_hyperparameters(tmp_path):
    lm = loaded()
    with pytest.raises(InputError, match="--ratio"):
        _compress(lm, "wanda", tmp_path / "x", {"ratio": 1.5})
    with pytest.raises(InputError, match="rank"):
        _compress(lm, "sslc", tmp_path / "y", {"ratio": 0.1, "rank": 30})
    with pytest.raises(InputError, match="pattern"):
        _compress(lm, "wanda", tmp_path / "z", {"pattern": "3:2"})
    with pytest.raises(InputError, match="method"):
        _compress(lm, "nope", tmp_path / "w")


def test_manifest_records_everything(tmp_path):
    man = _compress(loaded(), "sslc", tmp_path / "a", {"ratio": 0.4})
    disk = json.loads((tmp_path / "a" / "manifest.json").read_text())
    hp = disk["hyperparameters"]
    for key in ("ratio", "rank", "rank_share", "preserve", "iters", "pattern", "sparse_metric", "power_iters"):
        assert key in hp
    assert disk["seed"] == 0 and disk["calibration"]["samples"] == 4
    assert disk["model"]["num_key_value_heads"] == 2 and disk["model"]["head_dim"] == 16
    assert man["layers"] == disk["layers"]
