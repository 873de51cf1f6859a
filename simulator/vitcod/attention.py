"""ViTCoD-compatible attention mode: the cycle counts of ViTCoD's own attention simulator.

Reproduces `Hardware/Simulator/ViTCoD.py` of GATECH-EIC/ViTCoD at commit b2f7fb5 (the version
whose arithmetic its committed log `vitcod_atten_0.95_wo.txt` matches; docs/vitcod-simulator.md
has the facts and the check). Its model, in short:

- One pass per layer, from head 0's mask only, reordered by reorder.py's rule
  (`workloads.attention_masks.reorder`, threshold 50): gt global key columns first, nnz kept
  scores in the other columns (all N rows). The other heads are modelled analytically: every
  load moves all heads' data of one token, each head gets H_eff/heads MAC rows, and all heads
  share head 0's split. Masks of heads >= 1 are ignored, as ViTCoD ignores them.
- 8-bit data over HBM at 76.8 GiB/s (binary: 76.8 * 1024^3 * 8 bit/s) at 500 MHz; every load
  call is rounded up to whole cycles on its own, and the callers make one call per token.
- A W-line array shared by a denser engine (dw lines) and a sparser engine (sw lines), split
  by the layer's dense ratio; the engines run concurrently, SDDMM (Q K^T) then SpMM (P V).
- Total = max(sum of preload cycles, sum of PRE (decoder) cycles + SDDMM + SpMM), the overlap
  taken once for the whole model.

b2f7fb5 uses PE_width (64) where the older versions use PE_height (8) as the MAC rows per
line, H_eff here (64 by default): its `--PE_width P` sets both W and H_eff to P
(`VitcodParams.from_pe_width`). `v_load_factor=1.5` reproduces the x1.5 sparse-V load of
the older versions and of the log's first run (then preload cycles are floats, as ViTCoD
prints them); `h_eff=8, v_load_factor=1.5` is 0b4031a's arithmetic. 13d9af1's per-token
decoder loads are not modelled.

Crash cases. ViTCoD's script stops with an exception on some inputs; here every input gives
a defined result, and `LayerCost.vitcod_crash` names the first exception ViTCoD would raise
in that layer (the script would then print nothing more: no later layer, no totals):
- ZeroDivisionError at reload_ratio = (N - gt) / (max_K / (heads*D*8) - gt), a value ViTCoD
  computes and never uses, when gt equals 54272 / (heads*D) exactly (e.g. 4 heads of 64 and
  gt = 212). No effect on the numbers here.
- gt = 0 and nnz = 0: ZeroDivisionError at dense_ratio = gt*N / (nnz + gt*N). Defined:
  dense_ratio = 0 (dw = 0, sw = W); every compute term is then 0.
- gt > 0 and dw = int(W * dense_ratio) = 0: ZeroDivisionError at dense SDDMM ceil(N / dw).
  Defined: the denser engine gets no work and the sparser engine takes the whole map with
  all W lines, the dense region counted as gt*N scores (as dense_ratio counts it) in SDDMM
  and as N*D*gt MACs in SpMM.
- sw = 0 (only when nnz = 0, e.g. every column global): ZeroDivisionError at sparse SDDMM
  ceil(nnz / sw). Defined: the sparser engine has no work; its cost is 0.
- gt = 0 (with nnz > 0): ViTCoD reloads Q (nnz/N times per query) and then fails at dense
  SpMM ceil(N*D*gt / int(dw*H_eff/heads)) = 0/0. Defined: the reload costs what ViTCoD adds
  up, c_qk * nnz load and p_tok * nnz PRE cycles (its per-query float nnz/N summed exactly),
  and the denser engine's SpMM is 0.
- More generally an engine whose SpMM MAC count int(lines*H_eff/heads) is 0 gets no SpMM
  work and the other engine does both parts with all W lines' MACs int(W*H_eff/heads).
- A Q/K token row (heads*ratio*D bytes) or V row (heads*D bytes) over the 53 KiB buffer:
  ViTCoD's SRAM.preload_* returns an unassigned variable (UnboundLocalError). Defined: the
  load costs its bandwidth time like any other.
Outside ViTCoD's model altogether (InputError): heads > W*H_eff, where a head would get
less than one MAC and the PRE formula divides by zero.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from workloads.attention_masks import reorder
from workloads.errors import InputError

BANDWIDTH_BITS_PER_S = 76.8 * 1024 * 1024 * 1024 * 8  # SRAM.py's HBM figure, binary GB; same float
CLOCK_HZ = 500 * 1e6
BITS = 8
BUFFER_BITS = 53 * 1024 * 8  # Q, K and V buffers (53 KiB each); the decoder chunk uses Q's


@dataclass(frozen=True)
class VitcodParams:
    """ViTCoD.py's knobs. head_dim: D, features per head; ratio: Q/K encoder compression
    (stored bytes per feature); threshold: reorder.py's absolute column count (> is global);
    width: W, lines of the shared array; h_eff: MAC rows per line shared by the heads (64 in
    b2f7fb5, 8 before); v_load_factor: 1 (b2f7fb5) or 1.5 (older) on the sparse V load."""

    head_dim: int = 64
    ratio: float = 2 / 3
    threshold: int = 50
    width: int = 64
    h_eff: int = 64
    v_load_factor: float = 1.0

    @classmethod
    def from_pe_width(cls, pe_width: int, **others: object) -> VitcodParams:
        """The knobs of ViTCoD.py b2f7fb5 run with `--PE_width pe_width`: that one flag is both
        W (the lines split between the engines) and H_eff (the MAC rows per line shared by the
        heads), since b2f7fb5 reads PE_width wherever the older versions read PE_height (its
        `--PE_height` is parsed and never read). Its `--feature_dim` is head_dim and its
        `--ratio` is ratio, in `others` with the other fields."""
        return cls(width=pe_width, h_eff=pe_width, **others)


@dataclass(frozen=True)
class LayerCost:
    """One layer, in cycles of the 500 MHz clock (dense_ratio and sparse_density: fractions)."""

    layer: int
    gt: int                  # global (dense) key columns of head 0
    nnz: int                 # kept scores of head 0 outside them (all N rows)
    sparse_density: float    # nnz / (N (N - gt)); 0 when gt = N (ViTCoD's "non-zeros" line)
    dense_ratio: float       # gt N / (nnz + gt N)
    dw: int                  # denser-engine lines
    sw: int                  # sparser-engine lines
    load_qk_dense: int       # ViTCoD's first "Dense SpMM dataloader" line (Q/K of global keys)
    load_qk_sparse: int      # its first "Sparse SpMM dataloader" line (K of the rest, Q reload)
    load_v_dense: int
    load_v_sparse: int | float
    pre_dense: int           # decoder (PRE) cycles, "Dense SpMM decoder"
    pre_sparse: int
    sddmm_dense: int
    sddmm_sparse: int
    spmm_dense: int
    spmm_sparse: int
    vitcod_crash: str | None  # the exception ViTCoD's script would raise here, or None

    @property
    def preload(self) -> int | float:
        return self.load_qk_dense + self.load_qk_sparse + self.load_v_dense + self.load_v_sparse

    @property
    def pre(self) -> int:
        return self.pre_dense + self.pre_sparse

    @property
    def sddmm(self) -> int:
        return max(self.sddmm_dense, self.sddmm_sparse)

    @property
    def spmm(self) -> int:
        return max(self.spmm_dense, self.spmm_sparse)

    def as_dict(self) -> dict:
        return {**asdict(self), "preload": self.preload, "pre": self.pre, "sddmm": self.sddmm,
                "spmm": self.spmm}


@dataclass(frozen=True)
class VitcodAttention:
    """The model: per-layer costs and ViTCoD's totals (cycles)."""

    heads: int
    tokens: int
    params: VitcodParams
    layers: tuple[LayerCost, ...]
    preload: int | float      # "total preloading cycles"
    pre: int                  # "total processing cycles"
    compute: int              # "total Computation cycles" = sum of SDDMM + SpMM
    total: int | float        # "Total cycles" = max(preload, pre + compute)
    mean_sparse_density: float
    first_crash_layer: int | None  # where ViTCoD's script would stop, or None

    def as_dict(self) -> dict:
        head = {k: getattr(self, k) for k in ("heads", "tokens", "preload", "pre", "compute", "total",
                                              "mean_sparse_density", "first_crash_layer")}
        return {**head, "params": asdict(self.params), "layers": [c.as_dict() for c in self.layers]}


