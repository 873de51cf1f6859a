"""SSLC on single matrices: exact budget, monotone loss, planted low-rank + sparse recovery."""

from __future__ import annotations

import torch

from compression.baselines.svd import low_rank
from compression.baselines.wanda import wanda
from compression.sslc import exact_loss, make_budget, sslc_decompose


def _data(n, tokens=512, seed=0):
    """Calibration inputs X (n features x tokens) with uneven channel scales, H = X X^T."""
    g = torch.Generator().manual_seed(seed)
    scale = torch.rand(n, 1, generator=g) * 3 + 0.1
    X = torch.randn(n, tokens, generator=g) * scale
    H = X @ X.T
    return X, H, H.diag().sqrt()


def test_budget_exact_and_monotone():
    g = torch.Generator().manual_seed(0)
    W = torch.randint(-8, 8, (96, 160), generator=g).float() / 8  # many ties, like 4-bit weights
    X, H, act = _data(160)
    b = make_budget(96, 160, 0.5, None, 0.01, None)
    assert b.nnz + b.rank * (96 + 160) == round(0.5 * 96 * 160)
    d = sslc_decompose(W, act, b, iters=15, H=H, seed=0)
    assert int(d.mask.sum()) == b.nnz
    assert int((d.S != 0).sum()) <= b.nnz
    assert d.U.shape == (96, b.rank) and d.V.shape == (b.rank, 160)
    assert d.preserved == b.preserved
    pt = d.proxy_trace
    assert len(pt) == 16 and all(pt[i + 1] <= pt[i] for i in range(len(pt) - 1))
    bt = d.best_trace
    assert all(bt[i + 1] <= bt[i] for i in range(len(bt) - 1))
    # the returned solution's true loss is the best recorded one
    assert abs(exact_loss(W - d.S - d.U @ d.V, H) - min(d.exact_trace[1:])) <= 1e-3 * min(d.exact_trace[1:])


def test_preserved_entries_exact():
    g = torch.Generator().manual_seed(3)
    W = torch.randn(64, 64, generator=g)
    _, H, act = _data(64, seed=3)
    b = make_budget(64, 64, 0.5, 4, 0.05, None)
    d = sslc_decompose(W, act, b, iters=5)
    sal = (W.abs() * act).square().reshape(-1)
    top = torch.topk(sal, b.preserved).indices
    Wc = (d.S + d.U @ d.V).reshape(-1)
    assert d.mask.reshape(-1)[top].all()
    assert torch.allclose(Wc[top], W.reshape(-1)[top], atol=1e-5)


def test_planted_low_rank_plus_sparse_recovery():
    m, n, r = 128, 192, 8
    g = torch.Generator().manual_seed(7)
    Lt = (torch.randn(m, r, generator=g) @ torch.randn(r, n, generator=g)) / r**0.5
    St = torch.zeros(m, n)
    idx = torch.randperm(m * n, generator=g)[: int(0.15 * m * n)]
    St.view(-1)[idx] = torch.randn(idx.numel(), generator=g) * 3
    W = Lt + St + 0.01 * torch.randn(m, n, generator=g)
    X, H, act = _data(n, seed=8)
    ratio = (r * (m + n) + idx.numel()) / (m * n) + 0.01
    b = make_budget(m, n, ratio, r, 0.01, None)
    d = sslc_decompose(W, act, b, iters=40, H=H)
    e_sslc = exact_loss(W - d.S - d.U @ d.V, H)
    e_wanda = exact_loss(W - wanda(W, act, round(ratio * m * n)).S, H)
    r_svd = int(ratio * m * n / (m + n))
    e_svd = exact_loss(W - (lambda x: x.U @ x.V)(low_rank(W, r_svd)), H)
    e_ref = exact_loss(W, H)
    assert e_sslc < 0.5 * e_wanda and e_sslc < 0.5 * e_svd, (e_sslc, e_wanda, e_svd)
    assert e_sslc / e_ref < 0.05


def test_nm_pattern_and_metrics():
    g = torch.Generator().manual_seed(5)
    W = torch.randn(32, 64, generator=g)
    _, H, act = _data(64, seed=5)
    b = make_budget(32, 64, 0.55, 2, 0.01, (2, 4))
    d = sslc_decompose(W, act, b, iters=5, pattern=(2, 4))
    assert torch.all(d.mask.reshape(32, -1, 4).sum(-1) == 2)
    for metric, scope in (("wanda", "row"), ("magnitude", "matrix")):
        b2 = make_budget(32, 64, 0.5, 2, 0.01, None)
        d2 = sslc_decompose(W, act, b2, iters=5, metric=metric, scope=scope)
        assert int(d2.mask.sum()) == b2.nnz
        pt = d2.proxy_trace
        assert all(pt[i + 1] <= pt[i] for i in range(len(pt) - 1))


def test_row_scope_exact_with_a_row_full_of_preserved_entries():
    W = torch.randn(16, 32) * 0.01
    W[3] = 10.0  # one row holds every top-salience entry
    act = torch.ones(32)
    b = make_budget(16, 32, 0.5, 1, 0.06, None)  # preserved 31 entries, mostly in row 3
    d = sslc_decompose(W, act, b, iters=3, metric="wanda", scope="row")
    assert int(d.mask.sum()) == b.nnz


def test_fused_path_equals_torch_path(monkeypatch):
    """Matrices above 64K entries take the fused Numba sparse step with reused buffers; with
    the kernel disabled the same iteration runs on torch: same masks, same factors."""
    from compression import kernels

    g = torch.Generator().manual_seed(11)
    W = torch.randint(-8, 8, (256, 320), generator=g).float() / 8  # ties, as in 4-bit weights
    _, H, act = _data(320, seed=11)
    b = make_budget(256, 320, 0.5, 8, 0.01, None)
    d = sslc_decompose(W, act, b, iters=6, H=H)
    monkeypatch.setattr(kernels, "select_topk_abs", lambda *a, **k: None)
    d_t = sslc_decompose(W, act, b, iters=6, H=H)
    assert int(d.mask.sum()) == b.nnz
    assert all(d.proxy_trace[i + 1] <= d.proxy_trace[i] for i in range(6))
    assert torch.equal(d.mask, d_t.mask) and d.best_step == d_t.best_step
    assert torch.allclose(d.U @ d.V, d_t.U @ d_t.V, atol=1e-5)
    assert torch.allclose(torch.tensor(d.proxy_trace), torch.tensor(d_t.proxy_trace), rtol=1e-5)
