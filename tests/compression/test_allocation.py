"""Budget allocation across projections: exact totals, OWL's map, and global allocation on
planted redundancy (some matrices nearly low-rank, others not)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from compression import allocation, pipeline
from compression.allocation import Share
from compression.sslc import Budget, exact_loss, sslc_decompose
from workloads import artifact
from workloads.errors import InputError

from _tiny_models import loaded


def test_exact_split_sums_and_respects_caps():
    assert allocation.exact_split(10, [1.0, 1.0, 1.0], [5, 5, 5]) == [4, 3, 3]
    assert allocation.exact_split(9, [1.0, 0.0, 8.0], [9, 9, 2]) == [7, 0, 2]
    assert sum(allocation.exact_split(1001, [3.3, 1.1, 7.7], [500, 500, 500])) == 1001
    with pytest.raises(InputError):
        allocation.exact_split(20, [1.0], [5])


def test_owl_map_keeps_the_mean_and_the_range():
    r = allocation.owl_ratios([0.01, 0.02, 0.05, 0.03], 0.5)
    assert abs(sum(r) / len(r) - 0.5) < 1e-12
    assert abs(max(r) - min(r) - 2 * allocation.OWL_LAMBDA) < 1e-12
    assert r.index(max(r)) == 2  # most outliers, most kept


def _planted(rng: torch.Generator):
    """Six 48 x 96 projections: three nearly rank-3 (redundant), three full-rank noise-like."""
    mats = []
    for j in range(6):
        if j % 2 == 0:
            W = torch.randn(48, 3, generator=rng) @ torch.randn(3, 96, generator=rng) * 0.3
            W += 0.005 * torch.randn(48, 96, generator=rng)
        else:
            W = torch.randn(48, 96, generator=rng) * 0.1
        X = torch.randn(96, 512, generator=rng) * (torch.rand(96, 1, generator=rng) * 2 + 0.2)
        mats.append((W, X @ X.T, X.norm(dim=1)))
    return mats


def _loss(W, H, act, share: Share) -> float:
    m, n = W.shape
    d = sslc_decompose(W, act, Budget(m, n, share.rank, share.kept - share.rank * (m + n), 0), iters=8)
    return exact_loss(W - d.S - d.U @ d.V, H) ** 2


def test_global_allocation_moves_budget_to_low_rank_where_it_is_cheap_and_lowers_the_loss():
    mats = _planted(torch.Generator().manual_seed(0))
    ratio = 0.3
    sizes = [tuple(W.shape) for W, _, _ in mats]
    budget = int(round(ratio * sum(m * n for m, n in sizes)))
    ones = [torch.ones(W.shape[0]) for W, _, _ in mats]  # equal sensitivity
    curves = [allocation.error_curve(W, a, ratio, None, w) for (W, _, a), w in zip(mats, ones)]
    glob = allocation.top_up(allocation.allocate_global(curves, budget), sizes, budget, None)
    rule = allocation.rank_rule(0.125)
    kept = allocation.exact_split(budget, [float(m * n) for m, n in sizes], [m * n for m, n in sizes])
    uni = [Share(k, rule(m, n, k)) for k, (m, n) in zip(kept, sizes)]
    assert sum(s.kept for s in glob) == sum(s.kept for s in uni) == budget  # the same, exact budget
    for j, ((m, n), g, u) in enumerate(zip(sizes, glob, uni)):
        if j % 2 == 0:  # planted redundancy: more rank, fewer sparse entries than uniform
            assert g.rank > u.rank and g.kept - g.rank * (m + n) < u.kept - u.rank * (m + n)
    total_g = sum(_loss(W, H, a, s) for (W, H, a), s in zip(mats, glob))
    total_u = sum(_loss(W, H, a, s) for (W, H, a), s in zip(mats, uni))
    assert total_g < total_u


def _planted_model():
    """The tiny LLaMA with layer 0's projections made nearly rank 3 (layer 1 left full rank)."""
    from compression import models

    lm = loaded("llama", layers=2, seed=0)
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for lin in models.linear_projections(models.layer_stack(lm.model)[0]).values():
            m, n = lin.weight.shape
            W = torch.randn(m, 3, generator=g) @ torch.randn(3, n, generator=g) * (lin.weight.std() / 3 ** 0.5)
            lin.weight.copy_(W + 0.02 * lin.weight)
    return lm


