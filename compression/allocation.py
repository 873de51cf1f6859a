"""How a model's kept budget is shared across its projections (and, within one, between the
sparse part and the low-rank part).

With owl and global the total is exact: kept(S) + sum r (m + n) over all projections =
round(ratio x sum m n) (with an N:M pattern S is fixed at N/M and the low-rank parts take
what is left, up to less than one rank unit, m + n entries, of the smallest projection).

- uniform: every projection keeps its own `ratio` (the SSLC paper); its budgets are the
  methods' own per-matrix ones (methods.budget_for), not re-split here.
- owl: Outlier-Weighted Layerwise sparsity (Yin et al. 2024): a layer's outlier ratio D_l
  is the fraction of its entries whose Wanda score |W_ij| ||X_j|| exceeds M times the mean
  score of its projection; kept ratios are D mapped linearly onto a range of width 2 lambda
  centred on `ratio` (more outliers, more kept; M = 5, lambda = 0.08 as OWL's defaults).
- global: measured error curves and a Lagrangian allocation. Stage 1 (per projection, on
  the dense model's calibration inputs, in SSLC's scaled space W D, D = diag(||X||_2)): one
  SVD of W D spans the low-rank candidates; for each candidate rank r (shares 0, 1/16, 1/8,
  1/4, 1/2 of the projection's uniform budget) the residual W D - L_r, sorted once by
  salience (SSLC's choice), gives the loss of keeping its largest entries as S for every
  sparse count at once. Each dropped entry (k, j) costs F_k (R_kj D_j)^2, F_k the
  projection's output-channel Fisher weight (`sensitivity.py`): the curve estimates how
  much the model's calibration next-token loss rises, not a layer's own error, so the
  curves of different layers are on one scale. Two earlier objectives failed on
  SmolLM2-135M at 0.5 (uniform 23.22): the unweighted layer loss moved the budget to the
  last layers, whose activations are largest (987.65), and the same loss relative to
  ||W D||_F^2 starved the first layers' q and o (35.82). Candidates: kept = f x ratio x m n
  for f in KEPT_MULTIPLIERS, split as r (m + n) + nnz(S). Stage 2 chooses one candidate
  per projection minimising the summed loss subject to sum kept <= budget (lambda
  bisection: each projection takes argmin e_j + lambda kept_j), then hands what is left to
  the chosen sparse parts in proportion to their size, so the total is exact. This is a
  deterministic stand-in for the probabilistic global allocation of Zhou et al. 2025 (CAP:
  RPCA subspaces, then Bernoulli keep probabilities trained by policy gradient on the
  calibration loss): the same two stages and the same objective (the calibration loss of
  the whole model), the policy replaced by an exact optimiser of its separable
  second-order estimate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch

from compression import patterns
from workloads.errors import InputError

ALLOCATIONS = ("uniform", "owl", "global")
OWL_M, OWL_LAMBDA = 5.0, 0.08
KEPT_MULTIPLIERS = (0.5, 0.625, 0.75, 0.875, 1.0, 1.125, 1.25, 1.375, 1.5)
RANK_SHARES = (0.0, 0.0625, 0.125, 0.25, 0.5)


@dataclass(frozen=True)
class Share:
    """One projection's allocation: entries kept in all (S + U V) and its rank."""

    kept: int
    rank: int


def exact_split(total: int, weights: list[float], caps: list[int]) -> list[int]:
    """Integers proportional to `weights`, each <= its cap, summing to `total` (largest
    remainder; what capped entries cannot take goes to the others, evenly once their
    weights are all zero)."""
    if total > sum(caps):
        raise InputError(f"budget: {total} entries do not fit the projections ({sum(caps)} in all)")
    out = [0] * len(weights)
    left = total
    active = [i for i, c in enumerate(caps) if c > 0]
    while left > 0:
        w = sum(weights[i] for i in active)
        raw = {i: left * (weights[i] / w if w > 0 else 1.0 / len(active)) for i in active}
        for i in active:
            a = min(caps[i] - out[i], int(math.floor(raw[i])))
            out[i] += a
            left -= a
        for i in sorted(active, key=lambda i: (-(raw[i] - math.floor(raw[i])), i)):
            if left == 0:
                break
            if out[i] < caps[i] and raw[i] > 0:
                out[i] += 1
                left -= 1
        active = [i for i in active if out[i] < caps[i]]
    return out


