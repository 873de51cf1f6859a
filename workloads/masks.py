"""Non-zero statistics of a sparse part S (m x n), at the tile granularity the simulator asks for.

Two sources with one interface:
- `SyntheticMask`: shape-only, seeded. Statistics are drawn directly, never a materialised
  mask (a 7B model has 6.5e9 entries). Entries of column j are kept independently with
  probability pi_j: uniform (pi_j = d), Wanda-like (pi_j from heavy-tailed, log-normal column
  importance, capped at 1) and N:M (pi_j = N/M). The count of a (row block, column) pair is
  then Binomial(rows, pi_j): drawn exactly from its CDF table. Row totals for row-oriented
  engines: every row keeps its exact share of the budget (per-row exact density)
  for Wanda-like and N:M (uniform rows are Binomial(n, d)) when a tile spans whole rows;
  split over several column blocks, a row's count in a block is drawn exactly from that
  block's Poisson-binomial law (independent Bernoulli(pi_j) entries), so its total is exact
  in expectation only: docs/model.md states it.
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


@njit(cache=True, inline="always")
def _xorshift(x: np.uint64) -> np.uint64:
    """xorshift64* state step (the state never becomes 0)."""
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    return x


@njit(cache=True, inline="always")
def _uniform(x: np.uint64) -> float:
    """xorshift64*'s output of state x: a uniform double in [0, 1)."""
    return float((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(11)) * (1.0 / 9007199254740992.0)


@njit(cache=True)
def _rng_next(state: np.ndarray) -> float:
    """xorshift64* step; a uniform double in [0, 1). state: one uint64, updated in place.
    (The samplers' loops keep the state in a local instead: _xorshift, _uniform.)"""
    state[0] = _xorshift(state[0])
    return _uniform(state[0])


@njit(cache=True)
def _rng(seed: int) -> np.ndarray:
    state = np.empty(1, np.uint64)
    state[0] = np.uint64(seed) * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x632BE59BD9B4E019)
    if state[0] == 0:
        state[0] = np.uint64(1)
    for _ in range(4):
        _rng_next(state)
    return state


@njit(cache=True)
def _guide(cdf: np.ndarray, size: int = 0) -> np.ndarray:
    """guide[i] = first k with cdf[k] > i / len(guide): inverse-CDF lookup in O(1) expected.

    `size` (default len(cdf)): a table several times longer than the CDF leaves the
    sampler's search loop almost always empty, so its branch predicts well; worth it when
    many draws share one CDF."""
    g = max(size, cdf.shape[0])
    top = cdf.shape[0] - 1
    guide = np.empty(g, np.int64)
    k = 0
    for i in range(g):
        while k < top and cdf[k] <= i / g:
            k += 1
        guide[i] = k
    return guide


