"""One entry point per method: W + calibration stats + hyper-parameters -> Decomposition."""

from __future__ import annotations

import math

import torch

from compression import allocation, patterns
from compression.baselines.magnitude import magnitude
from compression.baselines.sparsegpt import sparsegpt
from compression.baselines.svd import low_rank
from compression.baselines.wanda import wanda
from compression.calibration import InputStats
from compression.sslc import Budget, Decomposition, make_budget, sslc_decompose
from compression.sslc_obs import sslc_obs_decompose
from workloads.errors import InputError

METHODS = ("sslc", "sslc-obs", "magnitude", "wanda", "sparsegpt", "svd", "asvd")
SPARSE_METRICS = ("salience", "wanda", "magnitude")


ALLOCATED = ("sslc", "sslc-obs", "magnitude", "wanda", "sparsegpt")  # methods a budget allocation applies to
SPLIT_ALLOCATED = ("sslc", "sslc-obs")  # global allocation splits their budgets between S and U V (others: rank 0)


def default_hyperparameters(method: str) -> dict:
    hp = {"ratio": 0.5, "pattern": "unstructured"}
    if method in ALLOCATED:
        hp["allocation"] = "uniform"
    if method == "sslc":
        hp.update(rank=None, rank_share=0.125, preserve=0.01, iters=40, sparse_metric="salience",
                  power_iters=1)
    elif method == "sslc-obs":
        hp.update(rank=None, rank_share=0.0625, iters=40, obs_steps=1, power_iters=1, blocksize=128, percdamp=0.01)
    elif method == "sparsegpt":
        hp.update(blocksize=128, percdamp=0.01)
    elif method == "asvd":
        hp.update(alpha=1.0)
    return hp


def check_hyperparameters(method: str, hp: dict) -> dict:
    if method not in METHODS:
        raise InputError(f"--method: expected one of {', '.join(METHODS)}, got {method!r}")
    full = default_hyperparameters(method)
    unknown = set(hp) - set(full) - ({"cost"} if method in ALLOCATED else set())
    if unknown:
        raise InputError(f"--method {method}: options {sorted(unknown)} do not apply to this method")
    full.update({k: v for k, v in hp.items() if v is not None})
    patterns.parse_pattern(full["pattern"])
    if not (0 < float(full["ratio"]) <= 1):
        raise InputError(f"--ratio: expected a kept fraction in (0, 1], got {full['ratio']}")
    if method in ("sslc", "sslc-obs"):
        if int(full["iters"]) < 1:
            raise InputError(f"--iters: expected >= 1, got {full['iters']}")
        if method == "sslc-obs" and int(full["obs_steps"]) < 1:
            raise InputError(f"--obs-steps: expected >= 1, got {full['obs_steps']}")
        if full["rank"] is not None and int(full["rank"]) < 0:
            raise InputError(f"--rank: expected >= 0, got {full['rank']}")
    if method == "sslc" and full["sparse_metric"] not in SPARSE_METRICS:
        raise InputError(f"--sparse-metric: expected one of {SPARSE_METRICS}, got {full['sparse_metric']!r}")
    if method in ALLOCATED:
        allocation.check_pattern(full["allocation"], full["pattern"])
        if full.get("cost") is not None:
            _check_cost(full)
    if method in ("svd", "asvd") and full["pattern"] != "unstructured":
        raise InputError(f"--pattern: {method} is pure low-rank; N:M does not apply")
    return full


COST_KEYS = {"hardware", "hardware_sha256", "phase", "metric", "batch", "seq", "target", "loss_target", "masks"}