def owl_ratios(outlier_ratios: list[float], ratio: float, lam: float = OWL_LAMBDA) -> list[float]:
    """Per-layer kept ratios: outlier ratios mapped onto [ratio - lam, ratio + lam], mean `ratio`."""
    lo, hi = min(outlier_ratios), max(outlier_ratios)
    if hi == lo:
        return [ratio] * len(outlier_ratios)
    mapped = [(d - lo) / (hi - lo) * 2 * lam for d in outlier_ratios]
    mean = sum(mapped) / len(mapped)
    return [min(1.0, max(0.0, x - mean + ratio)) for x in mapped]


def outlier_ratio(W: torch.Tensor, act_norm: torch.Tensor, m_factor: float = OWL_M) -> tuple[int, int]:
    """(entries whose Wanda score exceeds m_factor x the mean score, entries)."""
    score = W.abs().float() * act_norm.float().reshape(1, -1)
    return int((score > m_factor * score.mean()).sum()), score.numel()


def candidate_ranks(m: int, n: int, ratio: float, split: bool = True) -> list[int]:
    """Stage 1's ranks: shares RANK_SHARES of the projection's uniform budget (split methods),
    or rank 0 alone (pure pruning: only the sparse budget moves)."""
    if not split:
        return [0]
    base = ratio * m * n
    return sorted({min(min(m, n), int(s * base // (m + n))) for s in RANK_SHARES})


def candidates(m: int, n: int, ratio: float, pattern: tuple[int, int] | None, split: bool = True) -> list[Share]:
    """Every (kept, rank) candidate of an m x n projection, in `error_curve`'s order: per rank,
    kept = round(f ratio m n) for f in KEPT_MULTIPLIERS (those whose sparse part fits), or with
    an N:M pattern the pattern's fixed S plus the rank."""
    base = ratio * m * n
    out = []
    for r in candidate_ranks(m, n, ratio, split):
        if pattern is not None:
            out.append(Share(m * n * pattern[0] // pattern[1] + r * (m + n), r))
            continue
        for f in KEPT_MULTIPLIERS:
            nnz = int(round(f * base)) - r * (m + n)
            if 0 <= nnz <= m * n:
                out.append(Share(nnz + r * (m + n), r))
    return out


def error_curve(W: torch.Tensor, act_norm: torch.Tensor, ratio: float, pattern: tuple[int, int] | None,
                row_weight: torch.Tensor, split: bool = True,
                on_mask: Callable[[Share, np.ndarray], None] | None = None) -> list[tuple[Share, float]]:
    """Stage 1 for one projection: (candidate share, sum_k w_k ||(W - L_r - S)_k D||^2) for
    the row weights w (the output-channel Fisher weights; module docstring), for every
    candidate of `candidates`. `on_mask` (unstructured) sees each candidate's S mask (m x n
    bool: the kept entries of the salience order), e.g. to price it on a hardware."""
    W = W.detach().float()
    m, n = W.shape
    Wh = W * act_norm.detach().float().reshape(1, n)
    w = row_weight.detach().double().reshape(m, 1)
    cands = candidates(m, n, ratio, pattern, split)
    if split:
        U, sv, Vh = torch.linalg.svd(Wh, full_matrices=False)
    out = []
    for r in sorted({c.rank for c in cands}):
        R = Wh - (U[:, :r] * sv[:r]) @ Vh[:r] if r else Wh
        sq = R.square()
        cost = sq.double() * w  # what dropping each entry costs
        if pattern is not None:  # S fixed by the pattern: its best N:M entries of this residual
            keep = patterns.nm_mask(sq, *pattern)
            out.append((Share(m * n * pattern[0] // pattern[1] + r * (m + n), r), float(cost[~keep].sum())))
            continue
        order = torch.argsort(sq.reshape(-1), descending=True)
        kept_cost = cost.reshape(-1)[order].cumsum(0)
        total = float(kept_cost[-1])
        for c in (c for c in cands if c.rank == r):
            nnz = c.kept - r * (m + n)
            out.append((c, total - (float(kept_cost[nnz - 1]) if nnz else 0.0)))
            if on_mask is not None:
                mask = np.zeros(m * n, bool)
                mask[order[:nnz].numpy()] = True
                on_mask(c, mask.reshape(m, n))
    return out


def allocate_global(curves: list[list[tuple[Share, float]]], budget: int) -> list[Share]:
    """One candidate per projection minimising the summed loss with sum kept <= budget
    (lambda bisection), the rest of the budget then given to the chosen sparse parts."""
    def pick(lam: float) -> list[Share]:
        return [min(c, key=lambda sc: (sc[1] + lam * sc[0].kept, sc[0].kept))[0] for c in curves]

    smallest = sum(min(s.kept for s, _ in c) for c in curves)
    if smallest > budget:
        raise InputError(f"global allocation: even the smallest candidates keep {smallest} entries, "
                         f"more than the budget {budget}")
    lo, hi = 0.0, 1.0
    while sum(s.kept for s in pick(hi)) > budget:
        hi *= 2.0
    for _ in range(60):
        mid = (lo + hi) / 2
        if sum(s.kept for s in pick(mid)) > budget:
            lo = mid
        else:
            hi = mid
    return pick(hi)


def top_up(shares: list[Share], sizes: list[tuple[int, int]], budget: int,
           pattern: tuple[int, int] | None) -> list[Share]:
    """Adds what the shares leave of `budget`: to the sparse parts (unstructured), or as whole
    ranks (N:M, where S is fixed), so the total is exact (N:M: within one rank unit)."""
    left = budget - sum(s.kept for s in shares)
    if pattern is None:
        caps = [m * n - s.kept for s, (m, n) in zip(shares, sizes)]
        extra = exact_split(left, [float(s.kept - s.rank * (m + n)) for s, (m, n) in zip(shares, sizes)], caps)
        return [Share(s.kept + e, s.rank) for s, e in zip(shares, extra)]
    out = list(shares)
    for i in sorted(range(len(out)), key=lambda i: sum(sizes[i])):
        m, n = sizes[i]
        while left >= m + n and out[i].rank < min(m, n):
            out[i] = Share(out[i].kept + m + n, out[i].rank + 1)
            left -= m + n
    return out


def layer_shares(sizes: list[tuple[int, int]], layer_of: list[int], ratios: list[float],
                 rank_of: Callable[[int, int, int], int]) -> list[Share]:
    """Each projection keeps its layer's ratio, the total (sum over layers) made exact."""
    total = int(round(sum(ratios[layer_of[i]] * m * n for i, (m, n) in enumerate(sizes))))
    weights = [ratios[layer_of[i]] * m * n for i, (m, n) in enumerate(sizes)]
    kept = exact_split(total, weights, [m * n for m, n in sizes])
    return [Share(k, rank_of(m, n, k)) for k, (m, n) in zip(kept, sizes)]


def check_pattern(allocation: str, pattern: str) -> None:
    if allocation not in ALLOCATIONS:
        raise InputError(f"--allocation: expected one of {', '.join(ALLOCATIONS)}, got {allocation!r}")
    if allocation == "owl" and patterns.parse_pattern(pattern) is not None:
        raise InputError("--allocation owl: varies the sparsity per layer, which an N:M pattern fixes; "
                         "use --pattern unstructured")


def rank_rule(rank_share: float) -> Callable[[int, int, int], int]:
    """The default rank of a projection keeping `kept` entries: floor(share kept / (m + n))."""
    return lambda m, n, kept: min(min(m, n), int(rank_share * kept // (m + n)))


@dataclass
class Curves:
    """What stage 1 measured: per projection its key "<layer>.<projection>", shape, layer, and
    (global) its error curve; (owl) per layer (outlier entries, entries)."""

    keys: list[str]
    sizes: list[tuple[int, int]]
    layer_of: list[int]
    curves: list[list[tuple[Share, float]]]
    outliers: dict[int, tuple[int, int]]
    costs: list[dict[Share, float]] = field(default_factory=list)  # per projection, with a mask_cost


def measure(lm, chunks: list, ids: torch.Tensor, hp: dict, n_layers: int, split: bool = True,
            show_progress: bool = False,
            mask_cost: Callable[[int, int, int, np.ndarray], float] | None = None) -> Curves:
    """Stage 1 on the dense model (calibration inputs `chunks` of the token windows `ids`
    propagated through dense layers) for every projection of the first n_layers; `split`:
    whether candidates split the budget between S and U V (else rank 0 only); `mask_cost`
    (m, n, rank, S mask) -> cost prices every candidate on its own mask (Curves.costs)."""
    from tqdm import tqdm

    from compression import calibration, models, sensitivity

    allocation, ratio = hp["allocation"], float(hp["ratio"])
    pattern = patterns.parse_pattern(hp["pattern"])
    fisher = sensitivity.output_fisher(lm, chunks, ids, n_layers, show_progress) if allocation == "global" else {}
    out = Curves([], [], [], [], {})
    for i in tqdm(range(n_layers), desc=f"{allocation} allocation", disable=not show_progress, unit="layer"):
        with lm.layer(i) as layer:
            stats = calibration.collect_stats(layer, chunks)
            for name, lin in models.linear_projections(layer).items():
                W, st = lin.weight.detach().float(), stats[name]
                out.keys.append(f"{i}.{name}")
                out.sizes.append(tuple(W.shape))
                out.layer_of.append(i)
                if allocation == "owl":
                    hit, cnt = outlier_ratio(W, st.act_norm)
                    old = out.outliers.get(i, (0, 0))
                    out.outliers[i] = (old[0] + hit, old[1] + cnt)
                    continue
                priced: dict[Share, float] = {}

                def price(c: Share, mask: np.ndarray, priced: dict = priced, shape: tuple = tuple(W.shape)) -> None:
                    priced[c] = float(mask_cost(*shape, c.rank, mask))

                out.curves.append(error_curve(W, st.act_norm, ratio, pattern, fisher[f"{i}.{name}"], split,
                                              None if mask_cost is None else price))
                if mask_cost is not None:
                    out.costs.append(priced)
            chunks = calibration.layer_forward(layer, chunks)
    return out


def loss_only(c: Curves, hp: dict) -> list[Share]:
    """Stage 2 of owl or global (calibration loss only), the total kept exactly round(ratio sum m n)."""
    ratio = float(hp["ratio"])
    budget = int(round(ratio * sum(m * n for m, n in c.sizes)))
    if hp["allocation"] == "owl":
        n_layers = max(c.layer_of) + 1
        ratios = owl_ratios([c.outliers[i][0] / c.outliers[i][1] for i in range(n_layers)], ratio)
        return layer_shares(c.sizes, c.layer_of, ratios, rank_rule(float(hp.get("rank_share", 0.0))))
    return top_up(allocate_global(c.curves, budget), c.sizes, budget, patterns.parse_pattern(hp["pattern"]))


def plan(lm, chunks: list, ids: torch.Tensor, hp: dict, n_layers: int, show_progress: bool = False,
         split: bool = True) -> dict[str, Share]:
    """Stage 1, then the loss-only allocation: {"<layer>.<projection>": Share} for every
    projection of the first n_layers (`split`: as `measure`)."""
    c = measure(lm, chunks, ids, hp, n_layers, split, show_progress)
    return dict(zip(c.keys, loss_only(c, hp)))
