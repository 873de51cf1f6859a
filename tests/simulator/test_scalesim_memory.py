"""SCALE-Sim 3.0.0 GEMM accounting with DRAM stalls: fast model vs golden vs real SCALE-Sim runs.

- identity: simulator.scalesim.memory (numba) == tests.golden.scalesim_memory (plain, literal)
  on seeded random small cases, every field;
- reference: every committed SCALE-Sim 3.0.0 run in benchmarks/results/scalesim_reference.csv;
- closed forms: no stalls with SRAMs twice the operands, at high bandwidth.
"""

from __future__ import annotations

import csv
import dataclasses
import random
from pathlib import Path

import pytest

from simulator.scalesim.memory import ScaleSimLayer, scalesim_layer
from tests.golden.scalesim_memory import golden_layer

REFERENCE_CSV = (Path(__file__).resolve().parents[2]
                 / "benchmarks" / "results" / "scalesim_reference.csv")
INPUTS = ("R", "C", "M", "N", "K", "ifmap_kb", "filter_kb", "ofmap_kb",
          "ifmap_bw", "filter_bw", "ofmap_bw")
# result field -> SCALE-Sim report column (COMPUTE_REPORT, DETAILED_ACCESS_REPORT)
REPORT_COLUMNS = {
    "total_cycles": "Total Cycles",
    "total_cycles_incl_prefetch": "Total Cycles (incl. prefetch)",
    "stall_cycles": "Stall Cycles",
    "ifmap_dram_reads": "DRAM IFMAP Reads",
    "filter_dram_reads": "DRAM Filter Reads",
    "ofmap_dram_writes": "DRAM OFMAP Writes",
}


