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

BRP is used as in GoDec with A2 = Y1, QR-stabilised: ``Y1 = R~ A1``, ``Qy = orth(Y1)``,
``Y2 = R~^T Qy``, ``L' = Qy Y2^T`` -- equal to ``Y1 (A2^T Y1)^-1 Y2^T`` with A2 = Y1 up to
rounding, three m x n x r products per step.  A1 is warm-started with the previous
step's Y2 (the first A1 is a seeded Gaussian), so across the T steps this is subspace
iteration and L' approaches the exact rank-r truncated SVD of the current residual.

Monotonicity.  The iteration minimises the proxy ``||(W - L - S) D||_F`` (Appendix A):
step (b) is its exact minimiser; step (a) is exact only with an exact SVD, so a step whose
pair (L', S') would increase the proxy is rejected (the previous L and S are kept and the
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

from compression import kernels, patterns
from workloads.budget import default_rank
from workloads.errors import InputError


@dataclass
class Budget:
    """Entry counts for one m x n matrix."""

    m: int
    n: int
    rank: int
    nnz: int  # entries of S, preserved included
    preserved: int


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

    @classmethod
    def sparse_only(cls, S: torch.Tensor, mask: torch.Tensor) -> "Decomposition":
        """A pruning result: S on `mask`, no low-rank part."""
        m, n = S.shape
        return cls(U=S.new_zeros(m, 0), V=S.new_zeros(0, n), S=S, mask=mask, preserved=0)


def exact_loss(E: torch.Tensor, H: torch.Tensor) -> float:
    """||E X||_F with H = X X^T (n x n), computed as sqrt(tr(E H E^T))."""
    E = E.float()
    val = float(torch.sum((E @ H.float()) * E, dtype=torch.float64))
    return math.sqrt(max(val, 0.0))


def _orth(Y: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis of a tall m x r matrix: CholeskyQR2 (two r x r Cholesky passes, far
    cheaper than Householder QR for m >> r), Householder QR if the Gram matrix is singular."""
    Q = Y
    for _ in range(2):
        G = Q.T @ Q
        G.diagonal().add_(G.diagonal().mean() * 1e-7 + 1e-30)
        R, info = torch.linalg.cholesky_ex(G, upper=True)
        if int(info) != 0 or not torch.isfinite(R).all():
            return torch.linalg.qr(Y, mode="reduced").Q
        Q = torch.linalg.solve_triangular(R, Q, upper=True, left=False)
    return Q


def _norm(x: torch.Tensor) -> float:
    return float(torch.linalg.vector_norm(x))


@dataclass
class _SparseSelect:
    """Step (b) of one decomposition: the support of S^ chosen from a scaled residual, the
    preserved entries always included."""

    Wh: torch.Tensor  # W^ = W D
    Dinv: torch.Tensor
    pmask: torch.Tensor  # preserved entries
    pidx: torch.Tensor  # their flat indices
    nnz: int
    free: int  # entries of S besides the preserved ones
    row_free: list[int] | None  # per row, the entries not preserved (row scope with preserved entries)
    metric: str
    pattern: tuple[int, int] | None
    scope: str
    seed: int
    fused: bool  # the fused Numba path (unstructured, matrix-wide |R^|, big CPU matrix)

    def mask(self, Rh: torch.Tensor) -> torch.Tensor:
        # salience (R D)^2 and Wanda's |R| ||X|| order entries identically: rank |R^|
        sc = Rh.abs() if self.metric != "magnitude" else Rh.abs().mul_(self.Dinv)
        n_pres = int(self.pidx.numel())
        if self.pattern is not None or self.scope != "row":
            if n_pres:
                sc.view(-1)[self.pidx] = float("inf")  # preserved entries always kept
            if self.pattern is not None:
                return patterns.nm_mask(sc, *self.pattern)
            return patterns.topk_mask(sc, self.nnz, seed=self.seed)
        if n_pres:
            sc.view(-1)[self.pidx] = -1.0  # per-row choice of the free entries, preserved on top
        # a row full of preserved entries has fewer free slots: shares follow what is left
        return patterns.row_topk_mask(sc, self.free, available=self.row_free) | self.pmask

    def step(self, Rh: torch.Tensor, spare: tuple[torch.Tensor, torch.Tensor] | None):
        """(mask, W^ - S^, ||Rh off mask||_F) for S^ = Rh on the newly selected mask."""
        if self.fused:
            M, rest = spare if spare is not None else (torch.empty_like(self.pmask), torch.empty_like(self.Wh))
            res = kernels.select_topk_abs(Rh, self.pmask, self.nnz, self.Wh, M, rest, seed=self.seed)
            if res is not None:
                return M, rest, res
        M = self.mask(Rh)
        resid = Rh.masked_fill(M, 0.0)
        return M, self.Wh - (Rh - resid), _norm(resid)


def _sparse_select(Wh: torch.Tensor, Dinv: torch.Tensor, budget: Budget, pattern: tuple[int, int] | None,
                   metric: str, scope: str, seed: int) -> _SparseSelect:
    """The preserved top-salience entries of W (always salience, as in the paper) and the
    sparse step that keeps them."""
    m, n = Wh.shape
    if budget.preserved:
        pmask = patterns.topk_mask(Wh.abs(), budget.preserved, seed=seed)
        if pattern is not None:  # a group keeps at most N: cap preserved entries by the pattern
            pmask &= patterns.nm_mask(torch.where(pmask, Wh.abs(), torch.zeros_like(Wh)), *pattern)
    else:
        pmask = torch.zeros_like(Wh, dtype=torch.bool)
    pidx = pmask.reshape(-1).nonzero().squeeze(1)
    n_pres = int(pidx.numel())
    row_free = (n - pmask.sum(1)).tolist() if n_pres and scope == "row" and pattern is None else None
    fused = (pattern is None and scope != "row" and metric != "magnitude" and Wh.device.type == "cpu"
             and m * n > (1 << 16))
    return _SparseSelect(Wh, Dinv, pmask, pidx, budget.nnz, budget.nnz - n_pres, row_free, metric, pattern, scope,
                         seed, fused)


def _low_rank_step(Rs: torch.Tensor, A1: torch.Tensor, power_iters: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Step (a): BRP of R~ = W^ - S^ with A2 = Y1: L' = Y1 (Y1^T Y1)^-1 Y1^T R~ = Qy (R~^T Qy)^T,
    Qy = orth(Y1). Returns (Qy, Y2); Y2 warm-starts the next projection (subspace iteration)."""
    for _ in range(max(1, power_iters)):
        Qy = _orth(Rs @ A1)  # m x r
        Y2 = Rs.T @ Qy  # n x r
        A1 = Y2
    return Qy, Y2


def _iterate(W: torch.Tensor, Dinv: torch.Tensor, sel: _SparseSelect, r: int, iters: int, H: torch.Tensor | None,
             seed: int, power_iters: int) -> tuple:
    """The T alternating steps with rejection and keep-best (module docstring). Returns
    (Ut, Vt, mask) of the solution (L^ = Ut Vt, S's support) and (best step, rejected steps,
    proxy trace, exact trace, best trace)."""
    m, n = W.shape
    Wh = sel.Wh
    # State: mask (support of S^), Rs = W^ - S^ (the low-rank step's input), cur = the proxy
    # ||W^ - L^ - S^||_F of the accepted iterate.  Initially L^ = 0 and S^ = W^ on the
    # preserved entries.
    mask = sel.pmask.clone()
    Rs = Wh.masked_fill(mask, 0.0)
    Ut = W.new_zeros(m, r)  # accepted L^ = Ut Vt
    Vt = W.new_zeros(r, n)
    cur = _norm(Rs)
    proxy_trace, exact_trace, best_trace, rejected = [cur], [], [], 0
    best = None  # (exact loss, step, Ut, Vt, mask) over iterates t >= 1 (init is under budget)
    if H is not None:
        exact_trace.append(exact_loss(W.masked_fill(mask, 0.0), H))
    iters_eff = 1 if r == 0 else iters  # rank 0: one sparse step is the whole algorithm
    g = torch.Generator(device="cpu").manual_seed(seed)
    A1 = torch.randn(n, max(r, 1), generator=g)[:, :r].to(W.device) if r else None
    # Buffers reused across steps (fresh matrix-sized tensors every step cost more in page
    # faults than the passes that fill them): Rh = W^ - L'^ and the rejected/previous state.
    Rh = torch.empty_like(Wh) if r else Wh
    spare = None
    for t in range(1, iters_eff + 1):
        if r:
            Qy, Y2 = _low_rank_step(Rs, A1, power_iters)
            A1 = Y2
            torch.addmm(Wh, Qy, Y2.T, alpha=-1.0, out=Rh)  # W^ - L'
        # (b) sparse step on the scaled low-rank residual
        new_mask, new_Rs, cand = sel.step(Rh, spare)
        if cand <= cur:
            spare = (mask, Rs)
            mask, Rs, cur = new_mask, new_Rs, cand
            if r:
                Ut, Vt = Qy, Y2.T
        else:
            rejected += 1
            spare = (new_mask, new_Rs)
        proxy_trace.append(cur)
        if H is not None:  # E = W - U V - S is W - U V off the mask, 0 on it
            e = exact_loss(torch.addmm(W, Ut, Vt * Dinv, alpha=-1.0).masked_fill_(mask, 0.0), H)
            exact_trace.append(e)
            if best is None or e < best[0]:
                best = (e, t, Ut, Vt, mask.clone())
            best_trace.append(best[0])
    del Rh, Rs, spare
    best_step = iters_eff
    if best is not None:
        _, best_step, Ut, Vt, mask = best
    return Ut, Vt, mask, (best_step, rejected, proxy_trace, exact_trace, best_trace)


def sslc_decompose(W: torch.Tensor, act_norm: torch.Tensor, budget: Budget, *, iters: int = 40,
                   pattern: tuple[int, int] | None = None, metric: str = "salience",
                   scope: str = "matrix", H: torch.Tensor | None = None, seed: int = 0,
                   power_iters: int = 1) -> Decomposition:
    """Decompose W into S + U V under `budget` (see module docstring).

    The iteration runs in the scaled space W^ = W D (D = diag(||X||_2)), where the salience
    of an entry is simply its square and the proxy loss is a plain Frobenius norm; S and L
    are scaled back by D^-1 at the end (Eq. 8).
    """
    if metric not in ("salience", "wanda", "magnitude"):
        raise InputError(f"--sparse-metric: expected salience|wanda|magnitude, got {metric!r}")
    W = W.detach().float()
    n = W.shape[1]
    D = act_norm.detach().float().reshape(1, n).to(W.device)
    Dinv = torch.where(D > 0, 1.0 / D.clamp_min(1e-30), torch.zeros_like(D))
    sel = _sparse_select(W * D, Dinv, budget, pattern, metric, scope, seed)  # W^ = W D: salience = W^2
    Ut, Vt, mask, (best_step, rejected, proxy_trace, exact_trace, best_trace) = _iterate(
        W, Dinv, sel, budget.rank, iters, H, seed, power_iters)
    U = Ut.contiguous()
    V = (Vt * Dinv).contiguous()
    S = torch.addmm(W, U, V, alpha=-1.0).masked_fill_(~mask, 0.0)  # = S^ D^-1 where D > 0
    return Decomposition(U=U, V=V, S=S, mask=mask, preserved=int(mask.view(-1)[sel.pidx].sum()),
                         proxy_trace=proxy_trace, exact_trace=exact_trace, best_trace=best_trace,
                         best_step=best_step, rejected=rejected)
