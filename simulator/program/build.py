"""From a workload and a hardware config to the flat tile program the scheduler runs.

Per projection (compressed): S is split by column density (ViTCoD): dense columns form a
dense GEMM on the denser engine (zeros included), the rest run on the sparser engine; V X
then U (V X) run on the denser engine; `out` writes the summed output. The dense baseline
has one dense GEMM W X per projection. Every buffer is split evenly between the two
engines, except the index buffer, which only the sparser engine reads; the whole buffer
goes to an op that has the array to itself: every op when it is time-multiplexed; on a
shared array the dense baseline's projections, the dense attention core and the vector
unit (memory.buffers.op_buffer_slots). Each engine's share is split into `slots`.

Loop order of every op: token tile (outer), output tile, reduction tile (inner). Inputs are
re-fetched for every output tile unless the whole reduction dimension of a token tile fits
in the input slot.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field, replace
from typing import Callable

import numpy as np

from simulator.config import HardwareConfig
from simulator.engines.nm import nm_compressed_k
from simulator.engines.sparser import ASSIGNMENTS, MAPPINGS
from simulator.engines.systolic import DATAFLOWS
from simulator.program.layer_ops import (HeadMask, attention_template, check_attention_masks, head_masks, masked_template,
                                         selected_scores, vector_tiles, writeback_bytes)
from simulator.energy.actions import N_ACTIONS, OUT_READ_BITS, USEFUL_MACS
from simulator.program.kernels import dense_op_tiles, nm_op_tiles, sparse_op_tiles
from simulator.program.nm import nm_tile_config, runs_nm
from simulator.memory.buffers import Slots, op_buffer_slots
from simulator.program.shapes import dense_tile_count, dense_tile_shape, sparse_tile_shape
from workloads.graph import layer_graph, op_graph, program_order
from workloads.masks import column_order
from workloads.workload import Projection, Workload

DENSER, SPARSER, VECTOR, WRITEBACK = 0, 1, 2, 3


@dataclass
class Program:
    """Ops in program (topological) order and their tiles, as flat arrays."""

    op_name: list[str] = field(default_factory=list)
    op_layer: list[int] = field(default_factory=list)
    op_proj: list[str] = field(default_factory=list)
    op_module: list[str] = field(default_factory=list)
    op_part: list[str] = field(default_factory=list)  # S_dense S_sparse V U W out
    op_stream: list[int] = field(default_factory=list)
    op_engine: list[int] = field(default_factory=list)  # physical engine for utilization: 0/1, 2 none
    op_engine_macs: list[int] = field(default_factory=list)  # MACs per cycle of the engine running it
    op_deps: list[list[int]] = field(default_factory=list)
    op_wb_bytes: list[int] = field(default_factory=list)
    op_tile_shape: list[tuple[int, int, int]] = field(default_factory=list)
    op_tile_count: list[int] = field(default_factory=list)
    op_macs: list[int] = field(default_factory=list)  # useful MACs
    op_bytes: list[int] = field(default_factory=list)  # operand bytes its tiles load
    op_weight_bytes: list[int] = field(default_factory=list)  # of which weights + indices
    op_actions: list[np.ndarray] = field(default_factory=list)  # energy/actions.py counts per op
    # every tile's bytes, compute cycles and weight bytes (rows), in program order; the kernels
    # write into it directly: a whole 7B prefill is ~16 M tiles, and concatenating per-op
    # arrays afterwards cost as much as the scheduling
    tiles: np.ndarray = field(default_factory=lambda: np.empty((3, 1 << 16), np.int64))
    n_tiles: int = 0

    def room(self, n: int, ahead: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The tile rows, with space for n more tiles after n_tiles + ahead (grown
        geometrically); `ahead`: tiles of the op being tiled already written after n_tiles."""
        if self.n_tiles + ahead + n > self.tiles.shape[1]:
            grown = _tile_rows(max(2 * self.tiles.shape[1], self.n_tiles + ahead + n))
            grown[:, :self.n_tiles + ahead] = self.tiles[:, :self.n_tiles + ahead]
            self.tiles = grown
        return self.tiles[0], self.tiles[1], self.tiles[2]

    def arrays(self, lo: int = 0) -> dict[str, np.ndarray]:
        """The scheduler's arrays of ops lo.. (renumbered from 0) and the tiles held now (theirs).
        A dependency on an op before lo is left out of op_dep_* and listed in op_ext_*
        (global op index): the caller folds its completion into schedule()'s op_ext."""
        n = len(self.op_name) - lo
        local = [[d - lo for d in ds if d >= lo] for ds in self.op_deps[lo:]]
        ext = [[d for d in ds if d < lo] for ds in self.op_deps[lo:]]
        dep_ptr, ext_ptr, tile_ptr = (np.zeros(n + 1, np.int64) for _ in range(3))
        dep_ptr[1:] = np.cumsum([len(d) for d in local])
        ext_ptr[1:] = np.cumsum([len(d) for d in ext])
        tile_ptr[1:] = np.cumsum(self.op_tile_count[lo:])
        return {
            "op_stream": np.asarray(self.op_stream[lo:], np.int64),
            "op_dep_ptr": dep_ptr,
            "op_dep_idx": np.asarray([d for ds in local for d in ds], np.int64),
            "op_ext_ptr": ext_ptr,
            "op_ext_idx": np.asarray([d for ds in ext for d in ds], np.int64),
            "op_wb_bytes": np.asarray(self.op_wb_bytes[lo:], np.int64),
            "op_tile_ptr": tile_ptr,
            "tile_bytes": self.tiles[0, :self.n_tiles],
            "tile_cycles": self.tiles[1, :self.n_tiles],
            "tile_weight_bytes": self.tiles[2, :self.n_tiles],
        }


