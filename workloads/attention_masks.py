"""Attention-map masks per layer and head, for the ViTCoD-compatible attention mode.

Convention: an array of shape (layers, heads, N, N), dtype bool, where mask[l, h, i, j] is
True when query i keeps its score against key j. A file holds the values 0 and 1 (bool,
integer or floating) and says which of them is kept through its convention (CONVENTIONS):
"kept" (1/True = kept, this project's) or "pruned" (1/True = pruned; ViTCoD's own files,
reorder.py's input `info_<p>.npy` and its output `reodered_info_<p>.npy`).

Sources:
- `load_mask_file`: a user's .npy file; `dense_kept_fraction` flags one that reads as more
  than half kept, probably a file in the other convention.
- `polarized`, `sliding_window`, `topk`: seeded synthetic masks.

`reorder` moves the "global" key columns to the front the way ViTCoD's reorder.py does
(the layout ViTCoD's attention simulator expects). `attention_core_workload` makes masks a
workload of the cycle-level simulator (the physical attention mode).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workloads.errors import InputError
from workloads.presets import ModelShape
from workloads.workload import Projection, Workload

MAX_MASK_BYTES = 2 << 30  # 2 GiB: checked on the file before reading, and on generated masks
# What a 1 (True) in a mask file means: "kept" (this project's convention) or "pruned" (ViTCoD's).
CONVENTIONS = ("kept", "pruned")
# Above this kept fraction a mask read with the default convention is probably the other one:
# masks worth simulating are sparse, and ViTCoD's files at sparsity p read inverted keep 1 - p.
DENSE_KEPT_FRACTION = 0.5


def load_mask_file(path: str | Path, convention: str = "kept") -> np.ndarray:
    """The boolean (layers, heads, N, N) mask stored in a .npy file (True = kept score).

    Accepted: a regular `.npy` file of at most MAX_MASK_BYTES holding a 4-D array
    (layers, heads, N, N) or a 3-D one (heads, N, N; read as one layer), N >= 1, of dtype
    bool, or integer or floating with every value 0 or 1 (floating is accepted because
    ViTCoD's reorder.py saves its masks as float64). `convention` "kept": 1 (True) = kept
    score, 0 = pruned; "pruned" (ViTCoD's files): 1 = pruned, 0 = kept. Pickled data is
    never loaded. Anything else raises InputError with one line naming the file.
    """
    if convention not in CONVENTIONS:
        raise InputError(f"mask convention: expected one of {', '.join(CONVENTIONS)}, got {convention!r}")
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: no such file; expected a .npy attention mask")
    if not p.is_file():
        raise InputError(f"{p}: not a regular file; expected a .npy attention mask")
    if p.suffix != ".npy":
        raise InputError(f"{p}: expected a .npy file (numpy array of shape (layers, heads, N, N))")
    size = p.stat().st_size
    if size > MAX_MASK_BYTES:
        raise InputError(f"{p}: {size} bytes, over the {MAX_MASK_BYTES >> 30} GiB limit for a mask file")
    try:
        arr = np.load(p, allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        first = (str(exc).splitlines() or [type(exc).__name__])[0]
        raise InputError(f"{p}: not a readable .npy array without pickled objects ({first})") from None
    if not isinstance(arr, np.ndarray):  # np.load returns an archive for .npz content
        arr.close()
        raise InputError(f"{p}: holds an .npz archive; expected a single .npy array")
    return _as_bool_mask(arr, p, convention)


def _as_bool_mask(arr: np.ndarray, p: Path, convention: str) -> np.ndarray:
    """Shape and dtype checks of a loaded array; the boolean kept-mask."""
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4:
        raise InputError(f"{p}: expected shape (layers, heads, N, N) or (heads, N, N), got {arr.shape}")
    if arr.shape[2] != arr.shape[3]:
        raise InputError(f"{p}: expected square N x N maps in the last two dimensions, got {arr.shape}")
    if 0 in arr.shape:
        raise InputError(f"{p}: expected at least one layer, head and token, got shape {arr.shape}")
    kind = arr.dtype.kind
    if kind not in "biuf" or arr.dtype.names is not None:
        raise InputError(f"{p}: expected dtype bool or integer/float 0/1, got {arr.dtype}")
    if kind != "b" and not ((arr == 0) | (arr == 1)).all():
        raise InputError(f"{p}: expected only the values 0 and 1 in a {arr.dtype} mask")
    kept = (arr == 0) if convention == "pruned" else (arr != 0)
    return np.ascontiguousarray(kept)


def dense_kept_fraction(masks: np.ndarray) -> float | None:
    """The kept fraction of `masks` (bool, True = kept; over every layer, head and score)
    when it is over DENSE_KEPT_FRACTION, else None. Such a mask is legitimate (a causal mask
    keeps (N + 1) / 2N of its scores) but is more likely a file in the other convention (a
    ViTCoD file at sparsity p read as kept keeps 1 - p), so callers warn rather than refuse."""
    kept = float(masks.mean())
    return kept if kept > DENSE_KEPT_FRACTION else None


def _check_int(name: str, value: object, low: int, high: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise InputError(f"{name}: expected an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bound = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise InputError(f"{name}: expected an integer {bound}, got {value}")
    return int(value)


def _check_shape(layers: int, heads: int, n: int) -> None:
    _check_int("layers", layers, 1)
    _check_int("heads", heads, 1)
    _check_int("tokens", n, 1)
    if layers * heads * n * n > MAX_MASK_BYTES:
        raise InputError(f"layers x heads x tokens^2 = {layers * heads * n * n} scores: over the "
                         f"{MAX_MASK_BYTES >> 30} GiB limit for a mask")


def polarized(layers: int, heads: int, n: int, global_tokens: int, density: float, seed: int) -> np.ndarray:
    """ViTCoD-style polarized mask: per (layer, head), `global_tokens` key columns chosen at
    random are kept for every query, and every other score is kept independently with
    probability `density`. global_tokens may be 0 (no dense column). Seeded with
    np.random.default_rng(seed); one draw sequence per (layer, head) in row-major order.

    Whether a column counts as global is decided later by `reorder`'s absolute threshold,
    so a column of the sparse rest can become global too, and a "global" column of a map
    with N <= threshold tokens does not.
    """
    _check_shape(layers, heads, n)
    g = _check_int("global_tokens", global_tokens, 0, n)
    if isinstance(density, bool) or not isinstance(density, (int, float)) or not 0.0 <= density <= 1.0:
        raise InputError(f"density: expected a number in [0, 1], got {density!r}")
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    out = np.empty((layers, heads, n, n), dtype=bool)
    for lh in np.ndindex(layers, heads):
        m = rng.random((n, n)) < density
        m[:, rng.choice(n, size=g, replace=False)] = True
        out[lh] = m
    return out


def sliding_window(layers: int, heads: int, n: int, window: int, causal: bool) -> np.ndarray:
    """Band mask, the same for every layer and head. Causal: query i keeps keys j with
    0 <= i - j < window (itself and the window - 1 before it, as Mistral's sliding window).
    Non-causal: |i - j| < window (itself and window - 1 keys on each side)."""
    _check_shape(layers, heads, n)
    w = _check_int("window", window, 1, n)
    d = np.arange(n)[:, None] - np.arange(n)[None, :]
    band = (d >= 0) & (d < w) if causal else np.abs(d) < w
    return np.ascontiguousarray(np.broadcast_to(band, (layers, heads, n, n)))


def topk(layers: int, heads: int, n: int, k: int, seed: int) -> np.ndarray:
    """Per (layer, head) and query row, the k keys with the largest of N i.i.d. uniform scores
    (np.random.default_rng(seed), one draw per (layer, head) in row-major order): every row
    keeps exactly k scores, the columns a Binomial-like number."""
    _check_shape(layers, heads, n)
    kk = _check_int("k", k, 1, n)
    rng = np.random.default_rng(_check_int("seed", seed, 0))
    out = np.zeros((layers, heads, n, n), dtype=bool)
    for lh in np.ndindex(layers, heads):
        top = np.argpartition(rng.random((n, n)), n - kk, axis=1)[:, n - kk:]
        np.put_along_axis(out[lh], top, True, axis=1)
    return out


def reorder_permutation(mask2d: np.ndarray, threshold: int) -> tuple[np.ndarray, int]:
    """(order, gt): the permutation ViTCoD's reorder.py applies, as `order[new] = old`.

    A key column is global when its kept count (queries keeping it) is > threshold: strict,
    an absolute count. With h_0 < h_1 < ... < h_{gt-1} the global columns' original
    indices, reorder.py's relabelling loop is, for k = 0, 1, ..., gt-1 in turn, the exchange
    of whatever sits at positions k and h_k. Since h_k >= k and nothing has yet moved
    position h_k, global column h_k ends at position k (the global columns in ascending
    original order at the front); a non-global column displaced from position k lands at
    h_k and may be displaced again, so the non-global columns do not keep their order.
    Example: N = 5, global {1, 3} -> order [1, 3, 2, 0, 4]. reorder.py exchanges labels
    through the placeholder 200, so it only works for N <= 200; this has no such limit.
    """
    counts = mask2d.sum(axis=0)
    hot = np.flatnonzero(counts > threshold)
    order = np.arange(mask2d.shape[0])
    for k, h in enumerate(hot):
        order[k], order[h] = order[h], order[k]
    return order, int(hot.size)


def reorder(mask2d: np.ndarray, threshold: int) -> tuple[np.ndarray, int]:
    """(reordered_mask, gt): one head's N x N boolean mask (True = kept) with the same
    permutation (`reorder_permutation`) applied to rows and columns, so the gt global key
    columns come first; reordered[i, j] = mask2d[order[i], order[j]]. Column kept counts
    are unchanged by the row permutation, so reordering a reordered mask with the same
    threshold changes nothing (ViTCoD's `reodered_*` files can be passed as they are)."""
    if mask2d.ndim != 2 or mask2d.shape[0] != mask2d.shape[1]:
        raise InputError(f"reorder: expected a square N x N mask, got shape {mask2d.shape}")
    order, gt = reorder_permutation(mask2d, _check_int("threshold", threshold, 0))
    return mask2d[np.ix_(order, order)], gt


def attention_core_workload(masks: np.ndarray, head_dim: int) -> Workload:
    """The attention core alone under `masks` (bool (layers, heads, N, N), True = kept), as a
    layer-scope prefill of N tokens, batch 1, `head_dim` features per head, one K/V head per
    query head (ViT attention). Every projection is empty (m = n = 0: no compute, no bytes),
    so a layer's attention ops (per head SDDMM, softmax, SpMM, then the output write) start
    once its empty projections are done and run alone on the engines; the norms and residual
    adds still run on the vector unit before and after them."""
    if masks.ndim != 4 or masks.dtype != np.bool_ or masks.shape[2] != masks.shape[3]:
        raise InputError(f"attention masks: expected a bool (layers, heads, N, N) array, "
                         f"got {masks.dtype} {masks.shape}")
    layers, heads, n, _ = masks.shape
    d = _check_int("head_dim", head_dim, 1)
    shape = ModelShape("attention-core", heads * d, heads * d, heads, heads, layers, d)

    def layer_projections(layer: int) -> list[Projection]:
        return [Projection(layer, name, module, 0, 0, 0, None) for name, module, _, _ in shape.projections()]

    return Workload(shape, "prefill", 1, n, f"attention core: {layers} layers x {heads} heads, N = {n}, D = {d}",
                    layer_projections, "layer", 0, masks.__getitem__)
