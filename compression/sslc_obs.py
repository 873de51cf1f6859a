"""sslc-obs: SSLC with an error-compensated sparse step (not in the SSLC paper).

W (m x n) ~ S + U V in two phases:
  1. SSLC's own T alternations (`sslc_decompose`, no preserved set): low-rank step on
     (W - S) D, D = diag(||X||_2), and the cheap salience-selection sparse step; it fits the
     low-rank part L = U V.
  2. `obs_steps` error-compensated alternations: OBS pruning of the residual R = W - L
     against the calibration Hessian H = X X^T, as SparseGPT prunes a weight matrix (columns
     left to right, each removed entry's error spread over the entries not yet decided, so
     the kept entries of S are *updated* for the removed ones); every OBS step after the
     first is preceded by a low-rank refit of (W - S) D (subspace iteration warm-started
     from the current V, `power_iters` products). Unstructured, the kept count of each
     128-column block is not SparseGPT's equal share but what the block holds of the
     matrix-wide top-nnz OBS scores r^2 / [H^-1]_jj^2 before the pass (`block_quota`):
     an equal share per block forced the same sparsity on columns of very different
     calibration energy (measured while building it, on SmolLM2-135M layers 5, 15 and 28 at
     ratio 0.5: summed relative loss 2.152 against 2.226 with equal shares).
Why this order: an OBS pass costs about a SparseGPT run, while SSLC's steps are cheap, and
L needs many steps to settle. On 28 SmolLM2-135M matrices (layers 0, 5, 15, 28; ratio 0.5;
summed ||(W - L - S) X||_F / ||W X||_F; benchmarks/results/compression_obs_layers.md)
SparseGPT gives 2.716, OBS alternating from the start (1 SSLC step, 3 OBS steps, close to
the first version, which began from L of W alone) 2.885, 40 SSLC steps then one OBS step
2.652 with rank share 1/8 and 2.588 with 1/16 (the default; a second OBS step: 2.567, for
another OBS pass of time).
The true loss ||(W - L - S) X||_F of every OBS step's iterate is recorded (`exact_trace`) and
the one with the lowest is returned (`best_step`, 1-based over the OBS steps). The SSLC phase
records SSLC's proxy ||(W - L - S) D||_F per step (`proxy_trace`): its true loss would cost an
m n^2 product per step (about 10 s each on a 4096 x 11008 matrix, more than the OBS step).
H^-1 is factored once, in float32 as SparseGPT's reference code does. The OBS loss costs no
m n^2 product: OBS's summed squared scaled errors equal tr(E H' E^T) for the damped
H' = H + damp I, so tr(E H E^T) = that sum - damp ||E||_F^2 over the inputs with
calibration energy (tests/compression/test_sslc_obs.py checks it against the direct form).
"""

from __future__ import annotations

import math

import torch

from compression import patterns
from compression.baselines.sparsegpt import inverse_hessian, obs_prune
from compression.sslc import Budget, Decomposition, _orth, sslc_decompose


def sslc_obs_decompose(W: torch.Tensor, act_norm: torch.Tensor, H: torch.Tensor, budget: Budget, *,
                       iters: int = 40, obs_steps: int = 1, pattern: tuple[int, int] | None = None,
                       seed: int = 0, power_iters: int = 1, blocksize: int = 128,
                       percdamp: float = 0.01) -> Decomposition:
    """Decompose W under `budget` (rank r, nnz of S): T = `iters` SSLC steps, then
    `obs_steps` OBS alternations (module docstring)."""
    W = W.detach().float()
    m, n = W.shape
    r = budget.rank
    plain = Budget(m, n, r, budget.nnz, 0)
    first = sslc_decompose(W, act_norm, plain, iters=iters, pattern=pattern, seed=seed, power_iters=power_iters)
    trace, best = [], None
    D = act_norm.detach().float().reshape(1, n)
    Dinv = torch.where(D > 0, 1.0 / D.clamp_min(1e-30), torch.zeros_like(D))
    Hinv, dead, damp = inverse_hessian(H, percdamp, torch.float32)
    alive = ~dead
    U, V = first.U, first.V
    A1 = (V * D).T.contiguous()  # L's row space in the scaled space: the refit's warm start
    for k in range(max(1, obs_steps)):
        if r and k:
            R = (W - S).mul_(D)
            for _ in range(max(1, power_iters)):
                Q = _orth(R @ A1)
                A1 = R.T @ Q
            U, V = Q.contiguous(), (A1.T * Dinv).contiguous()
        R = W - U @ V
        quota = None if pattern is not None else block_quota(R, Hinv, budget.nnz, blocksize, seed)
        S, mask, damped = obs_prune(R, Hinv, dead, budget.nnz, pattern, blocksize, seed, quota)
        E = R.sub_(S)  # R is not needed any more: the residual in place (matrix-sized temporaries cost page faults)
        if not alive.all():
            E[:, ~alive] = 0.0
        undamped = damped - damp * float(torch.sum(E.square_(), dtype=torch.float64))
        trace.append(math.sqrt(max(undamped, 0.0)))
        if best is None or trace[-1] < best[0]:
            best = (trace[-1], len(trace), U, V, S, mask)
    _, step, U, V, S, mask = best
    best_trace = [min(trace[:k + 1]) for k in range(len(trace))]
    return Decomposition(U=U, V=V, S=S, mask=mask, preserved=0, proxy_trace=first.proxy_trace, exact_trace=trace,
                         best_trace=best_trace, best_step=step)


def block_quota(R: torch.Tensor, Hinv: torch.Tensor, nnz: int, blocksize: int, seed: int = 0) -> list[int]:
    """Kept entries per column block: the block's count among the top-`nnz` OBS scores
    R_ij^2 / [U]_jj^2 of the whole matrix (U the upper factor of H^-1; entries, summing to nnz)."""
    score = R.square().div_(torch.diag(Hinv).reshape(1, -1).square())
    keep = patterns.topk_mask(score, int(nnz), seed=seed)
    return [int(keep[:, s:s + blocksize].sum()) for s in range(0, R.shape[1], blocksize)]