# Large tile-row buffers that no program or result refers to any more, kept for the next
# program: mapping ~0.4 GB of fresh memory per run cost ~0.4 s of kernel time (huge-page
# zeroing and compaction), a fifth of a 7B prefill. At most _KEEP are kept; a buffer is
# reused only when the pool holds the last reference to it (no Program, RunResult or view
# of it is alive), so a result is never overwritten.
_POOL: list[np.ndarray] = []
_KEEP = 2
_POOLED = 1 << 20  # tiles; smaller buffers come from malloc's own free lists


def _tile_rows(n: int) -> np.ndarray:
    """A (3, >= n) int64 array for tile rows: a free pooled one, else a new one (pooled
    when large, replacing a free smaller one if the pool is full)."""
    for buf in _POOL:
        if buf.shape[1] >= n and sys.getrefcount(buf) <= 3:  # the pool, `buf`, the call's argument
            return buf
    buf = np.empty((3, n), np.int64)
    if n >= _POOLED:
        free = [i for i, b in enumerate(_POOL) if sys.getrefcount(b) <= 3]
        if len(_POOL) >= _KEEP and free:
            del _POOL[free[0]]
        if len(_POOL) < _KEEP:
            _POOL.append(buf)
    return buf


# ---------------------------------------------------------------- engines seen by an op


@dataclass(frozen=True)
class _Dense:
    kind: int
    dataflow: int
    R: int
    C: int
    physical: bool
    latency: int
    quirk: bool
    packing: bool

    @property
    def macs(self) -> int:
        return self.R * self.C

    @property
    def granularity(self) -> tuple[int, int]:
        # (K, N) granularity: systolic WS/IS fold K over rows; lines fold K over MACs per line
        return self.R, self.C


def _dense_engine(hw: HardwareConfig, lines: int | None = None) -> _Dense:
    d = hw.denser_engine
    if d.kind == "mac_lines":
        return _Dense(1, 0, d.rows, lines if lines is not None else d.cols, False, d.pipeline_latency, False,
                      d.packing)
    return _Dense(0, DATAFLOWS[d.dataflow], d.rows, d.cols, d.timing == "physical", 0, d.timing == "scalesim", False)


def _shared_split(hw: HardwareConfig, dense_macs: int, sparse_macs: int, has_sparse: bool) -> tuple[int, int]:
    """ViTCoD: dw = int(W x dense_ratio), sw = W - dw, with dense_ratio = dense MACs / all MACs;
    each engine keeps at least one line when it has work (ViTCoD's script crashes there)."""
    W = hw.denser_engine.cols
    total = dense_macs + sparse_macs
    dw = int(W * dense_macs / total) if total else W
    if dense_macs and dw == 0:
        dw = 1
    if has_sparse and dw == W:
        dw = W - 1
    return dw, W - dw


# ---------------------------------------------------------------- the program


