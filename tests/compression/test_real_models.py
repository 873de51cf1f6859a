"""The real offline models (slow; CI still runs them): SmolLM2-135M and all-MiniLM-L6-v2."""

from __future__ import annotations

import pytest
import torch

from compression import evaluate, export, models, patterns, pipeline, text
from compression.sslc import make_budget, sslc_decompose

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def smollm2():
    return models.load("smollm2-135m")


def test_smollm2_ties_budget_exact(smollm2):
    W = smollm2.model.model.layers[0].mlp.down_proj.weight.detach().float()
    levels = torch.unique(W[:8]).numel()
    assert levels < W[:8].numel() / 2  # dequantised 4-bit weights: <= 16 levels per 32-block
    for k in (W.numel() // 2, W.numel() // 3 + 7):
        assert int(patterns.topk_mask(W.abs(), k).sum()) == k
        assert int(patterns.row_topk_mask(W.abs(), k).sum()) == k
    act = torch.ones(W.shape[1])
    b = make_budget(*W.shape, 0.5, None, 0.01, None)
    d = sslc_decompose(W, act, b, iters=3)
    assert int(d.mask.sum()) == b.nnz


def test_smollm2_two_layers(smollm2, tmp_path):
    info = models.model_info(smollm2.model, smollm2.model_id)
    assert info["num_layers"] == 30 and info["hidden_size"] == 576 and info["num_key_value_heads"] == 3
    man = pipeline.compress_model(smollm2, "sslc", {"ratio": 0.5, "iters": 3}, 0, str(tmp_path / "a"),
                                  calib_samples=2, calib_seqlen=64, show_progress=False, max_layers=2)
    assert len(man["layers"]) == 2 and not man["complete"]
    for layer in man["layers"]:
        for p in layer["projections"]:
            m, n = p["shape"]
            assert p["nnz"] + p["rank"] * (m + n) == round(0.5 * m * n)
            assert p["recon_error"] < 0.5
    windows = evaluate.eval_windows(smollm2.tokenizer, text.evaluation_text(), 64, 2)
    ppl = evaluate.perplexity(smollm2.model, windows)  # the model now holds the 2 compressed layers
    assert 1 < ppl < 1000


def test_minilm_encoder_fidelity(tmp_path):
    lm = models.load("minilm")
    assert not lm.is_causal
    items = evaluate.sentences(text.evaluation_text(), 8)
    ref = evaluate.embeddings(lm.model, lm.tokenizer, items, 64)
    man = pipeline.compress_model(lm, "sslc", {"ratio": 0.6, "iters": 3}, 0, str(tmp_path / "a"),
                                  calib_samples=4, calib_seqlen=64, show_progress=False)
    assert man["complete"] and man["model"]["num_layers"] == 6
    kinds = {p["name"]: p["module"] for p in man["layers"][0]["projections"]}
    assert kinds["attention.self.query"] == "attention" and kinds["intermediate.dense"] == "mlp"
    fresh = models.load("minilm")
    export.apply_artifact(fresh.model, tmp_path / "a")
    fid = evaluate.cosine_fidelity(ref, evaluate.embeddings(fresh.model, fresh.tokenizer, items, 64))
    assert 0.5 < fid["mean_cosine"] <= 1.0 + 1e-6


def test_minilm_streamed_matches_whole(tmp_path):
    """An encoder (layer stack 'encoder.layer', keys without a 'bert.' prefix) streams too."""
    streamed = models.load("minilm", stream=True)
    assert streamed.store is not None and models.load("minilm", stream=None).store is None  # auto: whole
    for lm, out in ((streamed, "s"), (models.load("minilm"), "w")):
        pipeline.compress_model(lm, "wanda", {}, 0, str(tmp_path / out), calib_samples=4, calib_seqlen=64,
                                show_progress=False)
    files = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert len(files) == 7
    for name in files:
        assert (tmp_path / "s" / name).read_bytes() == (tmp_path / "w" / name).read_bytes(), name
