"""Wanda (Sun et al. 2023): score |W_ij| ||X_j||_2, compared per output row (or N:M)."""

from __future__ import annotations

import torch

from compression import patterns
from compression.sslc import Decomposition


def wanda(W: torch.Tensor, act_norm: torch.Tensor, nnz: int, pattern=None, seed: int = 0) -> Decomposition:
    W = W.detach().float()
    score = W.abs() * act_norm.float().reshape(1, -1)
    mask = patterns.select(score, nnz, pattern, scope="row", seed=seed)
    return Decomposition.sparse_only(torch.where(mask, W, torch.zeros_like(W)), mask)