@dataclass
class _SSplit:
    """The ViTCoD column split of one S and the unit statistics it leaves the sparser engine."""

    dense: np.ndarray  # columns computed densely on the denser engine
    order: np.ndarray  # sparse columns in processing order
    by_column: bool  # units are columns (CSC) or rows (CSR, bitmask)
    nnz_sparse: int
    nnz_dense: int  # non-zeros in the dense columns (the rest of them are computed zeros)
    mask: object
    blocks: np.ndarray | None  # column units: per (row block, column) counts at `block_tm`
    block_tm: int

    def unit_counts(self, tm: int, tk: int) -> np.ndarray:
        if self.by_column:
            return self.blocks if tm == self.block_tm else self.mask.column_block_counts(tm)
        return self.mask.row_block_counts(self.order, tk)


def split_S(q: Projection, hw: HardwareConfig, slots: Slots, T: int) -> _SSplit:
    """Columns denser than the threshold go to the denser engine; the rest are reordered by
    non-zero count (when the threshold is below 1) for the sparser engine."""
    by_column = hw.sparser_engine.format == "csc"
    thr = hw.split.density_threshold
    blocks, tm = None, 0
    if by_column:  # realised column counts come from the same draws the tiles use
        _, tm, _, _ = sparse_tile_shape(hw, slots, T, q.m, q.n, True, f"L{q.layer}.{q.name}")
        blocks = q.mask.column_block_counts(tm)
        counts = blocks.sum(axis=0).astype(np.int64)
    else:
        counts = q.mask.column_counts()
    dense, order = column_order(counts, q.m, thr, thr < 1.0)
    return _SSplit(dense, order.astype(np.int64), by_column, int(counts[order].sum()), int(counts[dense].sum()),
                   q.mask, blocks, tm)


def build_program(workload: Workload, hw: HardwareConfig,
                  on_layer: Callable[[Program, int], None] | None = None) -> Program:
    """Tile every op of the workload for `hw`, one layer's projections in memory at a time.

    on_layer(prog, lo): called when a layer's ops (lo..) are complete; its tiles are then
    dropped, so the program holds one layer's tiles at a time (memory independent of depth).
    The ops of a layer are contiguous in program order: every op of a layer feeds its
    output, which the next layer's ops read. None: keep every tile."""
    return _Builder(workload, hw, on_layer).run()


class DecodeCore:
    """The attention core of one KV-head group of one layer of a layer-scope decode step (qk,
    softmax, pv, in that order), tiled by the builder that tiles build_program's: a decode
    step attends its KV cache without masks, so every layer and group of the step has these
    same ops (one template per part). `first`: the workload's first layer's projections."""

    def __init__(self, workload: Workload, hw: HardwareConfig, first: list[Projection]) -> None:
        if workload.phase != "decode" or workload.scope != "layer" or workload.attention_masks is not None:
            raise ValueError("DecodeCore: a layer-scope decode step without attention masks only")
        self.workload, self.hw, self.first = workload, hw, first
        parts = {q.name: ("W",) if q.mask is None else ("S", "V", "U") for q in first}
        one = layer_graph(1, parts, 1)
        self.graph = one.subgraph([f"L0.attn_core.{part}.g0" for part in ("qk", "softmax", "pv")]).copy()

    def program(self, context: int) -> Program:
        """The three ops of a step attending `context` cached tokens (+ its own)."""
        w = replace(self.workload, context=context)
        return _Builder(w, self.hw, None, self.graph, self.first).run()


def _op_graph(workload: Workload, first: list[Projection], masked: bool):
    """The op graph of the workload: a whole decoder layer's nodes at layer scope, else its projections'."""
    # ranks may differ per layer: a node with no work (rank 0, empty S) forwards its inputs
    parts = {q.name: ("W",) if q.mask is None else ("S", "V", "U") for q in first}
    if workload.scope == "layer":
        return layer_graph(workload.model.num_layers, parts, workload.model.num_key_value_heads,
                           workload.model.num_attention_heads if masked else None)
    return op_graph(workload.model.num_layers, [q.name for q in first], parts)


