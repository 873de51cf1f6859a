"""Fused Numba kernels for SSLC's sparse step on large matrices (one or two passes over
the residual into caller-owned buffers, instead of a dozen fresh torch temporaries: on a
4096 x 11008 matrix, page-faulting a new 180 MB tensor costs more than a pass over it).

`select_topk_abs` keeps exactly k entries of |R| (preserved entries forced in) with the
same semantics as `patterns.topk_mask`: the k largest, ties broken towards the lower
flat index.  It finds the k-th value inside a sampled bracket, so the full matrix is
never sorted.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from numba import njit, prange


@njit(parallel=True, cache=True)
def _count(R, P, lo, hi, above, band):
    m, n = R.shape
    for i in prange(m):
        a = 0
        b = 0
        for j in range(n):  # branch-free so that it vectorises
            v = abs(R[i, j])
            up = P[i, j] | (v > hi)
            a += up
            b += (~up) & (v >= lo)
        above[i] = a
        band[i] = b


@njit(parallel=True, cache=True)
def _gather(R, P, lo, hi, offsets, vals, idx):
    m, n = R.shape
    for i in prange(m):
        a = np.abs(R[i])
        js = np.nonzero((a >= lo) & (a <= hi) & ~P[i])[0]  # vectorised row test, few hits
        o = offsets[i]
        for q in range(js.size):
            vals[o + q] = a[js[q]]
            idx[o + q] = i * n + js[q]


@njit(parallel=True, cache=True, fastmath={"reassoc"})  # reassociation lets the row sum vectorise
def _apply(R, P, t, tie_cut, B, M, rest, rowsq):
    m, n = R.shape
    for i in prange(m):
        acc = 0.0
        base = i * n
        for j in range(n):
            x = R[i, j]
            v = abs(x)
            keep = P[i, j] | (v > t) | ((v == t) & (base + j <= tie_cut))  # branch-free
            M[i, j] = keep
            kf = np.float32(keep)
            rest[i, j] = B[i, j] - x * kf
            acc += np.float64(x * x * (np.float32(1.0) - kf))
        rowsq[i] = acc


def select_topk_abs(R: torch.Tensor, P: torch.Tensor, k: int, B: torch.Tensor, M: torch.Tensor,
                    rest: torch.Tensor, seed: int = 0) -> float | None:
    """Keep the k largest |R| (P forced in, counted in k), ties to the lower flat index.

    Writes the kept set into the bool buffer M and ``B - R * M`` into ``rest`` (for SSLC:
    B = W^, so rest = W^ - S^, the next low-rank step's input); returns ||R off M||_F.
    Returns None, writing nothing, when the sampled bracket misses (the caller falls back
    to torch)."""
    r = R.numpy()
    p = P.numpy()
    m, n = r.shape
    N = m * n
    ns = min(N // 4, 1 << 18)
    g = np.random.default_rng(seed * 1000003 + N * 31 + k)
    flat = r.reshape(-1)
    samp = np.abs(flat[g.integers(0, N, ns)])
    q = k / N  # preserved entries are all above the k-th value, so the plain quantile applies
    se = 4.5 * math.sqrt(q * (1 - q) / ns) + 4.0 / ns
    samp.sort()
    samp = samp[::-1]
    hi = np.float32(samp[max(0, min(ns - 1, int((q - se) * ns)))])
    lo = np.float32(samp[max(0, min(ns - 1, int(math.ceil((q + se) * ns))))])
    above = np.empty(m, np.int64)
    band = np.empty(m, np.int64)
    _count(r, p, lo, hi, above, band)
    need = k - int(above.sum())
    nb = int(band.sum())
    if need < 0 or need > nb:
        return None
    if need == 0:
        t, tie_cut = hi, -1
    else:
        offsets = np.zeros(m + 1, np.int64)
        np.cumsum(band, out=offsets[1:])
        vals = np.empty(nb, np.float32)
        idx = np.empty(nb, np.int64)
        _gather(r, p, lo, hi, offsets, vals, idx)
        t = np.partition(vals, nb - need)[nb - need]  # the need-th largest band value
        n_gt = int(np.count_nonzero(vals > t))
        ties = idx[vals == t]  # ascending flat index (gathered row by row, left to right)
        tie_cut = int(ties[need - n_gt - 1])
    rowsq = np.empty(m, np.float64)
    _apply(r, p, np.float32(t), tie_cut, B.numpy(), M.numpy(), rest.numpy(), rowsq)
    return math.sqrt(float(rowsq.sum()))
