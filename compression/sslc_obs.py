"""sslc-obs: SSLC with an error-compensated sparse step (not in the SSLC paper).

W (m x n) ~ S + U V, alternating T times:
  (a) low-rank: the rank-r approximation of (W - S) D in SSLC's scaled space (D =
      diag(||X||_2), bilateral random projection warm-started across steps, `power_iters`
      subspace iterations per step), scaled back by D^-1: L = U V;
  (b) sparse: OBS pruning of the residual R = W - L against the calibration Hessian
      H = X X^T, as SparseGPT prunes a weight matrix: columns left to right, each removed
      entry's error spread over the entries not yet decided, so the kept entries of S are
      *updated* to compensate for the removed ones (SSLC's sparse step only selects them).
The true loss ||(W - L - S) X||_F is recorded after every step (`exact_trace`) and the
iterate with the lowest one is returned (`best_step`). H^-1 is factored once. The loss
costs no m n^2 product: OBS's summed squared scaled errors equal tr(E H' E^T) for the
damped H' = H + damp I, so tr(E H E^T) = that sum - damp ||E||_F^2 over the inputs with
calibration energy (tests/compression/test_sslc_obs.py checks it against the direct form).
H^-1's factor is computed in float32, as SparseGPT's reference code does.
No preserved set: OBS chooses and updates every kept entry.
"""

from __future__ import annotations

import math

import torch

from compression.baselines.sparsegpt import inverse_hessian, obs_prune
from compression.sslc import Budget, Decomposition, _orth


def sslc_obs_decompose(W: torch.Tensor, act_norm: torch.Tensor, H: torch.Tensor, budget: Budget, *,
                       iters: int = 3, pattern: tuple[int, int] | None = None, seed: int = 0,
                       power_iters: int = 2, blocksize: int = 128, percdamp: float = 0.01) -> Decomposition:
    """Decompose W under `budget` (rank r, nnz of S) with T = `iters` alternations (module docstring)."""
    W = W.detach().float()
    m, n = W.shape
    r = budget.rank
    D = act_norm.detach().float().reshape(1, n)
    Dinv = torch.where(D > 0, 1.0 / D.clamp_min(1e-30), torch.zeros_like(D))
    Hinv, dead, damp = inverse_hessian(H, percdamp, torch.float32)
    alive = ~dead
    g = torch.Generator(device="cpu").manual_seed(seed)
    A1 = torch.randn(n, max(r, 1), generator=g)[:, :r] if r else None
    S = torch.zeros_like(W)
    U, V = W.new_zeros(m, r), W.new_zeros(r, n)
    trace, best = [], None
    for t in range(1, (iters if r else 1) + 1):
        if r:
            R = (W - S).mul_(D)
            for _ in range(max(1, power_iters)):
                Q = _orth(R @ A1)
                Y2 = R.T @ Q
                A1 = Y2
            U, V = Q.contiguous(), (Y2.T * Dinv).contiguous()
        R = W - U @ V
        S, mask, damped = obs_prune(R, Hinv, dead, budget.nnz, pattern, blocksize, seed)
        E = R.sub_(S)  # R is not needed any more: the residual in place (matrix-sized temporaries cost page faults)
        if not alive.all():
            E[:, ~alive] = 0.0
        undamped = damped - damp * float(torch.sum(E.square_(), dtype=torch.float64))
        loss = math.sqrt(max(undamped, 0.0))
        trace.append(loss)
        if best is None or loss < best[0]:
            best = (loss, t, U, V, S, mask)
    _, step, U, V, S, mask = best
    best_trace = [min(trace[:k + 1]) for k in range(len(trace))]
    return Decomposition(U=U, V=V, S=S, mask=mask, preserved=0, exact_trace=trace, best_trace=best_trace,
                         best_step=step)