class _Builder:
    """One build_program call: its state, and one method per kind of op it tiles. Every op is
    recorded by add_op."""

    def __init__(self, workload: Workload, hw: HardwareConfig, on_layer: Callable[[Program, int], None] | None,
                 graph=None, first: list[Projection] | None = None) -> None:
        """graph: tile only these nodes (default: the workload's whole op graph); first: the
        first layer's projections when the caller holds them."""
        self.workload, self.hw, self.on_layer = workload, hw, on_layer
        self.prog = Program()
        self.window_lo = 0  # first op of the layer not yet handed to on_layer
        self.T = workload.tokens
        self.policy = hw.split.policy
        self.sp_stream = DENSER if self.policy == "time_multiplexed" else SPARSER
        first = workload.layer_projections(0) if first is None else first
        self.layer_scope = workload.scope == "layer"
        check_attention_masks(workload)
        masked = self.layer_scope and workload.attention_masks is not None  # the attention core runs per head, sparse
        # per op (memory.buffers.op_buffer_slots): projections and masked attention heads share a
        # shared array with the other engine (a dense model's projections, unless masked attention
        # uses the sparser engine, do not); the dense attention core and the vector unit run alone
        dense_model = all(q.mask is None for q in first) and not masked
        self.slots = op_buffer_slots(hw, not dense_model)
        self.alone_slots = op_buffer_slots(hw, False)
        self.graph = _op_graph(workload, first, masked) if graph is None else graph
        # node -> the ops whose completion completes it (a node with no ops forwards its inputs)
        self.done_by: dict[str, list[int]] = {}
        self.projections: dict[str, Projection] = {q.name: q for q in first}
        # per projection: split, denser engine, sparser lines
        self.splits: dict[str, tuple[_SSplit, _Dense, int]] = {}
        self.templates: dict[str, tuple[np.ndarray, int, tuple]] = {}  # attention core: one sequence's tiles per part
        self.heads_of: dict[int, list[HeadMask]] = {}  # masked attention: the current layer's heads
        self.layer_loaded = 0
        self.act = np.zeros(N_ACTIONS, np.int64)  # the actions of the op being tiled (kernels add to it)

    def run(self) -> Program:
        """Tiles every node in program order; a node with no ops forwards its inputs' completion."""
        for node in program_order(self.graph):
            attrs = self.graph.nodes[node]
            if attrs["layer"] != self.layer_loaded:
                self.next_layer(attrs["layer"])
            self.done_by[node] = []
            if attrs["proj"] in self.projections:
                self.projection_op(node, attrs)
            else:
                self.layer_op(node, attrs)
            if not self.done_by[node]:
                self.done_by[node] = self.inputs_done_by(node)
        if self.on_layer is not None:
            self.on_layer(self.prog, self.window_lo)
            # hand the tile rows back to the pool (_tile_rows) for the next program
            self.prog.n_tiles, self.prog.tiles = 0, np.empty((3, 0), np.int64)
        return self.prog

    def next_layer(self, layer: int) -> None:
        """Streams: one layer's projections (and masks) at a time."""
        prog = self.prog
        if self.on_layer is not None:
            self.on_layer(prog, self.window_lo)
            self.window_lo, prog.n_tiles = len(prog.op_name), 0
        elif layer == 1:  # layers repeat: size the tile rows for all of them at once
            prog.room(prog.n_tiles * (self.workload.model.num_layers - 1) * 9 // 8)
        self.projections = {q.name: q for q in self.workload.layer_projections(layer)}
        self.splits.clear()
        self.layer_loaded = layer

    def add_op(self, node: str, name: str, part: str, stream: int, engine: int, macs: int,
               tiles: tuple[int, int] | None, shape: tuple[int, int, int], wb_bytes: int = 0) -> None:
        """Records an op whose tiles (count, useful MACs) the kernel just wrote at n_tiles, with
        the actions its kernels added to self.act (then cleared for the next op)."""
        prog = self.prog
        deps = self.inputs_done_by(node)
        act, self.act = self.act, np.zeros(N_ACTIONS, np.int64)
        if tiles is not None and tiles[0] == 0:
            return
        act[OUT_READ_BITS] += 8 * wb_bytes  # a write-back reads its result out of the output buffer
        prog.op_actions.append(act)
        attrs = self.graph.nodes[node]
        count, mc = tiles if tiles is not None else (0, 0)
        prog.op_bytes.append(int(prog.tiles[0, prog.n_tiles:prog.n_tiles + count].sum()))
        prog.op_weight_bytes.append(int(prog.tiles[2, prog.n_tiles:prog.n_tiles + count].sum()))
        prog.op_name.append(f"L{attrs['layer']}.{name}.{part}")
        prog.op_layer.append(attrs["layer"])
        prog.op_proj.append(name)
        prog.op_module.append(attrs.get("module") or self.projections[name].module)
        prog.op_part.append(part)
        prog.op_stream.append(stream)
        prog.op_engine.append(engine)
        prog.op_engine_macs.append(macs)
        prog.op_deps.append(deps)
        prog.op_wb_bytes.append(wb_bytes)
        prog.op_tile_shape.append(shape)
        prog.op_tile_count.append(int(count))
        prog.op_macs.append(int(mc))
        prog.n_tiles += int(count)
        self.done_by[node].append(len(prog.op_name) - 1)

    def inputs_done_by(self, node: str) -> list[int]:
        return sorted({op for pred in self.graph.predecessors(node) for op in self.done_by[pred]})

    def dense_tiles(self, eng: _Dense, K: int, N: int, label: str, useful: int | None = None,
                    slots: Slots | None = None) -> tuple[tuple[int, int], tuple[int, int, int]]:
        """Writes a dense GEMM's tiles (T x K by K x N on `eng`) at n_tiles: (count, MACs), tile
        shape; adds its actions, with `useful` MACs (None: all T K N are); `slots`: the op's
        buffer slots (None: a projection's, self.slots)."""
        if K == 0 or N == 0:
            return (0, 0), (0, 0, 0)
        hw, T, p, prog = self.hw, self.T, self.hw.precision, self.prog
        gK, gN = eng.granularity
        sh = dense_tile_shape(hw, self.slots if slots is None else slots, T, K, N, gK, gN, label)
        out = prog.room(dense_tile_count(sh, T, K, N))
        t = dense_op_tiles(T, K, N, sh.nest, sh.tt, sh.tk, sh.tn, sh.block, sh.reuse_inputs, p.weight_bits,
                           p.activation_bits, p.output_bits, eng.kind, eng.dataflow, eng.R, eng.C, eng.physical,
                           eng.latency, eng.quirk, eng.packing, *out, prog.n_tiles, self.act)
        self.act[USEFUL_MACS] += t[1] if useful is None else useful
        return t, sh.as_tuple()

    def room(self, n: int, ahead: int = 0) -> tuple:
        """The tile rows with space for n more after the op's first `ahead` tiles, where they
        start (layer_ops' kernels write there) and the op's action counts (which they add to)."""
        return (*self.prog.room(n, ahead), self.prog.n_tiles + ahead, self.act)

    def put(self, tpl: np.ndarray, act: np.ndarray) -> int:
        """Writes one sequence's tiles once per sequence of the batch at n_tiles, adding its
        actions `act` once per sequence; returns the count."""
        prog = self.prog
        self.act += act * self.workload.batch
        n = tpl.shape[1] * self.workload.batch
        prog.room(n)
        prog.tiles[:, prog.n_tiles:prog.n_tiles + n] = np.tile(tpl, self.workload.batch)
        return n

    def layer_op(self, node: str, attrs: dict) -> None:
        """The ops of the decoder layer that are not projections (layer_ops.py)."""
        workload, hw = self.workload, self.hw
        proj, part = attrs["proj"], attrs["part"]
        if part == "out":
            self.add_op(node, proj, "out", WRITEBACK, WRITEBACK, 0, None, (0, 0, 0),
                        writeback_bytes(proj, workload, hw))
        elif attrs["head"] >= 0:
            self.masked_head_op(node, attrs)
        elif part == "vec":
            self.add_op(node, proj, "vec", VECTOR, VECTOR, hw.vector_unit.lanes,
                        vector_tiles(proj, workload, hw, self.alone_slots, self.room), (0, 0, 0))
        elif part == "softmax":  # a top-k budget's selection first, then the softmax over the kept scores
            sel = selected_scores(workload)
            n_sel = vector_tiles("select", workload, hw, self.alone_slots, self.room, sel)[0] if sel else 0
            n_soft = vector_tiles("softmax", workload, hw, self.alone_slots, lambda n: self.room(n, n_sel))[0]
            self.add_op(node, proj, f"softmax.g{attrs['group']}", VECTOR, VECTOR, hw.vector_unit.lanes,
                        (n_sel + n_soft, 0), (0, 0, 0))
        else:  # qk, pv: one sequence's template repeated per sequence
            eng = _dense_engine(hw)
            if part not in self.templates:
                self.templates[part] = attention_template(part, workload, hw, self.alone_slots, eng)
            tpl, macs, shape, act = self.templates[part]
            self.add_op(node, proj, f"{part}.g{attrs['group']}", DENSER, DENSER, eng.macs, (self.put(tpl, act), macs),
                        shape)

    def masked_head_op(self, node: str, attrs: dict) -> None:
        """One query head's SDDMM (qk: dense and sparse part), softmax over its kept scores,
        or SpMM (pv: dense and sparse part), under its attention mask (layer_ops.py)."""
        workload, hw, e = self.workload, self.hw, self.hw.sparser_engine
        layer, h, part = attrs["layer"], attrs["head"], attrs["part"]
        if layer not in self.heads_of:  # masks stream layer by layer, as projections do
            self.heads_of.clear()
            self.heads_of[layer] = head_masks(workload, layer, hw.split.density_threshold)
        head = self.heads_of[layer][h]
        if part == "softmax":
            t = vector_tiles("softmax", workload, hw, self.slots, self.room, head.kept * workload.batch)
            self.add_op(node, "attn_core", f"softmax.h{h}", VECTOR, VECTOR, hw.vector_unit.lanes, t, (0, 0, 0))
            return
        if self.policy == "shared_width":  # this head's dense ratio: N gt dense scores against its sparse kept ones
            dw, lines = _shared_split(hw, workload.seq * len(head.dense), head.nnz_sparse, len(head.order) > 0)
            deng = _dense_engine(hw, dw)
        else:
            deng, lines = _dense_engine(hw), e.lines
        for kind in (f"{part}_dense", f"{part}_sparse"):
            tpl = masked_template(kind, head, workload, hw, self.slots, deng, lines)
            if tpl is None:
                continue
            tiles, macs, shape, act = tpl
            if kind.endswith("_dense"):
                self.add_op(node, "attn_core", f"{kind}.h{h}", DENSER, DENSER, deng.macs,
                            (self.put(tiles, act), macs), shape)
            else:
                self.add_op(node, "attn_core", f"{kind}.h{h}", self.sp_stream, SPARSER, lines * e.macs_per_line,
                            (self.put(tiles, act), macs), shape)

    def projection_op(self, node: str, attrs: dict) -> None:
        """One part of a projection: its output write, its dense W, or a part of S + U V."""
        q = self.projections[attrs["proj"]]
        part = attrs["part"]
        label = f"L{attrs['layer']}.{q.name}"
        if part == "out":  # k and v outputs are the KV cache in a whole-layer run
            p = self.hw.precision
            bits = p.kv_bits if self.layer_scope and q.name in ("k_proj", "v_proj") else p.output_bits
            self.add_op(node, q.name, "out", WRITEBACK, WRITEBACK, 0, None, (0, 0, 0),
                        math.ceil(q.m * self.T * bits / 8))
        elif part == "W":  # an empty projection (m or n = 0) records nothing and forwards its inputs
            eng = _dense_engine(self.hw)
            t, shape = self.dense_tiles(eng, q.n, q.m, label)
            self.add_op(node, q.name, "W", DENSER, DENSER, eng.macs, t, shape)
        else:
            self.compressed_op(node, q, part, label)

    def split_of(self, q: Projection) -> tuple[_SSplit, _Dense, int]:
        """Once per projection: the S split and the engines it leaves (denser engine, sparser lines)."""
        if q.name not in self.splits:
            hw = self.hw
            sp = split_S(q, hw, self.slots, self.T)
            if self.policy == "shared_width":
                dense_macs = q.m * len(sp.dense) + q.rank * (q.m + q.n)
                dw, sw = _shared_split(hw, dense_macs, sp.nnz_sparse, len(sp.order) > 0)
                self.splits[q.name] = (sp, _dense_engine(hw, dw), sw)
            else:
                self.splits[q.name] = (sp, _dense_engine(hw), hw.sparser_engine.lines)
        return self.splits[q.name]

    def compressed_op(self, node: str, q: Projection, part: str, label: str) -> None:
        """S (its dense columns, then its sparse rest; or one N:M GEMM, program/nm.py), V X or
        U (V X) of a compressed projection. The parts of an N:M projection run on every line of a
        shared array, beside no sparser op: they get the buffers of an op alone (op_buffer_slots)."""
        deng = self.nm_engine(q)
        slots = None if deng is None else self.alone_slots
        if deng is not None and part == "S":
            self.nm_op(node, q, deng, label)
            return
        if deng is None:
            sp, deng, sw = self.split_of(q)
        if part == "S":
            if len(sp.dense):
                t, shape = self.dense_tiles(deng, len(sp.dense), q.m, label + ".S_dense", sp.nnz_dense * self.T)
                self.add_op(node, q.name, "S_dense", DENSER, DENSER, deng.macs, t, shape)
            if len(sp.order):
                self.sparse_op(node, q, sp, sw, label)
        elif part == "V":
            t, shape = self.dense_tiles(deng, q.n, q.rank, label + ".V", slots=slots)
            self.add_op(node, q.name, "V", DENSER, DENSER, deng.macs, t, shape)
        elif part == "U":
            t, shape = self.dense_tiles(deng, q.rank, q.m, label + ".U", slots=slots)
            self.add_op(node, q.name, "U", DENSER, DENSER, deng.macs, t, shape)

    def nm_engine(self, q: Projection) -> _Dense | None:
        """Once per projection: the denser engine running its S as N:M (every line of a shared
        array: the sparser engine has no work), or None when S runs as before (cached by split_of)."""
        if q.name in self.splits:
            sp, deng, _ = self.splits[q.name]
            return deng if sp is None else None
        if not runs_nm(q, self.hw):
            return None
        deng = _dense_engine(self.hw, self.hw.denser_engine.cols if self.policy == "shared_width" else None)
        self.splits[q.name] = (None, deng, 0)
        return deng

    def nm_op(self, node: str, q: Projection, eng: _Dense, label: str) -> None:
        """S as one GEMM over the n:m slots of its reduction on the denser engine (engines/nm.py)."""
        hw, T, p, prog, nm = self.hw, self.T, self.hw.precision, self.prog, self.hw.denser_engine.nm_sparsity
        Kc = nm_compressed_k(q.n, nm.n, nm.m)
        gK, gN = eng.granularity
        sh = dense_tile_shape(nm_tile_config(hw), self.alone_slots, T, Kc, q.m, gK, gN, label + ".S_nm")
        out = prog.room(dense_tile_count(sh, T, Kc, q.m))
        t = nm_op_tiles(T, Kc, q.m, sh.nest, sh.tt, sh.tk, sh.tn, sh.block, sh.reuse_inputs, p.weight_bits,
                        p.activation_bits, p.output_bits, eng.kind, eng.dataflow, eng.R, eng.C, eng.physical,
                        eng.latency, eng.quirk, eng.packing, nm.n, nm.m, nm.index_bits, q.n, *out, prog.n_tiles,
                        self.act)
        self.act[USEFUL_MACS] += q.mask.nnz * T
        self.add_op(node, q.name, "S_nm", DENSER, DENSER, eng.macs, t, sh.as_tuple())

    def sparse_op(self, node: str, q: Projection, sp: _SSplit, sw: int, label: str) -> None:
        """The sparse columns of S on the sparser engine's `sw` lines."""
        hw, T, prog = self.hw, self.T, self.prog
        p, e = hw.precision, hw.sparser_engine
        tt, tm, tk, reuse = sparse_tile_shape(hw, self.slots, T, q.m, len(sp.order), sp.by_column, label)
        out = prog.room(-(-T // tt) * -(-q.m // tm) * -(-len(sp.order) // tk))
        t = sparse_op_tiles(sp.unit_counts(tm, tk), sp.by_column, sp.order, q.m, T, tt, tm, tk, reuse,
                            p.weight_bits, p.activation_bits, p.output_bits, e.index_bits, e.pointer_bits,
                            e.format == "bitmask", sw, e.macs_per_line, MAPPINGS[e.mapping],
                            e.unit_overhead, ASSIGNMENTS[e.assignment], e.pipeline_latency, *out, prog.n_tiles,
                            self.act, e.position_bytes)
        self.add_op(node, q.name, "S_sparse", self.sp_stream, SPARSER, sw * e.macs_per_line, t, (tt, tm, tk))
