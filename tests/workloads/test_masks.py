"""Mask statistics: real masks are counted exactly; synthetic draws follow their stated laws."""

from __future__ import annotations

import numpy as np

from workloads.masks import CsrMask, SyntheticMask, column_order


def test_csr_statistics_equal_direct_counting_on_the_dense_mask():
    rng = np.random.default_rng(1)
    mask = rng.random((37, 53)) < rng.random(53)[None, :]
    csr = CsrMask.from_dense(mask)
    assert csr.nnz == mask.sum()
    assert (csr.column_counts() == mask.sum(0)).all()
    assert (csr.row_counts() == mask.sum(1)).all()
    blocks = csr.column_block_counts(8)
    for b in range(blocks.shape[0]):
        assert (blocks[b] == mask[b * 8:(b + 1) * 8].sum(0)).all()
    dense, order = column_order(csr.column_counts(), 37, 0.7, True)
    assert set(dense) == set(np.nonzero(mask.sum(0) > 0.7 * 37)[0])
    assert list(mask.sum(0)[order]) == sorted(mask.sum(0)[order], reverse=True)
    rows = csr.row_block_counts(order, 5)
    for c in range(rows.shape[0]):
        assert (rows[c] == mask[:, order[c * 5:(c + 1) * 5]].sum(1)).all()


def test_wanda_like_rows_are_exact_and_columns_heavy_tailed():
    s = SyntheticMask(512, 1024, int(0.4 * 512 * 1024), "wanda-like", seed=3)
    rows = s.row_counts()
    assert rows.sum() == s.nnz and rows.max() - rows.min() <= 1
    assert abs(s.pi.sum() - 0.4 * 1024) < 1e-6 * 1024  # column keep probabilities meet the budget
    assert s.pi.max() > 3 * np.median(s.pi)  # skewed: important columns kept far more often
    whole_row = s.row_block_counts(np.arange(1024), 1024)
    assert (whole_row[0] == rows).all()


def test_uniform_column_block_counts_follow_the_binomial_law():
    d, tm = 0.3, 16
    s = SyntheticMask(4096, 2048, int(d * 4096 * 2048), "uniform", seed=5)
    blocks = s.column_block_counts(tm)
    assert blocks.shape == (256, 2048)
    x = blocks.ravel()
    assert abs(x.mean() - tm * d) < 0.01 * tm * d
    assert abs(x.var() - tm * d * (1 - d)) < 0.03 * tm * d * (1 - d)
    assert x.min() >= 0 and x.max() <= tm


def test_row_block_counts_follow_the_poisson_binomial_mean():
    s = SyntheticMask(2048, 600, int(0.5 * 2048 * 600), "wanda-like", seed=11)
    order = np.arange(600)
    counts = s.row_block_counts(order, 100)
    assert counts.shape == (6, 2048)
    for b in range(6):
        expected = s.pi[b * 100:(b + 1) * 100].sum()
        assert abs(counts[b].mean() - expected) < 0.05 * expected + 0.5


def test_nm_rows_are_exact():
    s = SyntheticMask(64, 128, 64 * 64, "nm", seed=0, nm=(2, 4))
    assert (s.row_counts() == 64).all()
    assert np.allclose(s.pi, 0.5)


def test_synthetic_draws_are_seeded():
    a = SyntheticMask(300, 200, 20000, "uniform", seed=9).column_block_counts(32)
    b = SyntheticMask(300, 200, 20000, "uniform", seed=9).column_block_counts(32)
    c = SyntheticMask(300, 200, 20000, "uniform", seed=10).column_block_counts(32)
    assert (a == b).all() and not (a == c).all()
