"""A workload: the projections of every decoder layer, their budgets and masks, the tokens."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Literal, Protocol

import numpy as np

from workloads.budget import Budget
from workloads.errors import InputError
from workloads.kv_budget import KVBudget
from workloads.limits import MAX_BATCH, MAX_SEQ, MAX_TOKENS, check_seed
from workloads.masks import SyntheticMask
from workloads.presets import ModelShape

Phase = Literal["decode", "prefill"]
Scope = Literal["projections", "layer"]


class MaskStats(Protocol):
    m: int
    n: int

    @property
    def nnz(self) -> int: ...
    def column_counts(self) -> np.ndarray: ...
    def row_counts(self) -> np.ndarray: ...
    def column_block_counts(self, tm: int) -> np.ndarray: ...
    def row_block_counts(self, order: np.ndarray, tk: int) -> np.ndarray: ...
    def nm_fits(self, n: int, m: int) -> bool: ...


@dataclass
class Projection:
    layer: int
    name: str
    module: str  # MHA | FFN
    m: int  # output features
    n: int  # input features
    rank: int
    mask: MaskStats | None  # None: the dense baseline


@dataclass
class Workload:
    model: ModelShape
    phase: Phase
    batch: int
    seq: int
    description: str
    # Called per layer so an artifact streams layer by layer.
    layer_projections: Callable[[int], list[Projection]] = field(repr=False)
    # projections: the linear layers only; layer: the whole decoder layer (attention core,
    # KV cache, norms, activation, residual adds)
    scope: Scope = "projections"
    # decode: tokens already in each sequence's KV cache (the step attends context + 1 keys)
    context: int = 0
    # per layer, a bool (heads, seq, seq) attention map (True = kept score) shared by every
    # sequence of the batch: a layer-scope prefill then runs ViTCoD's sparse attention core
    # (simulator/program/layer_ops.py); None: dense causal attention
    attention_masks: Callable[[int], np.ndarray] | None = field(default=None, repr=False)
    # decode steps of a layer-scope run attend only the budget's keys (workloads/kv_budget.py);
    # a prefill attends its own sequence whole (the budget is for the generation that follows it)
    kv_budget: KVBudget | None = None

    @property
    def tokens(self) -> int:
        """Tokens per step: prefill = batch x sequence, decode = batch."""
        return self.batch * self.seq if self.phase == "prefill" else self.batch

    def with_scope(self, scope: Scope, context: int = 0) -> "Workload":
        """The same workload over `scope`, a decode step attending `context` cached tokens."""
        check_scope(scope, self.phase, context)
        return Workload(self.model, self.phase, self.batch, self.seq, self.description, self.layer_projections,
                        scope, context, self.attention_masks, self.kv_budget)


def check_phase(phase: str, batch: int, seq: int) -> None:
    if phase not in ("decode", "prefill"):
        raise InputError(f"--phase {phase!r}: expected decode or prefill")
    if not 1 <= batch <= MAX_BATCH:
        raise InputError(f"--batch {batch}: expected an integer in 1..{MAX_BATCH}")
    if not 1 <= seq <= MAX_SEQ:
        raise InputError(f"--seq {seq}: expected an integer in 1..{MAX_SEQ}")
    if phase == "prefill" and batch * seq > MAX_TOKENS:
        raise InputError(f"--batch {batch} x --seq {seq}: more than {MAX_TOKENS} tokens in one step")


def check_scope(scope: str, phase: str, context: int) -> None:
    if scope not in ("projections", "layer"):
        raise InputError(f"--scope {scope!r}: expected projections or layer")
    if not 0 <= context <= MAX_SEQ:
        raise InputError(f"--context {context}: expected an integer in 0..{MAX_SEQ}")
    if context and phase != "decode":
        raise InputError("--context: a KV-cache length applies to decode only (prefill attends its own sequence)")


def mask_seed(seed: int, layer: int, index: int) -> int:
    """The synthetic-mask seed of projection `index` of `layer`: every mask differs, all from one seed."""
    return (seed * 1_000_003 + layer * 101 + index) % (2**31)


def from_shape(
    model: ModelShape,
    budget: Budget | None,
    phase: Phase = "decode",
    batch: int = 1,
    seq: int = 1,
    seed: int = 0,
    layers: int | None = None,
    allocation: dict[tuple[int, str], tuple[int, float]] | None = None,
) -> Workload:
    """A shape-only workload: synthetic seeded masks at `budget` (None: the dense model);
    `allocation` ({(layer, projection): (rank, S density)}, workloads/allocation_file.py)
    overrides the budget's rank and density per projection (the generator stays the budget's)."""
    check_phase(phase, batch, seq)
    check_seed(seed)
    if layers is not None:
        if not 1 <= layers <= model.num_layers:
            raise InputError(f"--layers {layers}: expected 1..{model.num_layers}")
        model = ModelShape(model.name, model.hidden_size, model.intermediate_size, model.num_attention_heads,
                           model.num_key_value_heads, layers, model.head_dim)
    specs = model.projections()
    if allocation is not None and (budget is None or budget.nm is not None):
        raise InputError("--allocation-file: needs a compressed, unstructured budget (no N:M pattern)")
    if budget is not None and allocation is None:  # validate every projection up front: one error, before any work
        for name, _, m, n in specs:
            budget.s_nnz(name, m, n)

    def layer_projections(layer: int) -> list[Projection]:
        out = []
        for idx, (name, module, m, n) in enumerate(specs):
            if budget is None:
                out.append(Projection(layer, name, module, m, n, 0, None))
                continue
            if allocation is not None:
                rank, density = allocation[(layer, name)]
                nnz = int(round(density * m * n))
            else:
                rank, nnz = budget.rank_of(m, n), budget.s_nnz(name, m, n)
            gen = "nm" if budget.nm is not None else budget.generator
            mask = SyntheticMask(m, n, nnz, gen, seed=mask_seed(seed, layer, idx), nm=budget.nm)
            out.append(Projection(layer, name, module, m, n, rank, mask))
        return out

    if budget is None:
        what = "dense"
    elif allocation is not None:
        what = f"per-projection allocation ({len(allocation)} projections) generator={budget.generator} seed={seed}"
    else:
        what = (f"ratio={budget.ratio} rank={budget.rank if budget.rank is not None else 'default rule'} "
                f"preserve={budget.preserve} pattern={budget.pattern} generator={budget.generator} "
                f"s_density={budget.s_density} seed={seed}")
    return Workload(model, phase, batch, seq, f"{model.name} {phase} {what}", layer_projections)
