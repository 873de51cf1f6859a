"""Attention masks: the .npy loader refuses bad files with one line, the seeded generators
follow their stated rules, and `reorder` is reorder.py's permutation (GATECH-EIC/ViTCoD
Hardware/Simulator/reorder.py), restated here as its literal edge-relabelling loop."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from workloads import attention_masks as am
from workloads.attention_masks import load_mask_file, polarized, reorder, reorder_permutation, sliding_window, topk
from workloads.errors import InputError


def one_line_error(path, *args, **kw) -> str:
    with pytest.raises(InputError) as e:
        load_mask_file(path, *args, **kw)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# ---------------------------------------------------------------- loader


def test_bool_file_round_trips_and_a_3d_file_is_one_layer(tmp_path):
    m = polarized(2, 3, 20, 2, 0.2, seed=1)
    np.save(tmp_path / "m.npy", m)
    got = load_mask_file(tmp_path / "m.npy")
    assert got.dtype == bool and got.shape == (2, 3, 20, 20) and (got == m).all()
    np.save(tmp_path / "one.npy", m[1])
    assert (load_mask_file(tmp_path / "one.npy") == m[1:2]).all()


def test_integer_and_float_zero_one_files_and_the_pruned_convention(tmp_path):
    m = polarized(1, 2, 16, 1, 0.3, seed=2)
    np.save(tmp_path / "u8.npy", m.astype(np.uint8))
    assert (load_mask_file(tmp_path / "u8.npy") == m).all()
    assert (load_mask_file(tmp_path / "u8.npy", "kept") == m).all()
    # ViTCoD's own files: float64, 0 = kept, 1 = pruned (reorder.py saves np.zeros-based masks)
    np.save(tmp_path / "vitcod.npy", (~m).astype(np.float64))
    assert (load_mask_file(tmp_path / "vitcod.npy", "pruned") == m).all()
    assert (load_mask_file(tmp_path / "vitcod.npy") == ~m).all()
    np.save(tmp_path / "i64.npy", (~m).astype(np.int64))
    assert (load_mask_file(tmp_path / "i64.npy", "pruned") == m).all()
    np.save(tmp_path / "b.npy", ~m)
    assert (load_mask_file(tmp_path / "b.npy", convention="pruned") == m).all()
    with pytest.raises(InputError, match="expected one of kept, pruned"):
        load_mask_file(tmp_path / "b.npy", "vitcod")


def test_dense_kept_fraction_flags_only_masks_over_half_kept():
    sparse = polarized(2, 3, 40, 1, 0.05, seed=3)
    assert am.dense_kept_fraction(sparse) is None
    assert am.dense_kept_fraction(~sparse) == pytest.approx(1 - sparse.mean())
    half = np.zeros((1, 1, 4, 4), bool)
    half[..., :2] = True
    assert am.dense_kept_fraction(half) is None  # exactly half is not "more than half"
    causal = sliding_window(1, 2, 8, 8, causal=True)  # a legitimate dense mask: (N + 1) / 2N kept
    assert am.dense_kept_fraction(causal) == pytest.approx(9 / 16)


@pytest.mark.parametrize("arr,needle", [
    (np.full((1, 1, 4, 4), 0.5), "only the values 0 and 1"),
    (np.full((1, 1, 4, 4), 2, dtype=np.int32), "only the values 0 and 1"),
    (np.full((1, 1, 4, 4), np.nan), "only the values 0 and 1"),
    (np.zeros((1, 1, 4, 4), dtype=np.complex64), "expected dtype bool"),
    (np.full((1, 1, 4, 4), "1"), "expected dtype bool"),
    (np.zeros((1, 1, 4, 4), dtype=[("a", "u1")]), "expected dtype bool"),
])
def test_bad_dtype(tmp_path, arr, needle):
    np.save(tmp_path / "bad.npy", arr)
    assert needle in one_line_error(tmp_path / "bad.npy")


@pytest.mark.parametrize("shape,needle", [
    ((4, 4), "expected shape (layers, heads, N, N)"),
    ((1, 1, 1, 4, 4), "expected shape (layers, heads, N, N)"),
    ((1, 2, 4, 5), "square"),
    ((2, 4, 5), "square"),
    ((0, 2, 4, 4), "at least one layer"),
])
def test_wrong_ndim_non_square_and_empty(tmp_path, shape, needle):
    np.save(tmp_path / "bad.npy", np.zeros(shape, dtype=bool))
    assert needle in one_line_error(tmp_path / "bad.npy")


def test_directory_missing_and_wrong_suffix(tmp_path):
    assert "not a regular file" in one_line_error(tmp_path)
    (tmp_path / "d.npy").mkdir()
    assert "not a regular file" in one_line_error(tmp_path / "d.npy")
    assert "no such file" in one_line_error(tmp_path / "missing.npy")
    np.save(tmp_path / "m.npy", np.zeros((1, 1, 2, 2), bool))
    (tmp_path / "m.npy").rename(tmp_path / "m.txt")
    assert "expected a .npy file" in one_line_error(tmp_path / "m.txt")


def test_pickled_objects_are_never_loaded(tmp_path):
    obj = np.empty((1, 1, 2, 2), dtype=object)
    obj[...] = 1
    np.save(tmp_path / "obj.npy", obj, allow_pickle=True)
    assert "pickled" in one_line_error(tmp_path / "obj.npy")
    (tmp_path / "raw.npy").write_bytes(pickle.dumps([1, 2, 3]))
    assert "not a readable .npy array" in one_line_error(tmp_path / "raw.npy")


def test_truncated_npz_and_oversized_files(tmp_path, monkeypatch):
    np.save(tmp_path / "full.npy", np.zeros((2, 2, 64, 64), bool))
    data = (tmp_path / "full.npy").read_bytes()
    (tmp_path / "cut.npy").write_bytes(data[: len(data) // 2])
    assert "not a readable .npy array" in one_line_error(tmp_path / "cut.npy")
    np.savez(tmp_path / "z.npz", a=np.zeros((1, 1, 2, 2), bool))
    (tmp_path / "z.npz").rename(tmp_path / "z.npy")
    assert ".npz archive" in one_line_error(tmp_path / "z.npy")
    monkeypatch.setattr(am, "MAX_MASK_BYTES", 1024)
    assert "limit" in one_line_error(tmp_path / "full.npy")


# ---------------------------------------------------------------- generators


def test_polarized_is_seeded_and_keeps_its_global_columns_for_every_query():
    a, b = polarized(2, 3, 120, 4, 0.05, seed=7), polarized(2, 3, 120, 4, 0.05, seed=7)
    assert a.shape == (2, 3, 120, 120) and a.dtype == bool and (a == b).all()
    assert not (a == polarized(2, 3, 120, 4, 0.05, seed=8)).all()
    for lh in np.ndindex(2, 3):
        counts = a[lh].sum(0)
        assert (counts == 120).sum() >= 4
        assert reorder(a[lh], 50)[1] == 4  # the rest (about 6 per column) stays under the threshold
    rest = a[0, 0][:, a[0, 0].sum(0) < 120]
    assert abs(rest.mean() - 0.05) < 0.01
    assert not polarized(1, 1, 30, 0, 0.0, seed=0).any()
    assert polarized(1, 1, 30, 30, 0.0, seed=0).all()


def test_sliding_window_band():
    c = sliding_window(1, 2, 10, 3, causal=True)
    assert (c[0, 0] == c[0, 1]).all()
    assert list(c[0, 0].sum(1)) == [1, 2, 3, 3, 3, 3, 3, 3, 3, 3]
    assert not np.triu(c[0, 0], 1).any()
    s = sliding_window(1, 1, 10, 3, causal=False)[0, 0]
    assert list(s.sum(1)) == [3, 4, 5, 5, 5, 5, 5, 5, 4, 3] and (s == s.T).all()


def test_topk_keeps_exactly_k_per_row():
    t = topk(2, 2, 40, 7, seed=3)
    assert (t.sum(-1) == 7).all() and (t == topk(2, 2, 40, 7, seed=3)).all()


@pytest.mark.parametrize("call,needle", [
    (lambda: polarized(1, 1, 10, 11, 0.1, 0), "global_tokens"),
    (lambda: polarized(1, 1, 10, 1, 1.5, 0), "density"),
    (lambda: polarized(1, 1, 10, 1, float("nan"), 0), "density"),
    (lambda: polarized(0, 1, 10, 1, 0.1, 0), "layers"),
    (lambda: polarized(1, True, 10, 1, 0.1, 0), "heads"),
    (lambda: polarized(1, 1, 10, 1, 0.1, -1), "seed"),
    (lambda: sliding_window(1, 1, 10, 0, False), "window"),
    (lambda: topk(1, 1, 10, 11, 0), "k:"),
    (lambda: topk(1, 1, 2.5, 1, 0), "tokens"),
    (lambda: polarized(64, 64, 1 << 14, 1, 0.1, 0), "limit"),
])
def test_generator_arguments_are_checked(call, needle):
    with pytest.raises(InputError) as e:
        call()
    assert needle in str(e.value) and "\n" not in str(e.value)


# ---------------------------------------------------------------- reorder


def reorder_py(kept: np.ndarray, threshold: int) -> tuple[np.ndarray, int]:
    """reorder.py's calc(), restated: one edge key j -> query i per kept score; a node's
    out-degree is its column count; global nodes (out-degree > threshold) are swapped label
    by label with the position they go to through a placeholder label (200 in reorder.py,
    N here so that N > 200 works); the mask is rebuilt from the relabelled edges."""
    n = kept.shape[0]
    keys, queries = [], []
    for i in range(n):
        for j in range(n):
            if kept[i][j]:
                keys.append(j)
                queries.append(i)
    a, b = np.array(keys, dtype=np.int64), np.array(queries, dtype=np.int64)
    out_deg = np.bincount(a, minlength=n)
    hot = np.where(out_deg > threshold)[0]
    placeholder = n
    for i in range(len(hot)):
        a[a == i] = placeholder
        b[b == i] = placeholder
        a[a == hot[i]] = i
        b[b == hot[i]] = i
        a[a == placeholder] = hot[i]
        b[b == placeholder] = hot[i]
    new = np.zeros((n, n), dtype=bool)
    new[b, a] = True
    return new, len(hot)


@pytest.mark.parametrize("seed", range(8))
def test_reorder_equals_reorder_py_relabelling(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.choice([5, 30, 120, 199, 257]))
    col_p = rng.uniform(0, 1, n) ** 3
    kept = rng.random((n, n)) < col_p[None, :]
    threshold = int(rng.choice([0, 3, 50, n // 3]))
    got, gt = reorder(kept, threshold)
    want, want_gt = reorder_py(kept, threshold)
    assert gt == want_gt and (got == want).all()
    counts = got.sum(0)
    assert (counts[:gt] > threshold).all() and (counts[gt:] <= threshold).all()
    hot = np.flatnonzero(kept.sum(0) > threshold)
    order, _ = reorder_permutation(kept, threshold)
    assert list(order[:gt]) == list(hot)  # global columns first, ascending original index
    assert (reorder(got, threshold)[0] == got).all()  # idempotent: ViTCoD's reordered files pass unchanged


def test_reorder_permutation_example_from_the_docstring():
    kept = np.zeros((5, 5), bool)
    kept[:, [1, 3]] = True
    order, gt = reorder_permutation(kept, 4)
    assert gt == 2 and list(order) == [1, 3, 2, 0, 4]
    assert (reorder(kept, 4)[0] == reorder_py(kept, 4)[0]).all()


def test_reorder_rejects_a_non_square_mask():
    with pytest.raises(InputError):
        reorder(np.zeros((3, 4), bool), 1)