def test_global_allocation_on_a_model_with_planted_redundancy(tmp_path):
    """Through the pipeline (Fisher weights, stage 1, stage 2): every projection of the nearly
    low-rank layer gets more rank, and the layer fewer sparse entries, than uniform gives
    it; the other layer gets the sparse budget; and the summed relative calibration loss ||(W - W~) X|| / ||W X|| is lower."""
    runs = {}
    for alloc in ("uniform", "global"):
        man = pipeline.compress_model(_planted_model(), "sslc", {"ratio": 0.4, "allocation": alloc, "iters": 8}, 0,
                                      str(tmp_path / alloc), calib_samples=8, calib_seqlen=64, show_progress=False)
        runs[alloc] = {layer["index"]: layer["projections"] for layer in man["layers"]}
    glob, uni = runs["global"], runs["uniform"]
    assert all(g["rank"] >= 3 > u["rank"] for g, u in zip(glob[0], uni[0]))
    nnz = {a: [sum(p["nnz"] for p in r[i]) for i in (0, 1)] for a, r in runs.items()}
    assert nnz["global"][0] < 0.5 * nnz["uniform"][0] and nnz["global"][1] > nnz["uniform"][1], nnz
    assert all(g["rank"] == 0 for g in glob[1])
    total = {a: sum(p["recon_error"] for layer in r.values() for p in layer) for a, r in runs.items()}
    assert total["global"] < 0.8 * total["uniform"], total


def _total_kept(out) -> tuple[int, int, list]:
    kept = total = 0
    projs = []
    for _entry, ps in artifact.iter_layers(out):
        for p in ps.values():
            m, n = p.shape
            kept += p.nnz + p.rank * (m + n)
            total += m * n
            projs.append(p)
    return kept, total, projs


@pytest.mark.parametrize("method,hp", [("sslc", {"allocation": "global", "iters": 4}),
                                       ("sslc", {"allocation": "owl", "iters": 4}),
                                       ("sslc-obs", {"allocation": "global", "iters": 2}),
                                       ("wanda", {"allocation": "owl"}),
                                       ("sparsegpt", {"allocation": "global"})])
def test_allocated_budget_is_exact(method, hp, tmp_path):
    man = pipeline.compress_model(loaded(), method, {"ratio": 0.4, **hp}, 0, str(tmp_path / "a"), calib_samples=4,
                                  calib_seqlen=32, show_progress=False)
    kept, total, _ = _total_kept(tmp_path / "a")
    assert kept == round(0.4 * total)
    assert len(man["allocation"]) == 14  # 2 layers x 7 projections


def test_global_allocation_with_an_nm_pattern_keeps_the_pattern(tmp_path):
    pipeline.compress_model(loaded(), "sslc", {"ratio": 0.6, "pattern": "2:4", "allocation": "global", "iters": 4}, 0,
                            str(tmp_path / "a"), calib_samples=4, calib_seqlen=32, show_progress=False)
    kept, total, projs = _total_kept(tmp_path / "a")
    assert 0 <= round(0.6 * total) - kept < min(m + n for m, n in (p.shape for p in projs))  # within one rank unit
    for p in projs:
        m, n = p.shape
        mask = np.zeros((m, n), bool)
        mask[np.repeat(np.arange(m), np.diff(p.indptr)), p.indices.astype(int)] = True
        assert (mask.reshape(m, -1, 4).sum(-1) == 2).all()


def test_allocation_input_errors(tmp_path):
    with pytest.raises(InputError, match="N:M pattern fixes"):
        pipeline.compress_model(loaded(), "sslc", {"pattern": "2:4", "allocation": "owl"}, 0, str(tmp_path / "a"),
                                calib_samples=4, calib_seqlen=32, show_progress=False)
    cost = {"hardware": "x", "hardware_sha256": "0" * 64, "phase": "decode", "metric": "cycles", "batch": 1,
            "seq": 1, "target": None, "loss_target": None, "masks": "synthetic"}
    with pytest.raises(InputError, match="use --allocation global"):
        pipeline.compress_model(loaded(), "wanda", {"allocation": "owl", "cost": cost}, 0, str(tmp_path / "b"),
                                calib_samples=4, calib_seqlen=32, show_progress=False)
    with pytest.raises(InputError, match="no cost table"):
        pipeline.compress_model(loaded(), "wanda", {"allocation": "global", "cost": cost}, 0, str(tmp_path / "c"),
                                calib_samples=4, calib_seqlen=32, show_progress=False)
