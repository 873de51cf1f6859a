"""The bounds every entry point shares (CLI flags, sweep specs, configs, artifacts): one
place, so that a sweep spec, a flag and the simulator never disagree about what is valid.

Light on purpose (no numpy): the CLI checks flags against it before loading anything.
"""

from __future__ import annotations

from workloads.errors import InputError

# what one simulated step can hold (the tile program is indexed by int64, sizes by tokens)
MAX_BATCH, MAX_SEQ, MAX_TOKENS = 1 << 16, 1 << 20, 1 << 24
# every seed (CLI flags, sweep specs, synthetic masks): masks derive their seeds modulo 2^31
# (workloads.workload.mask_seed), so a larger seed would silently alias a smaller one
MAX_SEED = 2**31 - 1
# model shapes: features (hidden, intermediate, head_dim), layers and heads
MAX_FEATURES, MAX_LAYERS, MAX_HEADS = 1 << 20, 4096, 1 << 16


def check_seed(seed: object, what: str = "--seed") -> None:
    """InputError unless `seed` is an integer in 0..MAX_SEED (the one seed range)."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise InputError(f"{what} {seed!r}: expected an integer in 0..{MAX_SEED}")
