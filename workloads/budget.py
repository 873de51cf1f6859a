"""Compression budgets: how many parameters the sparse and low-rank parts keep."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from workloads.errors import InputError

Generator = Literal["uniform", "wanda-like", "nm"]


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
    rank: int
    preserve: float = 0.01
    pattern: str = "unstructured"
    generator: Generator = "wanda-like"
    s_density: Literal["accounting", "ratio"] = "accounting"

    def __post_init__(self) -> None:
        if not 0.0 < self.ratio <= 1.0:
            raise InputError(f"--ratio {self.ratio}: expected a kept fraction in (0, 1]")
        if self.rank < 0:
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

    def s_nnz(self, name: str, m: int, n: int) -> int:
        """Non-zeros of S for an m x n projection; InputError when the budget cannot be met."""
        if self.rank > min(m, n):
            raise InputError(f"projection {name} ({m}x{n}): rank {self.rank} exceeds min(m, n) = {min(m, n)}")
        nm = self.nm
        if nm is not None:
            if n % nm[1]:
                raise InputError(f"projection {name} ({m}x{n}): N:M pattern {self.pattern} needs n divisible by {nm[1]}")
            return m * (n // nm[1]) * nm[0]
        lowrank = self.rank * (m + n) / (m * n)
        density = self.ratio if self.s_density == "ratio" else self.ratio - lowrank
        if density < self.preserve - 1e-12:
            raise InputError(
                f"projection {name} ({m}x{n}): budget cannot be met: ratio {self.ratio} leaves S a density of "
                f"{density:.4f} after rank {self.rank} (low-rank share {lowrank:.4f}), below the preserved fraction {self.preserve}"
            )
        return int(round(max(density, 0.0) * m * n))
