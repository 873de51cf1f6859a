"""Non-zero statistics of a sparse part S (m x n), at the tile granularity the simulator asks for.

Two sources with one interface:
- `SyntheticMask`: shape-only, seeded. Statistics are drawn directly, never a materialised
  mask (a 7B model has 6.5e9 entries). Entries of column j are kept independently with
  probability pi_j: uniform (pi_j = d), Wanda-like (pi_j from heavy-tailed, log-normal column
  importance, capped at 1) and N:M (pi_j = N/M). The count of a (row block, column) pair is
  then Binomial(rows, pi_j): drawn exactly from its CDF table. Row totals for row-oriented
  engines: every row keeps its exact share of the budget (per-row exact density)
  for Wanda-like and N:M (uniform rows are Binomial(n, d)); only their split across column
  blocks is drawn (conditional binomials, in proportion to the blocks' expected mass), an
  approximation of the joint law, stated in docs/model.md.
- `CsrMask`: a real mask (CSR indptr/indices), every statistic counted exactly from the
  indices without densifying S.

Column order: with a column split (ViTCoD), kept columns are processed in decreasing
non-zero count; `column_order` returns that permutation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

_IMPORTANCE_SIGMA = 1.0  # log-normal sigma of the Wanda-like column importance


@njit(cache=True)
def _binom_cdf(n: int, p: float) -> np.ndarray:
    """CDF of Binomial(n, p) by the pmf recurrence, in log space for stability."""
    cdf = np.empty(n + 1)
    if p <= 0.0:
        cdf[:] = 1.0
        return cdf
    if p >= 1.0:
        cdf[:] = 0.0
        cdf[n] = 1.0
        return cdf
    lp, lq = np.log(p), np.log1p(-p)
    logpmf = n * lq
    total = 0.0
    for k in range(n + 1):
        if k > 0:
            logpmf += np.log((n - k + 1) / k) + lp - lq
        total += np.exp(logpmf)
        cdf[k] = total
    for k in range(n + 1):
        cdf[k] /= total
    return cdf


@njit(cache=True)
def _draw(cdf: np.ndarray) -> int:
    return np.searchsorted(cdf, np.random.random(), side="right") if cdf[-1] > 0 else 0


@njit(cache=True)
def _column_block_counts(pi: np.ndarray, m: int, tm: int, seed: int) -> np.ndarray:
    """counts[b, j] ~ Binomial(rows of block b, pi_j), independent; shape (ceil(m/tm), n)."""
    np.random.seed(seed)
    n = pi.shape[0]
    nrb = -(-m // tm)
    last = m - (nrb - 1) * tm
    out = np.zeros((nrb, n), np.int32)
    for j in range(n):
        full = _binom_cdf(tm, pi[j])
        edge = full if last == tm else _binom_cdf(last, pi[j])
        for b in range(nrb):
            cdf = edge if b == nrb - 1 else full
            x = np.searchsorted(cdf, np.random.random(), side="right")
            out[b, j] = min(x, cdf.shape[0] - 1)
    return out


@njit(cache=True)
def _row_block_counts(row_total: np.ndarray, block_mass: np.ndarray, block_width: np.ndarray, seed: int) -> np.ndarray:
    """Split each row's exact total over column blocks: sequential conditional binomials with
    probability mass_b / remaining mass, capped by the block width and the remainder."""
    np.random.seed(seed)
    m = row_total.shape[0]
    ncb = block_mass.shape[0]
    out = np.zeros((ncb, m), np.int32)
    for r in range(m):
        left = row_total[r]
        mass_left = block_mass.sum()
        width_left = block_width.sum()
        for b in range(ncb):
            if left == 0:
                break
            width_left -= block_width[b]
            if b == ncb - 1 or mass_left <= 0:
                x = left
            else:
                p = min(1.0, block_mass[b] / mass_left)
                x = np.random.binomial(left, p)
            # keep the remainder placeable in the blocks that follow
            x = max(x, left - width_left)
            x = min(x, block_width[b], left)
            out[b, r] = x
            left -= x
            mass_left -= block_mass[b]
    return out


@njit(cache=True)
def _csr_column_block_counts(indptr: np.ndarray, indices: np.ndarray, m: int, n: int, tm: int) -> np.ndarray:
    nrb = -(-m // tm)
    out = np.zeros((nrb, n), np.int32)
    for r in range(m):
        b = r // tm
        for p in range(indptr[r], indptr[r + 1]):
            out[b, indices[p]] += 1
    return out


@njit(cache=True)
def _csr_row_block_counts(indptr: np.ndarray, indices: np.ndarray, m: int, position: np.ndarray, tk: int, ncb: int) -> np.ndarray:
    """position[c] = place of column c in the processing order, or -1 if not sparse-engine work."""
    out = np.zeros((ncb, m), np.int32)
    for r in range(m):
        for p in range(indptr[r], indptr[r + 1]):
            pos = position[indices[p]]
            if pos >= 0:
                out[pos // tk, r] += 1
    return out


@dataclass
class CsrMask:
    """The mask of a real S in CSR (rows = m outputs, indices = input columns)."""

    m: int
    n: int
    indptr: np.ndarray
    indices: np.ndarray

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def column_counts(self) -> np.ndarray:
        return np.bincount(self.indices, minlength=self.n).astype(np.int64)

    def row_counts(self) -> np.ndarray:
        return np.diff(self.indptr).astype(np.int64)

    def column_block_counts(self, tm: int) -> np.ndarray:
        return _csr_column_block_counts(self.indptr.astype(np.int64), self.indices.astype(np.int64), self.m, self.n, tm)

    def row_block_counts(self, order: np.ndarray, tk: int) -> np.ndarray:
        position = np.full(self.n, -1, np.int64)
        position[order] = np.arange(order.shape[0])
        ncb = max(1, -(-order.shape[0] // tk))
        return _csr_row_block_counts(self.indptr.astype(np.int64), self.indices.astype(np.int64), self.m, position, tk, ncb)

    @classmethod
    def from_dense(cls, mask: np.ndarray) -> "CsrMask":
        mask = np.asarray(mask, bool)
        rows, cols = np.nonzero(mask)
        indptr = np.zeros(mask.shape[0] + 1, np.int64)
        np.cumsum(np.bincount(rows, minlength=mask.shape[0]), out=indptr[1:])
        return cls(mask.shape[0], mask.shape[1], indptr, cols.astype(np.int64))


@dataclass
class SyntheticMask:
    """A seeded shape-only mask model with `nnz` non-zeros in expectation (exactly, per row)."""

    m: int
    n: int
    nnz: int
    generator: str  # uniform | wanda-like | nm
    seed: int
    nm: tuple[int, int] | None = None
    _pi: np.ndarray | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self.generator not in ("uniform", "wanda-like", "nm"):
            raise ValueError(f"unknown generator {self.generator}")

    @property
    def pi(self) -> np.ndarray:
        """Keep probability of each column."""
        if self._pi is None:
            d = self.nnz / (self.m * self.n)
            if self.generator == "nm" and self.nm is not None:
                self._pi = np.full(self.n, self.nm[0] / self.nm[1])
            elif self.generator == "uniform" or d >= 1.0 or d <= 0.0:
                self._pi = np.full(self.n, min(max(d, 0.0), 1.0))
            else:
                rng = np.random.default_rng([self.seed, 0x5EED])
                w = rng.lognormal(0.0, _IMPORTANCE_SIGMA, self.n)
                lo, hi = 0.0, d * self.n / w.min()
                for _ in range(100):  # bisection: sum_j min(1, c w_j) = d n
                    c = 0.5 * (lo + hi)
                    if np.minimum(1.0, c * w).sum() < d * self.n:
                        lo = c
                    else:
                        hi = c
                self._pi = np.minimum(1.0, hi * w)
        return self._pi

    def row_counts(self) -> np.ndarray:
        """Per-row totals. Wanda-like and N:M: exact (the first nnz mod m rows keep one more).
        Uniform: iid entries, so each row is Binomial(n, d)."""
        if self.generator == "uniform":
            rng = np.random.default_rng([self.seed, 0xB0B])
            return rng.binomial(self.n, min(max(self.nnz / (self.m * self.n), 0.0), 1.0), self.m).astype(np.int64)
        base, extra = divmod(self.nnz, self.m)
        counts = np.full(self.m, base, np.int64)
        counts[:extra] += 1
        return counts

    def column_counts(self) -> np.ndarray:
        """Expected-order column counts used to split and order columns (realised for column units)."""
        return np.rint(self.pi * self.m).astype(np.int64)

    def column_block_counts(self, tm: int) -> np.ndarray:
        return _column_block_counts(self.pi, self.m, tm, self.seed)

    def row_block_counts(self, order: np.ndarray, tk: int) -> np.ndarray:
        ncb = max(1, -(-order.shape[0] // tk))
        mass = np.zeros(ncb)
        width = np.zeros(ncb, np.int64)
        np.add.at(mass, np.arange(order.shape[0]) // tk, self.pi[order])
        np.add.at(width, np.arange(order.shape[0]) // tk, 1)
        kept_share = self.pi[order].sum() / max(self.pi.sum(), 1e-300)
        totals = self.row_counts()
        if order.shape[0] < self.n:  # columns moved to the denser engine take their share
            totals = np.minimum(np.rint(totals * kept_share).astype(np.int64), order.shape[0])
        return _row_block_counts(totals, mass, width, self.seed + 1)


def column_order(counts: np.ndarray, m: int, threshold: float, reorder: bool) -> tuple[np.ndarray, np.ndarray]:
    """(dense columns, sparse columns in processing order).

    A column is dense when its density count/m exceeds the threshold; sparse columns are
    processed in decreasing count (stable) when `reorder` (ViTCoD), else in index order.
    """
    is_dense = counts > threshold * m
    dense = np.nonzero(is_dense)[0]
    sparse = np.nonzero(~is_dense)[0]
    if reorder:
        sparse = sparse[np.argsort(-counts[sparse], kind="stable")]
    return dense, sparse
