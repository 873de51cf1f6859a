"""sslc-obs: its cheap loss equals ||(W - L - S) X||_F, the best iterate is returned, the
budget is exact, and it beats plain SSLC and SparseGPT on a correlated-input case."""

from __future__ import annotations

import torch

from compression.baselines.sparsegpt import sparsegpt
from compression.sslc import exact_loss, make_budget, sslc_decompose
from compression.sslc_obs import sslc_obs_decompose


def _case(dead: bool = False):
    g = torch.Generator().manual_seed(0)
    m, n, T = 96, 192, 400
    W = torch.randn(m, 8, generator=g) @ torch.randn(8, n, generator=g) * 0.05 + torch.randn(m, n, generator=g) * 0.02
    X = torch.randn(n, T, generator=g) * (torch.rand(n, 1, generator=g) * 3 + 0.1)
    X = X + 0.5 * X.roll(1, 0)  # correlated inputs: H is far from diagonal
    if dead:
        X[:5] = 0.0  # inputs with no calibration energy
    return W, X @ X.T, X.norm(dim=1)


def test_recorded_loss_is_the_true_loss_and_the_best_iterate_is_returned():
    for dead in (False, True):
        W, H, act = _case(dead)
        b = make_budget(*W.shape, 0.5, None, 0.0, None)
        d = sslc_obs_decompose(W, act, H, b, iters=5, obs_steps=3)
        assert len(d.exact_trace) == 3 and len(d.proxy_trace) == 5 + 1
        true = exact_loss(W - d.U @ d.V - d.S, H)
        assert abs(d.exact_trace[d.best_step - 1] - true) <= 1e-4 * true
        assert d.exact_trace[d.best_step - 1] == min(d.exact_trace)
        assert int(d.mask.sum()) + d.U.shape[1] * sum(W.shape) == round(0.5 * W.numel())


def test_beats_sparsegpt_on_low_rank_structure():
    W, H, act = _case()
    b = make_budget(*W.shape, 0.5, None, 0.0, None)
    obs = sslc_obs_decompose(W, act, H, b, iters=40, obs_steps=2)
    sgpt = sparsegpt(W, H, round(0.5 * W.numel()))
    loss = lambda d: exact_loss(W - d.U @ d.V - d.S, H)  # noqa: E731
    assert loss(obs) < 0.8 * loss(sgpt)


def test_the_obs_step_compensates():
    """With the low-rank part fixed, the OBS step's S beats selecting the same count of
    residual entries by salience (SSLC's step): one OBS step after a single SSLC step."""
    W, H, act = _case()
    b = make_budget(*W.shape, 0.5, None, 0.0, None)
    d = sslc_obs_decompose(W, act, H, b, iters=1, obs_steps=1)
    one_step = sslc_decompose(W, act, b, iters=1, H=H)
    assert d.exact_trace[0] < one_step.exact_trace[-1] and d.best_step == 1


def test_float32_inverse_factor_equals_the_float64_one():
    from compression.baselines.sparsegpt import inverse_hessian

    _, H, _ = _case(dead=True)
    U64, dead64, damp64 = inverse_hessian(H, 0.01)
    U32, dead32, damp32 = inverse_hessian(H, 0.01, torch.float32)
    assert torch.equal(dead64, dead32) and abs(damp64 - damp32) <= 1e-5 * damp64
    assert torch.allclose(U32, U64, rtol=1e-3, atol=1e-3 * float(U64.abs().max()))
    assert torch.equal(U32, U32.triu())


def test_triangular_inverse_by_halves():
    from compression.baselines.sparsegpt import _tril_inverse

    g = torch.Generator().manual_seed(1)
    A = torch.randn(700, 700, generator=g, dtype=torch.float64)
    L = torch.linalg.cholesky(A @ A.T + 700 * torch.eye(700, dtype=torch.float64))
    Li = _tril_inverse(L)
    assert torch.allclose(Li @ L, torch.eye(700, dtype=torch.float64), atol=1e-10)
    assert torch.equal(Li, Li.tril())