def _check_cost(hp: dict) -> None:
    """A hardware-aware allocation's description (what the CLI measured the costs on)."""
    cost = hp["cost"]
    if not isinstance(cost, dict) or set(cost) != COST_KEYS:
        raise InputError(f"hyper-parameter 'cost': expected a mapping with keys {sorted(COST_KEYS)}")
    if hp["allocation"] != "global":
        raise InputError("--cost-hw: a hardware-aware allocation is a global one; use --allocation global")
    if patterns.parse_pattern(hp["pattern"]) is not None:
        raise InputError("--cost-hw: the hardware-aware allocation spends its cost on sparse entries, which an "
                         "N:M pattern fixes; use --pattern unstructured")
    if cost["target"] is not None and cost["loss_target"] is not None:
        raise InputError("--cost-target and --loss-target: give one of them")
    for key, flag in (("target", "--cost-target"), ("loss_target", "--loss-target")):
        v = cost[key]
        if v is not None and (isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 < v <= 1e6):
            raise InputError(f"{flag}: expected a positive number, got {v!r}")


def budget_for(method: str, hp: dict, m: int, n: int, where: str = "",
               share: allocation.Share | None = None) -> Budget:
    """The projection's budget: its allocated share when the allocation is not uniform, else
    `ratio` of this matrix as the method defines it."""
    pattern = patterns.parse_pattern(hp["pattern"])
    if pattern is not None and n % pattern[1]:
        raise InputError(f"{where}pattern {hp['pattern']}: input size {n} is not a multiple of {pattern[1]}")
    if share is not None:
        nnz = share.kept - share.rank * (m + n)
        preserved = min(int(round(float(hp.get("preserve", 0.0)) * m * n)), nnz) if method == "sslc" else 0
        return Budget(m, n, share.rank, nnz, preserved)
    ratio = float(hp["ratio"])
    if method in ("sslc", "sslc-obs"):
        return make_budget(m, n, ratio, hp["rank"], float(hp.get("preserve", 0.0)), pattern,
                           float(hp["rank_share"]), where=where)
    if method in ("svd", "asvd"):
        r = max(0, min(min(m, n), int(math.floor(ratio * m * n / (m + n)))))
        return Budget(m, n, r, 0, 0)
    if pattern is not None:
        return Budget(m, n, 0, m * n * pattern[0] // pattern[1], 0)
    return Budget(m, n, 0, int(round(ratio * m * n)), 0)


def decompose(method: str, W: torch.Tensor, stats: InputStats, hp: dict, seed: int = 0,
              where: str = "", share: allocation.Share | None = None) -> Decomposition:
    m, n = W.shape
    if not torch.isfinite(W).all():
        raise InputError(f"{where}weight contains NaN or Inf")
    budget = budget_for(method, hp, m, n, where, share)
    pattern = patterns.parse_pattern(hp["pattern"])
    act = stats.act_norm
    if method == "sslc":
        dec = sslc_decompose(W, act, budget, iters=int(hp["iters"]), pattern=pattern,
                             metric=hp["sparse_metric"],
                             scope="row" if hp["sparse_metric"] == "wanda" else "matrix",
                             H=stats.H32, seed=seed, power_iters=int(hp["power_iters"]))
    elif method == "sslc-obs":
        dec = sslc_obs_decompose(W, act, stats.H, budget, iters=int(hp["iters"]), obs_steps=int(hp["obs_steps"]),
                                 pattern=pattern, seed=seed,
                                 power_iters=int(hp["power_iters"]), blocksize=int(hp["blocksize"]),
                                 percdamp=float(hp["percdamp"]))
    elif method == "magnitude":
        dec = magnitude(W, budget.nnz, pattern, seed=seed)
    elif method == "wanda":
        dec = wanda(W, act, budget.nnz, pattern, seed=seed)
    elif method == "sparsegpt":
        dec = sparsegpt(W, stats.H, budget.nnz, pattern, blocksize=int(hp["blocksize"]),
                        percdamp=float(hp["percdamp"]), seed=seed)
    elif method == "svd":
        dec = low_rank(W, budget.rank)
    elif method == "asvd":
        dec = low_rank(W, budget.rank, act_norm=act, alpha=float(hp["alpha"]))
    else:  # pragma: no cover - check_hyperparameters rejects it first
        raise InputError(f"--method: unknown {method!r}")
    return dec
