"""Magnitude pruning: keep the largest |W| (matrix-wide, or N:M)."""

from __future__ import annotations

import torch

from compression import patterns
from compression.sslc import Decomposition


def magnitude(W: torch.Tensor, nnz: int, pattern=None, seed: int = 0) -> Decomposition:
    W = W.detach().float()
    mask = patterns.select(W.abs(), nnz, pattern, scope="matrix", seed=seed)
    return Decomposition.sparse_only(torch.where(mask, W, torch.zeros_like(W)), mask)