def load_cycles(n_bytes: float, share: float = 1.0) -> int:
    """One SRAM.py load call: ceil(n_bytes * 8 bit / (76.8 GiB/s * share) * 500 MHz) cycles,
    in ViTCoD's float operation order (the ceil is per call, so per token)."""
    return math.ceil(n_bytes * BITS / (BANDWIDTH_BITS_PER_S * share) * CLOCK_HZ)


def _check_params(p: VitcodParams, heads: int) -> None:
    for name in ("head_dim", "width", "h_eff"):
        v = getattr(p, name)
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise InputError(f"{name}: expected an integer >= 1, got {v!r}")
    if isinstance(p.threshold, bool) or not isinstance(p.threshold, int) or p.threshold < 0:
        raise InputError(f"threshold: expected an integer >= 0, got {p.threshold!r}")
    if not (isinstance(p.ratio, (int, float)) and 0 < p.ratio < math.inf):
        raise InputError(f"ratio: expected a positive number, got {p.ratio!r}")
    if p.v_load_factor not in (1, 1.5):
        raise InputError(f"v_load_factor: expected 1 (ViTCoD b2f7fb5) or 1.5 (older versions), got {p.v_load_factor!r}")
    if heads > p.width * p.h_eff:
        raise InputError(f"heads: {heads} heads on W*H_eff = {p.width * p.h_eff} MACs leaves a head less than "
                         "one MAC, outside ViTCoD's model")