def cdiv(a: int, b: int) -> int:
    return -(-a // b)


# ------------------------------------------------------------------ identity with the golden


def random_cases(n: int = 300, seed: int = 20240611) -> list[tuple]:
    """(dataflow, R, C, M, N, K, ifmap_kb, filter_kb, ofmap_kb, ifmap_bw, filter_bw, ofmap_bw).

    Arrays 1..16, M, N, K 1..60, SRAMs 1..8 KB, bandwidths 1..20 words/cycle. Sizes lean
    towards large layers and small SRAMs (max / min of two draws) so that about a third of
    the cases stall; uniform draws mostly give operands that fit the SRAMs.
    """
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        df = ("os", "ws", "is")[i % 3]
        R, C = rng.randint(1, 16), rng.randint(1, 16)
        top = max(R, C) if i % 5 == 0 else 60          # every 5th: layer smaller than the array
        M, N, K = (max(rng.randint(1, top), rng.randint(1, top)) for _ in range(3))
        kbs = [min(rng.randint(1, 8), rng.randint(1, 8)) for _ in range(3)]
        bws = [rng.randint(1, 20) for _ in range(3)]
        cases.append((df, R, C, M, N, K, *kbs, *bws))
    return cases


HAND_CASES = [
    ("ws", 4, 4, 40, 40, 40, 8, 8, 1, 16, 16, 1),      # only the ofmap can stall (partial sums)
    ("is", 4, 4, 40, 40, 40, 8, 8, 1, 16, 16, 1),
    ("os", 1, 1, 7, 5, 60, 1, 1, 1, 1, 1, 1),          # 1x1 array
    ("os", 16, 16, 3, 2, 1, 1, 1, 1, 20, 20, 20),      # layer far smaller than the array
    ("ws", 8, 3, 60, 60, 60, 1, 1, 1, 1, 1, 1),        # everything tiny: many prefetches
    ("is", 3, 8, 60, 60, 60, 1, 2, 1, 700, 1, 3000),   # a line wider than half the SRAM
]
IDENTITY_CASES = random_cases() + HAND_CASES


@pytest.mark.parametrize("case", IDENTITY_CASES, ids=lambda c: "-".join(map(str, c)))
def test_fast_equals_golden(case):
    fast = dataclasses.asdict(scalesim_layer(*case))
    assert fast == golden_layer(*case)


def test_identity_sample_exercises_stalls():
    """The random sample must reach the interesting regimes, not only stall-free runs."""
    runs = [scalesim_layer(*c) for c in IDENTITY_CASES]
    stalled = sum(r.stall_cycles > 0 for r in runs)
    assert 60 <= stalled <= len(runs) - 60
    # a read SRAM that re-fetched (read more than its initial fill) missed after the fill
    for reads, kb, bw in (("ifmap_dram_reads", 6, 9), ("filter_dram_reads", 7, 10)):
        refetched = sum(getattr(r, reads) > c[bw] * cdiv(512 * c[kb], c[bw])
                        for r, c in zip(runs, IDENTITY_CASES))
        assert refetched >= 60, reads
    # rows holding only ofmap stalls (read SRAMs 2x their operands) do stall
    assert all(scalesim_layer(*c).stall_cycles > 0 for c in HAND_CASES[:2])


# ------------------------------------------------------------------ real SCALE-Sim runs


def reference_rows() -> list[dict]:
    if not REFERENCE_CSV.exists():
        return []
    with REFERENCE_CSV.open() as f:
        return list(csv.DictReader(line for line in f if not line.startswith("#")))


REFERENCE_ROWS = reference_rows()


@pytest.mark.skipif(not REFERENCE_ROWS, reason="no SCALE-Sim reference CSV")
@pytest.mark.parametrize("row", REFERENCE_ROWS,
                         ids=lambda r: f"case{r.get('case_id', '?')}-{r['dataflow']}")
def test_matches_scalesim_reference(row):
    got = scalesim_layer(row["dataflow"], *(int(row[k]) for k in INPUTS))
    checked = {f: col for f, col in REPORT_COLUMNS.items() if col in row}
    assert {"total_cycles", "total_cycles_incl_prefetch", "stall_cycles"} <= set(checked)
    expected = {f: int(float(row[col])) for f, col in checked.items()}
    assert {f: getattr(got, f) for f in checked} == expected
    # in every reference run the last row's stall is the ofmap's, so Total = stall-free + stalls
    assert got.compute_cycles == got.total_cycles - got.stall_cycles


# ------------------------------------------------------------------ closed forms


def stall_free_rows(df: str, R: int, C: int, M: int, N: int, K: int) -> int:
    if df == "os":
        return cdiv(M, R) * cdiv(N, C) * (R + C + K - 2)
    if df == "ws":
        return cdiv(K, R) * cdiv(N, C) * (2 * R + C + M - 2)
    return cdiv(K, R) * cdiv(M, C) * (2 * R + C + N - 2)


def padded_prefetch_words(df: str, R: int, C: int, M: int, N: int, K: int) -> tuple[int, int]:
    """(ifmap, filter) entries of the prefetch order, null padding included."""
    if df == "os":
        return cdiv(M, R) * R * K, cdiv(N, C) * C * K
    if df == "ws":
        return cdiv(K, R) * R * M, cdiv(N, C) * C * K
    return cdiv(M, C) * C * K, cdiv(K, R) * R * N


SHAPES = [(4, 4, 32, 48, 40), (8, 16, 60, 9, 33), (16, 8, 5, 70, 64), (1, 1, 6, 5, 7),
          (32, 32, 100, 90, 80)]   # (R, C, M, N, K)


@pytest.mark.parametrize("bw", [64, 4096, 10**6])
@pytest.mark.parametrize("df", ["os", "ws", "is"])
@pytest.mark.parametrize("shape", SHAPES)
def test_stall_free_closed_forms(shape, df, bw):
    R, C, M, N, K = shape
    written = M * N if df == "os" else cdiv(K, R) * M * N    # ws/is write partial sums
    kb = [cdiv(2 * M * K, 1024), cdiv(2 * K * N, 1024), cdiv(2 * written, 1024)]
    got = scalesim_layer(df, R, C, M, N, K, *kb, bw, bw, bw)
    free = stall_free_rows(df, R, C, M, N, K) - 1
    # initial fill of each read SRAM's active half, bounded by the whole prefetch order
    fills = [min(cdiv(512 * s, bw), cdiv(q, bw))
             for s, q in zip(kb[:2], padded_prefetch_words(df, R, C, M, N, K))]
    assert got == ScaleSimLayer(
        compute_cycles=free,
        total_cycles=free,
        stall_cycles=0,
        # one drain after the last row, cdiv(written, bw) lines; the fill ends at cycle -1
        total_cycles_incl_prefetch=free + cdiv(written, bw) - 1 + max(fills),
        ifmap_dram_reads=bw * fills[0],
        filter_dram_reads=bw * fills[1],
        ofmap_dram_writes=written,
    )


@pytest.mark.parametrize("df", ["os", "ws", "is"])
def test_compute_cycles_closed_form(df):
    rng = random.Random(7)
    for _ in range(40):
        R, C = rng.randint(1, 64), rng.randint(1, 64)
        M, N, K = (rng.randint(1, 300) for _ in range(3))
        got = scalesim_layer(df, R, C, M, N, K, 4096, 4096, 4096, 10**6, 10**6, 10**6)
        assert got.compute_cycles == stall_free_rows(df, R, C, M, N, K) - 1


def test_rejects_bad_inputs():
    with pytest.raises(ValueError):
        scalesim_layer("rs", 4, 4, 8, 8, 8, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError):
        scalesim_layer("os", 4, 0, 8, 8, 8, 1, 1, 1, 1, 1, 1)
    with pytest.raises(ValueError):
        scalesim_layer("ws", 4, 4, 8, 8, 8, 1.5, 1, 1, 1, 1, 1)
