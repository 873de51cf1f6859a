"""The speed-ups that restate a rule in another form give its exact results: the DRAM deal of
chunks over channels (dram.deal/deal_part, which the scheduler's tile loop writes out),
dram_request against a plain statement of rule 3, and column_order's 16-bit sort keys."""

from __future__ import annotations

import numpy as np
import pytest

from simulator.memory.dram import CHANNELS, PORTS, channel_bytes, deal, deal_part, dram_request
from workloads.masks import column_order


def dealt(nbytes: int, ptr: int, n: int, g: int) -> tuple[list[int], int]:
    """Chunk by chunk: chunk i (g bytes, the last one the rest) to channel (ptr + i) mod n."""
    out, i = [0] * n, 0
    for i, start in enumerate(range(0, nbytes, g)):
        out[(ptr + i) % n] += min(g, nbytes - start)
    return out, (ptr + -(-nbytes // g)) % n


@pytest.mark.parametrize("seed", range(5))
def test_deal_matches_chunk_by_chunk(seed):
    rng = np.random.default_rng(seed)
    for _ in range(300):
        n, g = int(rng.integers(1, 9)), int(rng.choice([1, 3, 64, 256]))
        nbytes, ptr = int(rng.integers(1, 40 * g)), int(rng.integers(0, n))
        want, nxt = dealt(nbytes, ptr, n, g)
        chunks, full, extra, short, last = deal(nbytes, n, g)
        got = [0] * n
        for j in range(min(chunks, n)):
            got[(ptr + j) % n] = deal_part(full, extra, short, last, g, j)
        assert got == want
        out = np.zeros(n, np.int64)
        assert channel_bytes(nbytes, ptr, n, g, out) == nxt and out.tolist() == want


def rule3(req, parts, num, den, free, busy):
    """Each non-empty part granted at max(req, its resource free) for ceil(bytes num / den)."""
    grant, leave = None, 0
    for r, b in parts:
        if b > 0:
            g = max(req, int(free[r]))
            occ = -(-b * int(num[r]) // int(den[r]))
            free[r], busy[r] = g + occ, busy[r] + occ
            grant, leave = g if grant is None else min(grant, g), max(leave, g + occ)
    return grant, leave


@pytest.mark.parametrize("kind", [CHANNELS, PORTS])
def test_dram_request_matches_rule(kind):
    rng = np.random.default_rng(kind)
    n = 3 if kind == PORTS else 4
    num, den = rng.integers(1, 9, n), rng.integers(1, 50, n)
    free, busy, ptr = np.zeros(n, np.int64), np.zeros(n, np.int64), np.zeros(1, np.int64)
    f2, b2, p2 = free.copy(), busy.copy(), 0
    req = 0
    for _ in range(500):
        req += int(rng.integers(0, 40))
        w, x, o = (int(v) for v in rng.integers(0, 600, 3) * (rng.random(3) < 0.8))
        got = dram_request(req, w, x, o, False, kind, num, den, 64, free, busy, ptr)
        if w + x + o == 0:
            assert got == (req, req)
            continue
        if kind == PORTS:
            parts = [(0, w), (1, x), (2, o)]
        else:
            shares, nxt = dealt(w + x + o, p2, n, 64)
            parts, p2 = list(enumerate(shares)), nxt
        assert got == rule3(req, parts, num, den, f2, b2)
        assert free.tolist() == f2.tolist() and busy.tolist() == b2.tolist()
        assert kind == PORTS or ptr[0] == p2


@pytest.mark.parametrize("top", [5, 4000, 40000])
def test_column_order_16_bit_keys_keep_the_stable_order(top):
    rng = np.random.default_rng(top)
    counts = rng.integers(0, top, 3000)  # many ties
    dense, order = column_order(counts, top, 0.9, True)
    sparse = np.nonzero(~(counts > 0.9 * top))[0]
    assert order.tolist() == sparse[np.argsort(-counts[sparse], kind="stable")].tolist()
    assert dense.tolist() == np.nonzero(counts > 0.9 * top)[0].tolist()
