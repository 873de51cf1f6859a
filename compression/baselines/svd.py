"""Pure low-rank baselines: plain SVD of W and activation-aware SVD of W diag(||X||^alpha)."""

from __future__ import annotations

import torch

from compression.sslc import Decomposition


def low_rank(W: torch.Tensor, rank: int, act_norm: torch.Tensor | None = None, alpha: float = 1.0
             ) -> Decomposition:
    """Best rank-r approximation of W (plain) or of W D^alpha scaled back (activation-aware)."""
    W = W.detach().float()
    m, n = W.shape
    if act_norm is not None:
        D = act_norm.float().clamp_min(0).pow(alpha).reshape(1, n)
        Dinv = torch.where(D > 0, 1.0 / D.clamp_min(1e-30), torch.zeros_like(D))
    else:
        D = Dinv = torch.ones(1, n, dtype=W.dtype, device=W.device)
    A = (W * D).double()
    Us, s, Vh = torch.linalg.svd(A, full_matrices=False)
    r = min(rank, s.numel())
    U = (Us[:, :r] * s[:r]).float()
    V = Vh[:r].float() * Dinv
    mask = torch.zeros_like(W, dtype=torch.bool)
    return Decomposition(U=U.contiguous(), V=V.contiguous(), S=torch.zeros_like(W), mask=mask, preserved=0)
