"""Compression budgets: how many parameters the sparse and low-rank parts keep."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Literal

from workloads.errors import InputError

Generator = Literal["uniform", "wanda-like", "nm"]


RANK_SHARE = 0.125  # the low-rank part's share of the kept budget when no rank is given


def default_rank(m: int, n: int, ratio: float, rank_share: float = RANK_SHARE) -> int:
    """Rank that gives the low-rank part `rank_share` of the kept budget of an m x n matrix:
    floor(rank_share ratio m n / (m + n)). The one rule `compress` and `simulate` share.

    rank_share = 0.125 reproduces the paper's r = 128 on a 4096 x 4096 matrix at 50%
    (128 * 8192 / 4096^2 = 6.25% = 0.125 * 50%).
    """
    return max(0, int(math.floor(rank_share * ratio * m * n / (m + n))))


@dataclass(frozen=True)
class Budget:
    """A per-projection budget.

    ratio: kept fraction of the dense parameters, p = s + r (m + n) / (m n) + q (paper 4.2.3).
    rank: r of U (m x r) V (r x n). preserve: q, top-salience fraction folded into S.
    pattern: 'unstructured' or 'N:M'. generator: synthetic mask generator for shape-only runs.
    s_density: 'accounting' gives S the density p - r (m + n)/(m n) (the paper's accounting,
    preserved entries included); 'ratio' gives S the density p itself (the reading that the
    paper's Table 4 sparse cycles imply).
    """

    ratio: float
    rank: int | None  # None: per projection, default_rank(m, n, ratio)
    preserve: float = 0.01
    pattern: str = "unstructured"
    generator: Generator = "wanda-like"
    s_density: Literal["accounting", "ratio"] = "accounting"

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise InputError(f"--ratio {self.ratio}: expected a kept fraction in (0, 1]")
        if self.rank is not None and self.rank < 0:
            raise InputError(f"--rank {self.rank}: expected a non-negative integer")
        if not 0.0 <= self.preserve < 1.0:
            raise InputError(f"--preserve {self.preserve}: expected a fraction in [0, 1)")
        if self.preserve > self.ratio:
            raise InputError(
                f"--preserve {self.preserve}: the preserved fraction cannot exceed the kept ratio {self.ratio}"
            )
        if self.pattern != "unstructured":
            self.nm  # validates

    @property
    def nm(self) -> tuple[int, int] | None:
        if self.pattern == "unstructured":
            return None
        m = re.fullmatch(r"(\d+):(\d+)", self.pattern)
        if not m or not 0 < int(m.group(1)) <= int(m.group(2)):
            raise InputError(f"--pattern {self.pattern!r}: expected 'unstructured' or N:M with 0 < N <= M, e.g. 2:4")
        return int(m.group(1)), int(m.group(2))

    def rank_of(self, m: int, n: int) -> int:
        """The rank of an m x n projection: the given one, or the rule `compress` uses by
        default: default_rank; with an N:M pattern, what the budget leaves after S's fixed
        N/M density, floor((ratio - N/M) m n / (m + n))."""
        if self.rank is not None:
            return self.rank
        nm = self.nm
        if nm is not None:
            return max(0, int(math.floor((self.ratio - nm[0] / nm[1]) * m * n / (m + n))))
        return default_rank(m, n, self.ratio)

    def s_nnz(self, name: str, m: int, n: int) -> int:
        """Non-zeros of S for an m x n projection; InputError when the budget cannot be met."""
        rank = self.rank_of(m, n)
        if rank > min(m, n):
            raise InputError(f"projection {name} ({m}x{n}): rank {rank} exceeds min(m, n) = {min(m, n)}")
        nm = self.nm
        if nm is not None:
            if n % nm[1]:
                raise InputError(f"projection {name} ({m}x{n}): N:M pattern {self.pattern} needs n divisible by {nm[1]}")
            return m * (n // nm[1]) * nm[0]
        lowrank = rank * (m + n) / (m * n)
        density = self.ratio if self.s_density == "ratio" else self.ratio - lowrank
        if density < self.preserve - 1e-12:
            raise InputError(
                f"projection {name} ({m}x{n}): budget cannot be met: ratio {self.ratio} leaves S a density of "
                f"{density:.4f} after rank {rank} (low-rank share {lowrank:.4f}), below the preserved fraction {self.preserve}"
            )
        return int(round(max(density, 0.0) * m * n))