def _loads(gt: int, nnz: int, n: int, heads: int, p: VitcodParams) -> dict:
    """Load and PRE cycles of one layer (ViTCoD.py's loop bodies summed in closed form).

    c_qk = load(heads*ratio*D B), c_dec = load(heads*ratio B at 1/heads of the bandwidth),
    c_v = load(heads*D B), p_tok = ceil(heads*ratio*D / int(W*H_eff/heads)) PRE cycles:
      Q/K dense  = gt*c_qk + N*c_qk + 2*c_dec        (gt >= 1: Q loads with the first key)
      Q/K sparse = (N-gt)*c_qk + c_dec [if N > gt] + (gt = 0: nnz*c_qk + c_dec, Q reload)
      V dense    = gt*c_v;   V sparse = (N-gt)*c_v*v_load_factor
      PRE dense  = (gt + N)*p_tok [gt >= 1];   PRE sparse = (N-gt)*p_tok + (gt = 0: nnz*p_tok)
    """
    c_qk = load_cycles(heads * p.ratio * p.head_dim)
    c_dec = load_cycles(heads * p.ratio, 1 / heads)
    c_v = load_cycles(heads * p.head_dim)
    p_tok = math.ceil(heads * p.ratio * p.head_dim / int(p.width * p.h_eff / heads))
    reload = 0 if gt else nnz  # ViTCoD reloads Q only when no key column is global
    rest = n - gt
    v_sparse = rest * c_v if p.v_load_factor == 1 else rest * (c_v * p.v_load_factor)
    return {
        "load_qk_dense": (gt + n) * c_qk + 2 * c_dec if gt else 0,
        "load_qk_sparse": rest * c_qk + (c_dec if rest else 0) + (reload * c_qk + c_dec if not gt else 0),
        "load_v_dense": gt * c_v,
        "load_v_sparse": v_sparse,
        "pre_dense": (gt + n) * p_tok if gt else 0,
        "pre_sparse": (rest + reload) * p_tok,
    }


def _sddmm(gt: int, nnz: int, n: int, dw: int, sw: int, tiles: int, width: int) -> tuple[int, int]:
    """(dense, sparse) SDDMM cycles. tiles = ceil(D / (H_eff/heads)) cycles per dot product.
    dense = gt * ceil(N/dw) * tiles (per global column, a batch of dw queries at a time);
    sparse = ceil(nnz/sw) * tiles (each of the sw lines takes one kept score per step)."""
    if gt and not dw:  # ViTCoD: ceil(N / 0); the sparser engine takes the dense region too
        return 0, math.ceil((nnz + gt * n) / width) * tiles
    dense = gt * math.ceil(n / dw) * tiles if gt else 0
    if not sw:  # ViTCoD: ceil(nnz / 0); dw = W leaves sw = 0 only when nnz = 0, so this adds 0
        return dense + math.ceil(nnz / width) * tiles, 0
    return dense, math.ceil(nnz / sw) * tiles


def _spmm(gt: int, nnz: int, n: int, macs: tuple[int, int, int], d: int) -> tuple[int, int]:
    """(dense, sparse) SpMM cycles, MAC-pooled: dense = ceil(N*D*gt / int(dw*H_eff/heads)),
    sparse = ceil(nnz*D / int(sw*H_eff/heads)). macs = (dense, sparse, all W lines')."""
    md, ms, m_all = macs
    dense_work, sparse_work = n * d * gt, nnz * d
    if not md:  # ViTCoD divides by 0: the sparser engine takes both parts with all W lines
        return 0, math.ceil((dense_work + sparse_work) / m_all)
    if not ms:
        return math.ceil((dense_work + sparse_work) / m_all), 0
    return math.ceil(dense_work / md), math.ceil(sparse_work / ms)


