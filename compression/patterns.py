"""Sparsity patterns: exact-count masks (unstructured and N:M).

Every mask here keeps EXACTLY the requested number of entries, also when scores tie
(dequantised 4-bit weights tie a lot): selection is by index (top-k with ties broken
towards the lower flat index), never by comparing against a threshold alone.
"""

from __future__ import annotations

import math

import torch

from workloads.errors import InputError

_EXACT_LIMIT = 1 << 16  # below this many elements, select with one stable sort


def parse_pattern(pattern: str) -> tuple[int, int] | None:
    """'unstructured' -> None; 'N:M' -> (N, M) with 0 < N < M."""
    if pattern in (None, "", "unstructured"):
        return None
    try:
        n_s, m_s = pattern.split(":")
        n, m = int(n_s), int(m_s)
    except ValueError:
        raise InputError(f"--pattern: expected 'unstructured' or 'N:M' (e.g. 2:4), got {pattern!r}") from None
    if not (0 < n < m):
        raise InputError(f"--pattern: expected 0 < N < M in N:M, got {pattern!r}")
    return n, m


def split_counts(total: int, weights: list[int]) -> list[int]:
    """Split an integer total over parts proportionally to weights (largest remainder, exact sum)."""
    wsum = sum(weights)
    if wsum <= 0:
        return [0] * len(weights)
    raw = [total * w / wsum for w in weights]
    base = [min(int(math.floor(r)), w) for r, w in zip(raw, weights)]
    rest = total - sum(base)
    order = sorted(range(len(weights)), key=lambda i: (-(raw[i] - base[i]), i))
    for i in order:
        if rest <= 0:
            break
        if base[i] < weights[i]:
            base[i] += 1
            rest -= 1
    if rest:
        raise ValueError(f"cannot place {total} entries in parts of sizes {weights}")
    return base


def _stable_top_indices(values: torch.Tensor, k: int) -> torch.Tensor:
    """Indices of the k largest values; ties go to the lower index (stable descending sort)."""
    return torch.sort(values, descending=True, stable=True).indices[:k]


def topk_mask(scores: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """Boolean mask (shape of scores) with exactly k True entries at the k highest scores.

    Large inputs avoid a full sort: a seeded sample brackets the k-th value, entries above
    the bracket are taken, and only the (small) band inside it is sorted stably.  If the
    bracket misses (it practically never does) the exact kthvalue path runs instead.
    """
    flat = scores.reshape(-1)
    N = flat.numel()
    k = int(k)
    mask = torch.zeros(N, dtype=torch.bool, device=flat.device)
    if k <= 0:
        return mask.view(scores.shape)
    if k >= N:
        mask.fill_(True)
        return mask.view(scores.shape)
    if N <= _EXACT_LIMIT:
        mask[_stable_top_indices(flat, k)] = True
        return mask.view(scores.shape)
    ns = min(N // 4, 1 << 18)
    g = torch.Generator(device="cpu").manual_seed(seed * 1000003 + N * 31 + k)
    sample = flat[torch.randint(N, (ns,), generator=g).to(flat.device)]
    sample = torch.sort(sample, descending=True).values
    q = k / N
    se = 4.5 * math.sqrt(q * (1 - q) / ns) + 4.0 / ns  # ~4.5 sigma bracket; misses fall back
    hi = sample[max(0, min(ns - 1, int((q - se) * ns)))]
    lo = sample[max(0, min(ns - 1, int(math.ceil((q + se) * ns))))]
    above = flat > hi
    n_above = int(above.count_nonzero())
    need = k - n_above
    if need >= 0:
        band = torch.logical_xor(flat >= lo, above).nonzero().squeeze(1)  # lo <= x <= hi
        if need <= band.numel():
            mask = above
            if need:
                mask[band[_stable_top_indices(flat[band], need)]] = True
            return mask.view(scores.shape)
    # exact fallback: everything strictly above the k-th value, then ties by index
    kth = torch.kthvalue(flat.float().cpu(), N - k + 1).values.to(flat.device)
    mask = flat > kth
    need = k - int(mask.sum())
    ties = (flat == kth).nonzero().squeeze(1)[:need]
    mask[ties] = True
    return mask.view(scores.shape)


def row_topk_mask(scores: torch.Tensor, total: int, available: list[int] | None = None) -> torch.Tensor:
    """Per-output-row selection (Wanda's comparison group) with exactly `total` entries overall.

    Rows get floor/ceil(total / m) entries (largest remainder, lower rows first), or, with
    `available` (selectable entries per row), shares proportional to it and never above it.
    """
    m, n = scores.shape
    weights = [n] * m if available is None else [int(a) for a in available]
    counts = torch.tensor(split_counts(int(total), weights), dtype=torch.long, device=scores.device)
    kmax = int(counts.max()) if m else 0
    mask = torch.zeros_like(scores, dtype=torch.bool)
    if kmax == 0:
        return mask
    # stable descending sort per row => ties by lower column index
    if kmax >= n:
        idx = torch.arange(n, device=scores.device).expand(m, n)
    else:
        idx = torch.sort(scores, dim=1, descending=True, stable=True).indices[:, :kmax]
    keep = torch.arange(idx.shape[1], device=scores.device).unsqueeze(0) < counts.unsqueeze(1)
    mask.scatter_(1, idx, keep)
    return mask


def nm_mask(scores: torch.Tensor, n_keep: int, m_group: int) -> torch.Tensor:
    """N:M mask along the input dimension: in every row, each group of M consecutive
    columns keeps exactly N (ties by lower column)."""
    rows, cols = scores.shape
    if cols % m_group:
        raise InputError(f"pattern {n_keep}:{m_group}: input size {cols} is not a multiple of {m_group}")
    grouped = scores.reshape(rows, cols // m_group, m_group)
    idx = torch.sort(grouped, dim=2, descending=True, stable=True).indices[:, :, :n_keep]
    mask = torch.zeros_like(grouped, dtype=torch.bool)
    mask.scatter_(2, idx, True)
    return mask.reshape(rows, cols)


def select(scores: torch.Tensor, count: int, pattern: tuple[int, int] | None, scope: str = "matrix",
           seed: int = 0) -> torch.Tensor:
    """Keep-mask for a score matrix: N:M if `pattern`, else `count` entries matrix-wide or per row."""
    if pattern is not None:
        return nm_mask(scores, *pattern)
    if scope == "row":
        return row_topk_mask(scores, count)
    return topk_mask(scores, count, seed=seed)
