"""Scheduling layer by layer (the default: memory holds one layer's tiles) gives the same
schedule as scheduling the whole program at once, on random configs and models."""

from __future__ import annotations

import numpy as np

from simulator.config import parse_hw
from simulator.schedule.run import PER_OP, run
from tests.simulator.test_golden import fast_workload, random_case, random_hw
from workloads.errors import InputError


def test_layer_by_layer_equals_whole_program_on_random_cases():
    rng, mask_rng = np.random.default_rng(20261130), np.random.default_rng(30261130)
    ran, multi = 0, 0
    while ran < 150:  # 2 layers each: the second is scheduled on the machine the first left
        try:
            hw = parse_hw(random_hw(rng), "windowed")
        except InputError:
            continue
        shape, tokens, layers, _, layer_scope = random_case(rng, mask_rng)
        w = fast_workload(shape, tokens, layers, layer_scope)
        try:
            whole = run(w, hw, record_tiles=True)
        except InputError:
            continue
        parts = run(w, hw)
        for k in PER_OP:
            assert np.array_equal(getattr(whole, k), getattr(parts, k)), f"case {ran}: {k} differs"
        assert whole.channel_busy == parts.channel_busy
        assert whole.peak_buffer_bytes == parts.peak_buffer_bytes
        assert parts.arrays == {} and parts.program.n_tiles == 0  # no tiles kept
        multi += shape.num_layers > 1
        ran += 1
    assert multi >= 50
