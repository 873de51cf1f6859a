"""Exact-count masks, also with massively tied scores."""

from __future__ import annotations

import pytest
import torch

from compression import patterns
from workloads.errors import InputError


def _check_topk(scores, mask, k):
    assert int(mask.sum()) == k
    flat, fm = scores.reshape(-1), mask.reshape(-1)
    if 0 < k < flat.numel():
        assert flat[fm].min() >= flat[~fm].max()


@pytest.mark.parametrize("shape", [(64, 64), (512, 1024)])  # exact-sort path and sampled-band path
@pytest.mark.parametrize("levels", [3, 16, 10**9])
def test_topk_exact_with_ties(shape, levels):
    g = torch.Generator().manual_seed(1)
    scores = torch.randint(0, levels, shape, generator=g).float() if levels < 10**9 else torch.rand(shape, generator=g)
    n = scores.numel()
    for k in (0, 1, n // 3, n // 2, n - 1, n):
        mask = patterns.topk_mask(scores, k)
        _check_topk(scores, mask, k)
        assert torch.equal(mask, patterns.topk_mask(scores, k))  # deterministic


def test_ties_broken_by_lower_index():
    scores = torch.ones(4, 5)
    mask = patterns.topk_mask(scores, 7)
    assert mask.reshape(-1)[:7].all() and not mask.reshape(-1)[7:].any()


def test_all_equal_large():
    scores = torch.zeros(300, 300)
    for k in (1, 12345, 89999):
        assert int(patterns.topk_mask(scores, k).sum()) == k


def test_row_topk_exact_total():
    scores = torch.randint(0, 4, (37, 50)).float()
    for total in (0, 1, 37 * 25 + 13, 37 * 50):
        mask = patterns.row_topk_mask(scores, total)
        assert int(mask.sum()) == total
        per_row = mask.sum(1)
        assert int(per_row.max() - per_row.min()) <= 1


@pytest.mark.parametrize("nm", [(2, 4), (4, 8)])
def test_nm_exact(nm):
    n, m = nm
    scores = torch.randint(0, 3, (16, 64)).float()
    mask = patterns.nm_mask(scores, n, m)
    assert torch.all(mask.reshape(16, -1, m).sum(-1) == n)
    with pytest.raises(InputError):
        patterns.nm_mask(torch.zeros(4, 6), n, m)


def test_parse_pattern():
    assert patterns.parse_pattern("unstructured") is None
    assert patterns.parse_pattern("2:4") == (2, 4)
    for bad in ("4:2", "x", "2:4:8", "0:4"):
        with pytest.raises(InputError):
            patterns.parse_pattern(bad)


def test_split_counts():
    parts = patterns.split_counts(901, [128] * 7 + [64])
    assert sum(parts) == 901 and all(0 <= p <= w for p, w in zip(parts, [128] * 7 + [64]))
    assert patterns.split_counts(10, [1, 1, 100]) == [0, 0, 10]
    with pytest.raises(ValueError):
        patterns.split_counts(5, [1, 2])


def test_fused_kernel_matches_torch_selection():
    from compression import kernels

    g = torch.Generator().manual_seed(4)
    for R in (torch.randint(-4, 4, (300, 500), generator=g).float(), torch.randn(300, 500, generator=g)):
        P = torch.zeros_like(R, dtype=torch.bool)
        P.view(-1)[torch.randperm(R.numel(), generator=g)[:700]] = True
        k = R.numel() // 2 + 11
        sc = R.abs()
        sc[P] = float("inf")
        B = torch.randn(R.shape, generator=g)
        mask, rest = torch.ones_like(P), torch.full_like(R, float("nan"))  # garbage in the buffers
        resid = kernels.select_topk_abs(R, P, k, B, mask, rest)
        assert resid is not None
        assert int(mask.sum()) == k and torch.equal(mask, patterns.topk_mask(sc, k))
        assert torch.equal(rest, B - torch.where(mask, R, torch.zeros_like(R)))
        assert abs(resid - float(torch.linalg.vector_norm(R[~mask]))) <= 1e-4 * resid


def test_simulate_and_compress_share_one_default_rank_rule():
    """No --rank: a shape-only budget gives every projection the rank compress would give it."""
    from compression.sslc import make_budget
    from workloads.budget import Budget
    from workloads.presets import PRESETS

    for pattern, nm in (("unstructured", None), ("2:4", (2, 4))):
        for ratio in (0.3, 0.5, 0.7):
            budget = Budget(ratio, None, 0.01, pattern)
            for preset in ("smollm2-135m", "llama-2-7b"):
                for _, _, m, n in PRESETS[preset].projections():
                    assert budget.rank_of(m, n) == make_budget(m, n, ratio, None, 0.01, nm).rank, (preset, m, n)
    assert Budget(0.5, None).rank_of(4096, 4096) == 128  # the paper's rank