@njit(cache=True)
def _sample(cdf: np.ndarray, guide: np.ndarray, u: float) -> int:
    k = guide[int(u * guide.shape[0])]
    top = cdf.shape[0] - 1
    while k < top and cdf[k] <= u:
        k += 1
    return k


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
def _column_block_counts(pi: np.ndarray, m: int, tm: int, seed: int) -> np.ndarray:
    """counts[b, j] ~ Binomial(rows of block b, pi_j), independent; shape (ceil(m/tm), n)."""
    x = _rng(seed)[0]  # the generator's state, kept in a register (the stores to `out` may not alias it)
    n = pi.shape[0]
    nrb = -(-m // tm)
    last = m - (nrb - 1) * tm
    out = np.zeros((nrb, n), np.int32)
    for j in range(n):
        full = _binom_cdf(tm, pi[j])
        gfull = _guide(full)
        edge, gedge = full, gfull
        if last != tm:
            edge = _binom_cdf(last, pi[j])
            gedge = _guide(edge)
        for b in range(nrb):
            x = _xorshift(x)
            if b == nrb - 1:
                out[b, j] = _sample(edge, gedge, _uniform(x))
            else:
                out[b, j] = _sample(full, gfull, _uniform(x))
    return out


@njit(cache=True)
def _poisson_binomial_cdf(p: np.ndarray) -> np.ndarray:
    """CDF of a sum of independent Bernoulli(p_j) (dynamic programming, O(len(p)^2))."""
    n = p.shape[0]
    pmf = np.zeros(n + 1)
    pmf[0] = 1.0
    for j in range(n):
        q = p[j]
        for k in range(j + 1, 0, -1):
            pmf[k] = pmf[k] * (1.0 - q) + pmf[k - 1] * q
        pmf[0] *= 1.0 - q
    cdf = np.cumsum(pmf)
    return cdf / cdf[-1]


@njit(cache=True)
def _row_block_counts(pi_ordered: np.ndarray, m: int, tk: int, seed: int) -> np.ndarray:
    """counts[b, r] = sum over the columns j of block b of Bernoulli(pi_j), independent per
    row: drawn exactly from the block's Poisson-binomial CDF."""
    x = _rng(seed)[0]  # the generator's state, kept in a register
    n = pi_ordered.shape[0]
    ncb = -(-n // tk)
    out = np.zeros((ncb, m), np.int32)
    for b in range(ncb):
        cdf = _poisson_binomial_cdf(pi_ordered[b * tk:min(n, (b + 1) * tk)])
        guide = _guide(cdf, 1024)  # m draws share it
        for r in range(m):
            x = _xorshift(x)
            out[b, r] = _sample(cdf, guide, _uniform(x))
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


@njit(cache=True)
def _csr_nm_fits(indptr: np.ndarray, indices: np.ndarray, n: int, m: int, groups: int) -> bool:
    """Whether every row keeps at most n entries in each group of m consecutive columns."""
    count = np.zeros(groups, np.int64)
    for r in range(indptr.shape[0] - 1):
        for p in range(indptr[r], indptr[r + 1]):
            g = indices[p] // m
            count[g] += 1
            if count[g] > n:
                return False
        for p in range(indptr[r], indptr[r + 1]):
            count[indices[p] // m] = 0
    return True


@dataclass
class CsrMask:
    """The mask of a real S in CSR (rows = m outputs, indices = input columns)."""

    m: int
    n: int
    indptr: np.ndarray
    indices: np.ndarray

    def __post_init__(self) -> None:
        # artifacts store unsigned indices sized to n; the kernels want one integer type
        self.indptr = np.asarray(self.indptr, np.int64)
        self.indices = np.asarray(self.indices, np.int64)

    @property
    def nnz(self) -> int:
        return int(self.indptr[-1])

    def column_counts(self) -> np.ndarray:
        return np.bincount(self.indices, minlength=self.n).astype(np.int64)

    def nm_fits(self, n: int, m: int) -> bool:
        """Whether the mask is n:m structured along its columns (the reduction): every row keeps
        at most n entries in each group of m consecutive columns (the last group: the rest),
        checked exactly, group by group."""
        return bool(_csr_nm_fits(self.indptr, self.indices, n, m, max(1, -(-self.n // m))))

    def row_counts(self) -> np.ndarray:
        return np.diff(self.indptr).astype(np.int64)

    def column_block_counts(self, tm: int) -> np.ndarray:
        return _csr_column_block_counts(self.indptr, self.indices, self.m, self.n, tm)

    def row_block_counts(self, order: np.ndarray, tk: int) -> np.ndarray:
        position = np.full(self.n, -1, np.int64)
        position[order] = np.arange(order.shape[0])
        ncb = max(1, -(-order.shape[0] // tk))
        return _csr_row_block_counts(self.indptr, self.indices, self.m, position, tk, ncb)

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
                self._pi = capped_probabilities(rng.lognormal(0.0, _IMPORTANCE_SIGMA, self.n), d * self.n)
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

    def nm_fits(self, n: int, m: int) -> bool:
        """Whether the mask is n:m structured along its columns: only an N':M' mask is
        (generator nm), and it keeps at most n of every group of m when the groups align:
        m a multiple of M' (N' m / M' <= n) or M' a multiple of m (min(N', m) <= n)."""
        if self.generator != "nm" or self.nm is None:
            return False
        n2, m2 = self.nm
        if m % m2 == 0:
            return n2 * (m // m2) <= n
        return m2 % m == 0 and min(n2, m) <= n

    def column_counts(self) -> np.ndarray:
        """Expected-order column counts used to split and order columns (realised for column units)."""
        return np.rint(self.pi * self.m).astype(np.int64)

    def column_block_counts(self, tm: int) -> np.ndarray:
        return _column_block_counts(self.pi, self.m, tm, self.seed)

    def row_block_counts(self, order: np.ndarray, tk: int) -> np.ndarray:
        """Per-row counts over the sparse columns in `order`, by column block of width tk.

        One block spanning every column: the row totals themselves (exact per row for
        Wanda-like and N:M). Several blocks: independent Poisson-binomial draws per block,
        so a row's total is exact only in expectation (see docs/model.md).
        """
        if order.shape[0] == self.n and tk >= self.n:
            return self.row_counts().astype(np.int32)[None, :]
        return _row_block_counts(self.pi[order], self.m, tk, self.seed + 1)


def capped_probabilities(w: np.ndarray, target: float) -> np.ndarray:
    """pi_j = min(1, c w_j) with sum_j pi_j = target (0 < target <= len(w)).

    The sum is piecewise linear and increasing in c; from c = target / sum(w) (no cap, a
    lower bound) the step c <- (target - #capped) / sum(uncapped w) never overshoots and
    stops when the capped set stops growing, where the sum is exact.
    """
    c = target / w.sum()
    capped = w * c >= 1.0
    while True:
        free = w[~capped].sum()
        c = (target - capped.sum()) / free if free > 0 else np.inf
        grown = w * c >= 1.0
        if (grown == capped).all():
            return np.minimum(1.0, c * w)
        capped = grown


def column_order(counts: np.ndarray, m: int, threshold: float, reorder: bool) -> tuple[np.ndarray, np.ndarray]:
    """(dense columns, sparse columns in processing order).

    A column is dense when its density count/m exceeds the threshold; sparse columns are
    processed in decreasing count (stable) when `reorder` (ViTCoD), else in index order.
    """
    is_dense = counts > threshold * m
    dense = np.nonzero(is_dense)[0]
    sparse = np.nonzero(~is_dense)[0]
    if reorder:
        key = -counts[sparse]
        if key.size and -key.max() >= 0 and -key.min() < 1 << 15:  # 16 bits hold every key: numpy's stable
            key = key.astype(np.int16)  # sort is then a radix sort (the same order, ~10x faster)
        sparse = sparse[np.argsort(key, kind="stable")]
    return dense, sparse
