"""SSLC: synergistic sparse + low-rank decomposition of one weight matrix (paper Alg. 1).

W (m x n, rows = output features) ~ S + U V with

* salience ``(|W_ij| ||X_j||_2)^2`` (paper Eq. 4, diagonal approximation);
* the top ``preserved`` salience entries kept outside the iteration and folded into S
  (they are always in S's support; their value is ``W - L`` so W is exact there);
* T alternating steps of
  (a) low-rank: bilateral random projection (BRP, Zhou & Tao 2011) of ``(W - S) D``,
      D = diag(||X||_2), scaled back by D^-1 (Eq. 6-8);
  (b) sparse: keep the residual entries of ``W - L`` with the highest salience up to the
      sparse count (Eq. 4-5); entries are selected by index, so the count is exact.

BRP is used in its QR-stabilised form with A2 = Y1 (GoDec's own choice):
``Y1 = L~ A1``, ``Y2 = L~^T Y1``, ``Q = orth(Y2)``, ``L' = (L~ Q) Q^T``, which equals
``Y1 (A2^T Y1)^-1 Y2^T`` up to rounding. A1 is warm-started from the previous step's Q,
so across the T steps this is subspace iteration and L' approaches the exact rank-r SVD.

Monotonicity.  The iteration minimises the proxy ``||(W - L - S) D||_F`` (Appendix A):
step (b) is its exact minimiser; step (a) is exact only with an exact SVD, so a BRP
candidate that would increase the proxy is rejected (the previous L is kept and the
rejection counted).  The recorded proxy sequence is therefore non-increasing by
construction.  When the calibration Gram matrix H = X X^T is given, the true loss
``||(W - L - S) X||_F = sqrt(tr(E H E^T))`` is recorded after every step too; it can
rise (the proxy ignores the off-diagonal of H), so the returned solution is the iterate
with the lowest true loss (keep-best) and ``best_trace`` (the loss of the solution that
stopping after step t would return) is non-increasing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch

from compression import patterns
from workloads.errors import InputError


@dataclass
class Budget:
    """Entry counts for one m x n matrix."""

    m: int
    n: int
    rank: int
    nnz: int  # entries of S, preserved included
    preserved: int

    @property
    def kept_fraction(self) -> float:
        return (self.nnz + self.rank * (self.m + self.n)) / (self.m * self.n)


def default_rank(m: int, n: int, ratio: float, rank_share: float) -> int:
    """Rank that gives the low-rank part `rank_share` of the kept budget.

    rank_share = 0.125 reproduces the paper's r = 128 on a 4096 x 4096 matrix at 50%
    (128 * 8192 / 4096^2 = 6.25% = 0.125 * 50%).
    """
    return max(0, int(math.floor(rank_share * ratio * m * n / (m + n))))


def make_budget(m: int, n: int, ratio: float, rank: int | None, preserve: float,
                pattern: tuple[int, int] | None, rank_share: float = 0.125, where: str = "") -> Budget:
    """ratio = sparse + r(m+n)/(mn) + preserve (fractions of m n kept).

    Unstructured: nnz(S) = round(ratio m n) - r (m + n), preserved = round(preserve m n).
    N:M: S is exactly N:M (nnz = m n N / M, preserved entries counted inside it); the
    rank is `rank` or what the rest of the ratio above N/M pays for (0 if none).
    """
    if not (0.0 < ratio <= 1.0):
        raise InputError(f"{where}--ratio: expected a kept fraction in (0, 1], got {ratio}")
    if not (0.0 <= preserve < 1.0):
        raise InputError(f"{where}--preserve: expected a fraction in [0, 1), got {preserve}")
    mn = m * n
    if pattern is not None:
        nk, mg = pattern
        nnz = mn * nk // mg
        r = rank if rank is not None else max(0, int(math.floor((ratio - nk / mg) * mn / (m + n))))
        pres = min(int(round(preserve * mn)), nnz)
        return Budget(m, n, int(r), int(nnz), pres)
    r = default_rank(m, n, ratio, rank_share) if rank is None else int(rank)
    if r < 0 or r > min(m, n):
        raise InputError(f"{where}--rank: {r} outside [0, min(m, n) = {min(m, n)}]")
    total = int(round(ratio * mn))
    nnz = total - r * (m + n)
    pres = int(round(preserve * mn))
    if nnz < pres:
        raise InputError(f"{where}budget: ratio {ratio} keeps {total} of {m}x{n} entries, fewer than "
                         f"rank {r} ({r * (m + n)}) + preserved {pres}; lower --rank or raise --ratio")
    return Budget(m, n, r, int(nnz), pres)


@dataclass
class Decomposition:
    U: torch.Tensor  # m x r
    V: torch.Tensor  # r x n
    S: torch.Tensor  # m x n, zero outside mask
    mask: torch.Tensor  # bool m x n, support of S (preserved included)
    preserved: int
    proxy_trace: list[float] = field(default_factory=list)  # ||(W-L-S)D||_F, init + each step
    exact_trace: list[float] = field(default_factory=list)  # ||(W-L-S)X||_F per iterate (if H)
    best_trace: list[float] = field(default_factory=list)  # running min of exact_trace
    best_step: int = 0
    rejected: int = 0


def exact_loss(E: torch.Tensor, H: torch.Tensor) -> float:
    """||E X||_F with H = X X^T (n x n), computed as sqrt(tr(E H E^T))."""
    val = float(((E.double() @ H.double()) * E.double()).sum())
    return math.sqrt(max(val, 0.0))


def _orth(Y: torch.Tensor) -> torch.Tensor:
    return torch.linalg.qr(Y, mode="reduced").Q


def sslc_decompose(W: torch.Tensor, act_norm: torch.Tensor, budget: Budget, *, iters: int = 40,
                   pattern: tuple[int, int] | None = None, metric: str = "salience",
                   scope: str = "matrix", H: torch.Tensor | None = None, seed: int = 0,
                   power_iters: int = 1, progress=None) -> Decomposition:
    """Decompose W into S + U V under `budget` (see module docstring)."""
    W = W.detach().float()
    m, n = W.shape
    D = act_norm.detach().float().reshape(1, n)
    Dinv = torch.where(D > 0, 1.0 / D.clamp_min(1e-30), torch.zeros_like(D))
    r = budget.rank

    def scores(R: torch.Tensor) -> torch.Tensor:
        if metric == "salience":
            return (R.abs() * D).square()
        if metric == "wanda":
            return R.abs() * D
        if metric == "magnitude":
            return R.abs()
        raise InputError(f"--sparse-metric: expected salience|wanda|magnitude, got {metric!r}")

    # preserved top-salience entries of W (always salience, as in the paper)
    sal_w = (W.abs() * D).square()
    if budget.preserved:
        pmask = patterns.topk_mask(sal_w, budget.preserved, seed=seed)
        if pattern is not None:  # a group keeps at most N: cap preserved entries by the pattern
            pmask &= patterns.nm_mask(torch.where(pmask, sal_w, torch.zeros_like(sal_w)), *pattern)
    else:
        pmask = torch.zeros_like(W, dtype=torch.bool)
    n_pres = int(pmask.sum())
    free = budget.nnz - n_pres

    def sparse_step(R: torch.Tensor) -> torch.Tensor:
        sc = scores(R)
        if n_pres:
            top = float(sc.max()) if sc.numel() else 0.0
            sc = torch.where(pmask, sc + (2.0 * top + 1.0), sc)  # preserved first, order kept
        if pattern is not None:
            return patterns.nm_mask(sc, *pattern)
        if scope == "row":
            # per-row selection of the free entries, preserved forced on top
            sc_free = torch.where(pmask, torch.full_like(sc, -1.0), sc)
            return patterns.row_topk_mask(sc_free, free) | pmask
        return patterns.topk_mask(sc, budget.nnz, seed=seed)

    mask = pmask.clone()
    S = torch.where(mask, W, torch.zeros_like(W))
    U = W.new_zeros(m, r)
    V = W.new_zeros(r, n)

    def proxy_of(E: torch.Tensor) -> float:
        return float(torch.linalg.vector_norm((E * D).double()))

    out = Decomposition(U=U, V=V, S=S, mask=mask, preserved=n_pres)
    cur = proxy_of(W - S)
    out.proxy_trace.append(cur)
    best = None  # (exact loss, step, U, V, S, mask) over iterates t >= 1 (init is under budget)
    if H is not None:
        out.exact_trace.append(exact_loss(W - S, H))
    if r == 0 and iters > 0:
        iters_eff = 1  # nothing to alternate with: one sparse step is the whole algorithm
    else:
        iters_eff = iters
    g = torch.Generator(device="cpu").manual_seed(seed)
    Q = _orth(torch.randn(n, max(r, 1), generator=g)[:, :r].to(W.device)) if r else None
    L = torch.zeros_like(W)
    for t in range(1, iters_eff + 1):
        # (a) low-rank step on the scaled sparse residual
        if r:
            Rs = (W - S) * D
            for _ in range(max(1, power_iters)):
                Y1 = Rs @ Q  # m x r
                Q = _orth(Rs.T @ Y1)  # n x r
            Ut = Rs @ Q  # m x r ; L' = Ut Q^T, L = L' D^-1
            V_c = Q.T * Dinv
            L_c = Ut @ V_c
            cand = proxy_of(W - L_c - S)
            if cand <= cur:
                U, V, L, cur = Ut, V_c, L_c, cand
            else:
                out.rejected += 1
        # (b) sparse step on the low-rank residual
        R = W - L
        new_mask = sparse_step(R)
        S_new = torch.where(new_mask, R, torch.zeros_like(R))
        cand = proxy_of(R - S_new)
        if cand <= cur:
            S, mask, cur = S_new, new_mask, cand
        else:
            out.rejected += 1
        out.proxy_trace.append(cur)
        if H is not None:
            e = exact_loss(W - L - S, H)
            out.exact_trace.append(e)
            if best is None or e < best[0]:
                best = (e, t, U, V, S, mask)
            out.best_trace.append(best[0])
        if progress is not None:
            progress(t, cur)
    if best is not None:
        _, out.best_step, U, V, S, mask = best
    else:
        out.best_step = iters_eff
    out.U, out.V, out.S, out.mask = U.contiguous(), V.contiguous(), S, mask
    out.preserved = int((mask & pmask).sum())
    return out
