"""Sparse attention in decode: which cached keys a decode step attends (a KV budget).

- window (StreamingLLM's attention sinks + a sliding window): the first `sinks` tokens of
  the sequence and the `window` most recent keys (the step's own among them). A step with
  keys = context + 1 cached keys attends min(keys, sinks + window); the kept rows lie in two
  contiguous runs of the cache, so reading them is no gather.
- topk (a fixed budget of k keys per KV-head group): the step scores every cached key
  (Q K^T over all of them: an exact top-k needs every score), selects the k highest per
  KV-head group (the group's query heads share one selection, so one V row serves the whole
  group) and gathers those k V rows for P V. With keys <= k there is nothing to select.

The simulator's rules for these (tiles, gather bytes, the selection's vector passes) are in
simulator/program/layer_ops.py; this module only holds the budget and reads it from a flag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from workloads.errors import InputError
from workloads.limits import MAX_SEQ

SPEC_HELP = "window:W[+S] (W recent keys and S attention sinks), topk:K (K keys per KV-head group) or mask:FILE.npy"


@dataclass(frozen=True)
class KVBudget:
    """The keys a decode step attends; see the module docstring."""

    kind: Literal["window", "topk"]
    window: int = 0  # window: recent keys kept
    sinks: int = 0  # window: first keys kept
    k: int = 0  # topk: keys kept per KV-head group

    @property
    def budget(self) -> int:
        """The most keys a step attends."""
        return self.window + self.sinks if self.kind == "window" else self.k

    def kept(self, keys: int) -> int:
        """Keys attended by a step with `keys` cached keys (its own included)."""
        return min(keys, self.budget)

    def scored(self, keys: int) -> int:
        """Keys whose scores a step computes: every key for an exact top-k, else the kept ones."""
        return keys if self.kind == "topk" else self.kept(keys)

    def selects(self, keys: int) -> bool:
        """Whether the step runs a top-k selection (more keys than its budget)."""
        return self.kind == "topk" and keys > self.k

    def describe(self) -> str:
        if self.kind == "window":
            return f"window {self.window} + {self.sinks} sinks"
        return f"top-{self.k} keys per KV-head group"

    def spec(self) -> str:
        """The flag value that gives this budget."""
        return f"window:{self.window}+{self.sinks}" if self.kind == "window" else f"topk:{self.k}"


def _count(text: str, what: str, low: int, spec: str) -> int:
    if not re.fullmatch(r"\d+", text) or not low <= int(text) <= MAX_SEQ:
        raise InputError(f"--attention-sparsity {spec!r}: {what} {text!r} is not an integer in {low}..{MAX_SEQ}")
    return int(text)


def parse_attention_sparsity(spec: str) -> KVBudget | str:
    """A KVBudget from `window:W[+S]` or `topk:K`, or the path of `mask:FILE` (a prefill
    attention map, read by workloads.attention_masks.load_mask_file); InputError otherwise."""
    kind, sep, rest = spec.partition(":")
    if not sep or not rest:
        raise InputError(f"--attention-sparsity {spec!r}: expected {SPEC_HELP}")
    if kind == "mask":
        return rest
    if kind == "topk":
        return KVBudget("topk", k=_count(rest, "k", 1, spec))
    if kind == "window":
        w, plus, s = rest.partition("+")
        return KVBudget("window", window=_count(w, "window", 1, spec), sinks=_count(s, "sinks", 0, spec) if plus else 0)
    raise InputError(f"--attention-sparsity {spec!r}: unknown kind {kind!r}; expected {SPEC_HELP}")


def check_budget_fits(budget: KVBudget, keys: int, where: str) -> None:
    """InputError when the budget keeps every one of the `keys` keys of the longest step
    (`where` names it): it would change nothing, which is almost surely a mistake."""
    if budget.budget >= keys:
        raise InputError(f"--attention-sparsity {budget.spec()}: the {budget.describe()} keeps all {keys} keys of "
                         f"{where}; expected a budget below the context")