def _vitcod_crash(gt: int, nnz: int, heads: int, dw: int, sw: int, macs: tuple[int, int, int],
                  p: VitcodParams) -> str | None:
    """The first exception ViTCoD.py (with SRAM.py) raises in this layer, in its execution order."""
    if heads * p.ratio * p.head_dim * BITS > BUFFER_BITS:
        return "UnboundLocalError in SRAM.preload_K: a Q/K token row exceeds the 53 KiB buffer"
    if BUFFER_BITS / (heads * p.head_dim * BITS) == gt:
        return "ZeroDivisionError at reload_ratio = (N - gt) / (max_K/(heads*D*8) - gt): gt equals max_K/(heads*D*8)"
    if gt == 0 and nnz == 0:
        return "ZeroDivisionError at dense_ratio = gt*N / (nnz + gt*N): gt = 0 and nnz = 0"
    if gt and not dw:
        return "ZeroDivisionError at dense SDDMM ceil(N / dw): dw = int(W * dense_ratio) = 0"
    if not sw:
        return "ZeroDivisionError at sparse SDDMM ceil(nnz / sw): sw = 0 (no sparse score)"
    if heads * p.head_dim * BITS > BUFFER_BITS:
        return "UnboundLocalError in SRAM.preload_V: a V token row exceeds the 53 KiB buffer"
    if not macs[0]:
        return "ZeroDivisionError at dense SpMM ceil(N*D*gt / int(dw*H_eff/heads)): the divisor is 0"
    if not macs[1]:
        return "ZeroDivisionError at sparse SpMM ceil(nnz*D / int(sw*H_eff/heads)): the divisor is 0"
    return None


def layer_cost(gt: int, nnz: int, n_tokens: int, heads: int, params: VitcodParams = VitcodParams(),
               layer: int = 0) -> LayerCost:
    """ViTCoD's cost of one layer from head 0's counts (cycles).

    dense_ratio = gt*N / (nnz + gt*N) (0 when both are 0); dw = int(W * dense_ratio) lines,
    sw = W - dw; SDDMM per `_sddmm`, SpMM per `_spmm`, loads and PRE per `_loads`; the crash
    cases as in the module docstring.
    """
    _check_params(params, heads)
    if not (0 <= gt <= n_tokens and 0 <= nnz <= n_tokens * (n_tokens - gt)):
        raise InputError(f"layer {layer}: gt = {gt}, nnz = {nnz} do not fit {n_tokens} tokens")
    n, p = n_tokens, params
    dense_ratio = gt * n / (nnz + gt * n) if gt or nnz else 0.0
    dw = int(p.width * dense_ratio)
    sw = p.width - dw
    tiles = math.ceil(p.head_dim / (p.h_eff / heads))
    macs = (int(dw * p.h_eff / heads), int(sw * p.h_eff / heads), int(p.width * p.h_eff / heads))
    sddmm_dense, sddmm_sparse = _sddmm(gt, nnz, n, dw, sw, tiles, p.width)
    spmm_dense, spmm_sparse = _spmm(gt, nnz, n, macs, p.head_dim)
    return LayerCost(
        layer=layer, gt=gt, nnz=nnz, sparse_density=nnz / (n * (n - gt)) if gt < n else 0.0,
        dense_ratio=dense_ratio, dw=dw, sw=sw, **_loads(gt, nnz, n, heads, p),
        sddmm_dense=sddmm_dense, sddmm_sparse=sddmm_sparse, spmm_dense=spmm_dense, spmm_sparse=spmm_sparse,
        vitcod_crash=_vitcod_crash(gt, nnz, heads, dw, sw, macs, p))


def vitcod_attention(masks: np.ndarray, params: VitcodParams = VitcodParams()) -> VitcodAttention:
    """ViTCoD's attention cycles for boolean masks (layers, heads, N, N), True = kept score.

    Per layer: head 0's mask reordered (threshold `params.threshold`), gt = its global
    columns, nnz = kept scores in columns gt..N-1; then `layer_cost`. Totals (cycles):
    preload = sum of loads, pre = sum of PRE, compute = sum of max(SDDMM engines) +
    max(SpMM engines), total = max(preload, pre + compute).
    """
    if masks.ndim != 4 or masks.shape[2] != masks.shape[3] or masks.dtype != bool or 0 in masks.shape:
        raise InputError(f"masks: expected a non-empty bool array (layers, heads, N, N), got "
                         f"{masks.dtype} {masks.shape}")
    n_layers, heads, n = masks.shape[:3]
    _check_params(params, heads)
    costs = []
    for layer in range(n_layers):
        reordered, gt = reorder(masks[layer, 0], params.threshold)
        costs.append(layer_cost(gt, int(reordered[:, gt:].sum()), n, heads, params, layer))
    preload = sum(c.preload for c in costs)
    pre = sum(c.pre for c in costs)
    compute = sum(c.sddmm + c.spmm for c in costs)
    crashed = [c.layer for c in costs if c.vitcod_crash]
    return VitcodAttention(
        heads=heads, tokens=n, params=params, layers=tuple(costs), preload=preload, pre=pre,
        compute=compute, total=max(preload, pre + compute),
        mean_sparse_density=sum(c.sparse_density for c in costs) / n_layers,
        first_crash_layer=crashed[0] if crashed else None)
