"""The golden reference: a small, slow, plainly written cycle-stepped model of the accelerator.

It is the code everything else is checked against, so it favours obviousness over speed:
- per-tile compute time by stepping the hardware (systolic wavefronts, MAC lines, sparse lines),
- per-tile non-zero counts straight from a dense 0/1 mask,
- the schedule by advancing a clock one cycle at a time.
It shares with the fast model only the inputs that are policy, not mechanism: the tile
shapes (simulator.program.shapes.*_tile_shape) and the op graph (workloads.graph).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from simulator.config import HardwareConfig
from simulator.memory.buffers import buffer_slots
from simulator.program.nm import nm_tile_config
from simulator.program.shapes import NEST_NKT, NEST_TKN, NEST_TNK, dense_tile_shape, sparse_tile_shape
from simulator.energy.actions import NAMES
from workloads.graph import layer_graph, op_graph, program_order


# ------------------------------------------------------------------ engines, stepped


def systolic_fold_time(dataflow: str, R: int, C: int, M: int, K: int, N: int, physical: bool) -> int:
    """Cycles of one fold: the cycle after the last event of the wavefront."""
    if dataflow == "os":
        # operands enter skewed: step k of PE (r, c) happens at cycle k + r + c
        last = 0
        for r in range(R):
            for c in range(C):
                last = max(last, (K - 1) + r + c)
        drain = R if physical else 0
        return last + 1 + drain
    # ws / is: R cycles to preload the stationary operand, then the streamed operand's
    # row i passes PE (r, c) at cycle R + i + r + c; the fold ends after the last of these
    streamed = M if dataflow == "ws" else N
    last = 0
    for i in range(streamed):
        for r in range(R):
            for c in range(C):
                last = max(last, R + i + r + c)
    return last + 1


def systolic_tile_time(dataflow: str, R: int, C: int, M: int, K: int, N: int, physical: bool) -> int:
    if dataflow == "os":
        folds = math.ceil(M / R) * math.ceil(N / C)
    elif dataflow == "ws":
        folds = math.ceil(K / R) * math.ceil(N / C)
    else:
        folds = math.ceil(K / R) * math.ceil(M / C)
    total = 0
    for _ in range(folds):
        total += systolic_fold_time(dataflow, R, C, M, K, N, physical)
    return total


def mac_lines_tile_time(W: int, H: int, latency: int, M: int, K: int, N: int, packing: bool) -> int:
    """W lines; a free line takes the next outputs (as many as fit side by side in its H MACs
    when packing and K < H, else one) and spends ceil(K/H) cycles on them; stepped."""
    per_step = H // K if (packing and K < H) else 1
    outputs = M * N
    remaining = [0] * W
    cycle = 0
    while outputs > 0 or any(remaining):
        for ln in range(W):
            if remaining[ln] == 0 and outputs > 0:
                remaining[ln] = math.ceil(K / H)
                outputs -= min(per_step, outputs)
        for ln in range(W):
            if remaining[ln] > 0:
                remaining[ln] -= 1
        cycle += 1
    return cycle + latency


def systolic_run_times(dataflow: str, R: int, C: int, streamed: list[int], physical: bool) -> list[int]:
    """Cycles of each tile of a run of single-fold tiles streaming `streamed` elements each
    through one stationary block, by stepping the wavefront: streamed element i enters at
    cycle head + i and passes PE (r, c) at head + i + r + c. A tile's time ends when its last
    element has entered, the run's last tile when the last event is done (+ the OS drain in
    physical mode); each tile is charged from the previous tile's end."""
    head = 0 if dataflow == "os" else R
    total = sum(streamed)
    last_event = 0
    for i in range(total):
        for r in range(R):
            for c in range(C):
                last_event = max(last_event, head + i + r + c)
    run_end = last_event + 1 + (R if (physical and dataflow == "os") else 0)
    ends, entered = [], 0
    for k, n in enumerate(streamed):
        entered += n
        ends.append(run_end if k == len(streamed) - 1 else head + entered)
    return [e - (ends[k - 1] if k else 0) for k, e in enumerate(ends)]


def sparse_line_work(nnz: int, tokens: int, P: int, mapping: str, overhead: int) -> int:
    """Cycles of one unit on one line, by stepping what the P MACs do each cycle."""
    cycles = overhead
    if mapping == "token_parallel":
        for _ in range(nnz):  # one non-zero at a time, P tokens per cycle
            left = tokens
            while left > 0:
                left -= min(P, left)
                cycles += 1
    else:
        for _ in range(tokens):  # one token at a time, P non-zeros per cycle
            left = nnz
            while left > 0:
                left -= min(P, left)
                cycles += 1
    return cycles


def sparse_tile_time(units: list[int], tokens: int, L: int, P: int, mapping: str, overhead: int,
                     assignment: str, latency: int) -> int:
    """The tile stepped under its mapping; adaptive: the fewer cycles of the two fixed ones."""
    if mapping == "adaptive":
        return min(sparse_tile_time(units, tokens, L, P, m, overhead, assignment, latency)
                   for m in ("token_parallel", "nnz_parallel"))
    work = [sparse_line_work(u, tokens, P, mapping, overhead) for u in units]
    queues: list[list[int]] = [[] for _ in range(L)]
    if assignment == "interleaved":  # items one per line across units; overhead on a unit's first line
        line = 0
        for u in units:
            queues[line].append(overhead)
            items = [P] * (u // P) + ([u % P] if u % P else []) if mapping == "nnz_parallel" else [1] * u
            for item in items:
                queues[line].append(sparse_line_work(item, tokens, P, mapping, 0))
                line = (line + 1) % L
    elif assignment == "round_robin":
        for i, w in enumerate(work):
            queues[i % L].append(w)
    else:
        totals = [0] * L
        for i in sorted(range(len(work)), key=lambda i: (-work[i], i)):
            line = min(range(L), key=lambda ln: (totals[ln], ln))
            queues[line].append(work[i])
            totals[line] += work[i]
    # step all lines until every queue is empty
    cycle = 0
    current = [0] * L
    while any(queues) or any(current):
        for ln in range(L):
            while current[ln] == 0 and queues[ln]:  # a unit with no work takes no cycle
                current[ln] = queues[ln].pop(0)
        if not any(current):
            break  # only zero-work units were left
        for ln in range(L):
            if current[ln] > 0:
                current[ln] -= 1
        cycle += 1
    return max(cycle + latency, 1)


# ------------------------------------------------------------------ actions, counted plainly


def new_actions() -> dict:
    """Action counts by name (simulator/energy/actions.py's NAMES), all zero."""
    return {k: 0 for k in NAMES}


def add_actions(into: dict, more: dict, times: int = 1) -> None:
    for k, v in more.items():
        into[k] += v * times


def dense_inputs(k_lo: int, k_hi: int) -> int:
    """Input positions a dense engine reads for reduction rows k_lo..k_hi - 1: one each."""
    return k_hi - k_lo


def systolic_tile_actions(dataflow: str, R: int, C: int, M: int, K: int, N: int, wb: int, ab: int, ob: int,
                          held: bool, goes_on: bool, red_first: bool, inputs=dense_inputs) -> dict:
    """A systolic tile's buffer traffic, fold by fold: a fold reads its stationary block once
    (not when `held` by a stream that runs on from the previous tile), streams the other
    operand through once, and writes its partial sums (OS: once, at the stream's end: not when
    it `goes_on`), reading back those of an earlier reduction fold or tile. inputs(k_lo, k_hi):
    the input positions the fold's reduction rows k_lo..k_hi - 1 read (N:M: their groups')."""
    a = new_actions()
    a["computed_macs"] = M * K * N
    if dataflow == "os":
        for m0 in range(0, M, R):
            for n0 in range(0, N, C):
                mm, nn = min(R, M - m0), min(C, N - n0)
                a["weight_read_bits"] += K * nn * wb
                a["input_read_bits"] += mm * inputs(0, K) * ab
                if not goes_on:
                    a["output_write_bits"] += mm * nn * ob
                if not red_first and not held:
                    a["output_read_bits"] += mm * nn * ob
        return a
    streamed_dim = M if dataflow == "is" else N  # WS folds N by C, IS folds M by C
    for k0 in range(0, K, R):
        kk = min(R, K - k0)
        for s0 in range(0, streamed_dim, C):
            ss = min(C, streamed_dim - s0)
            if dataflow == "ws":  # fold (kk, ss = outputs): weights stationary, all M tokens stream
                a["weight_read_bits"] += 0 if held else kk * ss * wb
                a["input_read_bits"] += M * inputs(k0, k0 + kk) * ab
                outs = M * ss
            else:  # fold (kk, ss = tokens): inputs stationary, all N outputs' weights stream
                a["input_read_bits"] += 0 if held else ss * inputs(k0, k0 + kk) * ab
                a["weight_read_bits"] += kk * N * wb
                outs = ss * N
            a["output_write_bits"] += outs * ob
            if k0 > 0 or not red_first:
                a["output_read_bits"] += outs * ob
    return a


def mac_lines_tile_actions(W: int, H: int, M: int, K: int, N: int, packing: bool, wb: int, ab: int, ob: int,
                           red_first: bool, inputs=dense_inputs) -> dict:
    """Output by output: a line reads the output's K weights; a token's inputs are read once
    per group of the W lines' outputs (W x per-step outputs), broadcast to them, step by step
    of H reduction rows (inputs(k_lo, k_hi): the positions a step reads); each output is
    written once (reading an earlier reduction tile's partial sum first)."""
    a = new_actions()
    group = W * (H // K if (packing and K < H) else 1)
    for _ in range(M):
        for n0 in range(0, N, group):
            a["input_read_bits"] += sum(inputs(s, min(K, s + H)) for s in range(0, K, H)) * ab
            for _ in range(n0, min(N, n0 + group)):
                a["computed_macs"] += K
                a["weight_read_bits"] += K * wb
                a["output_write_bits"] += ob
                if not red_first:
                    a["output_read_bits"] += ob
    return a


def sparse_tile_actions(units: list[int], rows: int, cols: int, tokens: int, P: int, mapping: str,
                        wb: int, ab: int, ob: int, ib: int, pb: int, bitmask: bool, red_first: bool) -> dict:
    """Pass by pass (token-parallel: one per P tokens; non-zero-parallel: one per token) every
    non-zero's value and index, every unit's pointer (or every bitmask position) are read, and
    the indices and pointers (or mask positions) decoded; every product is a MAC on one input
    element; partial sums stay in the lines' accumulators and the tile's rows x tokens outputs
    are written once (read first when an earlier reduction tile left partial sums)."""
    a = new_actions()
    passes = math.ceil(tokens / P) if mapping == "token_parallel" else tokens
    for _ in range(passes):
        if bitmask:
            for _ in range(rows * cols):  # every mask position: one bit read, one decode
                a["index_read_bits"] += 1
                a["decodes"] += 1
        for u in units:
            if not bitmask:
                a["index_read_bits"] += pb
                a["pointer_decodes"] += 1
            for _ in range(u):
                a["weight_read_bits"] += wb
                if not bitmask:
                    a["index_read_bits"] += ib
                    a["decodes"] += 1
    for u in units:
        a["computed_macs"] += u * tokens
        a["useful_macs"] += u * tokens
        a["input_read_bits"] += u * tokens * ab
    for _ in range(rows * tokens):
        a["output_write_bits"] += ob
        if not red_first:
            a["output_read_bits"] += ob
    return a


# ------------------------------------------------------------------ tiles


def _nest_tiles(shape, T: int, K: int, N: int) -> list[tuple[tuple, tuple, tuple, int]]:
    """((t0, t1), (k0, k1), (n0, n1), scope) of every tile in the shape's loop nest order; the
    scope is what an input slice stays on chip for: the token tile (TNK), the token block (NKT),
    or the whole op (TKN)."""
    tt, tk, tn, blk = shape.tt, shape.tk, shape.tn, shape.block
    rng = lambda lo, hi, step: [(a, min(a + step, hi)) for a in range(lo, hi, step)]  # noqa: E731
    out = []
    if shape.nest == NEST_TNK:
        for t in rng(0, T, tt):
            for n in rng(0, N, tn):
                for k in rng(0, K, tk):
                    out.append((t, k, n, t))
    elif shape.nest == NEST_NKT:
        for b in rng(0, T, blk):
            for n in rng(0, N, tn):
                for k in rng(0, K, tk):
                    for t in rng(b[0], b[1], tt):
                        out.append((t, k, n, b))
    else:
        for b in rng(0, N, blk):
            for t in rng(0, T, tt):
                for k in rng(0, K, tk):
                    for n in rng(b[0], b[1], tn):
                        out.append((t, k, n, 0))
    return out


def _systolic_cycles(d, tiles: list[tuple]) -> list[int]:
    """Per tile: runs of consecutive single-fold tiles on one stationary block share one
    stepped stream; every other tile runs its folds one by one."""
    R, C, physical = d.rows, d.cols, d.timing == "physical"
    span = lambda x: x[1] - x[0]  # noqa: E731
    dims = [(span(t), span(k), span(n)) for t, k, n, _ in tiles]
    stationary = [{"ws": (k, n), "os": (t, n), "is": (k, t)}[d.dataflow] for t, k, n, _ in tiles]
    cycles, i = [], 0
    while i < len(tiles):
        M, K, N = dims[i]
        extents = {"ws": (K, N), "os": (M, N), "is": (K, M)}[d.dataflow]
        if extents[0] > R or extents[1] > C:  # several folds
            cycles.append(systolic_tile_time(d.dataflow, R, C, M, K, N, physical))
            i += 1
            continue
        j = i + 1
        while j < len(tiles) and stationary[j] == stationary[i]:
            j += 1
        pick = {"ws": 0, "os": 1, "is": 2}[d.dataflow]
        cycles += systolic_run_times(d.dataflow, R, C, [dims[x][pick] for x in range(i, j)], physical)
        i = j
    return cycles


def _stream_flags(d, tiles: list[tuple]) -> list[tuple[bool, bool]]:
    """Per systolic tile: (held: the previous tile streams on the same stationary block, goes
    on: the next one does); only single-fold tiles share a block with a neighbour."""
    span = lambda x: x[1] - x[0]  # noqa: E731
    stationary = [{"ws": (k, n), "os": (t, n), "is": (k, t)}[d.dataflow] for t, k, n, _ in tiles]
    single = [span(a) <= d.rows and span(b) <= d.cols for a, b in stationary]
    return [(single[i] and i > 0 and stationary[i - 1] == s,
             single[i] and i + 1 < len(tiles) and stationary[i + 1] == s) for i, s in enumerate(stationary)]


def nm_positions(k_lo: int, k_hi: int, n: int, m: int, K: int) -> int:
    """The input positions of the n:m groups that slots k_lo..k_hi - 1 fall in (slot c: group
    c // n of positions g m .. min(g m + m, K)), group by group."""
    return sum(min(m, K - g * m) for g in sorted({c // n for c in range(k_lo, k_hi)}))


def nm_slots(K: int, n: int, m: int) -> int:
    """Slots of an n:m reduction of K positions: min(n, the group's positions) per group."""
    return sum(min(n, min(m, K - g * m)) for g in range(0, -(-K // m)))


def nm_fits(mask: np.ndarray, n: int, m: int) -> bool:
    """Every row keeps at most n of each group of m consecutive columns."""
    return all(mask[r, g:g + m].sum() <= n for r in range(mask.shape[0]) for g in range(0, mask.shape[1], m))


def dense_tiles(hw: HardwareConfig, slots, T: int, K: int, N: int,
                lines: int | None, nm: tuple[int, int, int] | None = None) -> tuple[list[tuple[int, int, int]], dict]:
    """(bytes, cycles, weight bytes) per tile of a dense GEMM, in loop order, and the GEMM's
    actions. A tile loads its weight slice unless the previous tile held the same one, and its
    input slice unless it is input-stationary (IS) and the previous tile held the same one,
    or it is reused and already loaded within its scope. nm = (n, m, positions): an N:M GEMM
    whose K is the slots of that many positions; a slot carries the config's index bits, and a
    tile loads (an engine step reads) the positions of the groups its slots fall in."""
    d = hw.denser_engine
    p = hw.precision
    ib = d.nm_sparsity.index_bits if nm else 0
    wb = p.weight_bits + ib
    if d.kind == "mac_lines":
        H, W = d.rows, (lines if lines is not None else d.cols)
        gK, gN = H, W
    else:
        gK, gN = d.rows, d.cols
    shape = dense_tile_shape(nm_tile_config(hw) if nm else hw, slots, T, K, N, gK, gN, "golden")
    tiles = _nest_tiles(shape, T, K, N)
    acts = new_actions()

    def positions(k: tuple) -> Callable[[int, int], int]:  # the input positions of tile-local rows a..b - 1
        if nm is None:
            return dense_inputs
        return lambda a, b: nm_positions(k[0] + a, k[0] + b, *nm)

    if d.kind == "mac_lines":
        cycles = [mac_lines_tile_time(W, H, d.pipeline_latency, t[1] - t[0], k[1] - k[0], n[1] - n[0], d.packing)
                  for t, k, n, _ in tiles]
        for t, k, n, _ in tiles:
            add_actions(acts, mac_lines_tile_actions(W, H, t[1] - t[0], k[1] - k[0], n[1] - n[0], d.packing,
                                                     wb, p.activation_bits, p.output_bits, k[0] == 0, positions(k)))
    else:
        cycles = _systolic_cycles(d, tiles)
        for (t, k, n, _), (held, goes_on) in zip(tiles, _stream_flags(d, tiles)):
            add_actions(acts, systolic_tile_actions(d.dataflow, d.rows, d.cols, t[1] - t[0], k[1] - k[0], n[1] - n[0],
                                                    wb, p.activation_bits, p.output_bits, held, goes_on,
                                                    k[0] == 0, positions(k)))
    acts["useful_macs"] = T * K * N
    out, prev_w, prev_x, loaded = [], None, None, set()
    for (t, k, n, scope), cyc in zip(tiles, cycles):
        w = math.ceil((k[1] - k[0]) * (n[1] - n[0]) * wb / 8) if (k, n) != prev_w else 0
        stationary = shape.nest == NEST_TKN and (k, t) == prev_x  # IS: the input slice stays for its output tiles
        held = stationary or (shape.reuse_inputs and (k, t, scope) in loaded)
        x = 0 if held else math.ceil(positions(k)(0, k[1] - k[0]) * (t[1] - t[0]) * p.activation_bits / 8)
        prev_w, prev_x = (k, n), (k, t)
        loaded.add((k, t, scope))
        out.append([w + x, cyc, w])
    if d.kind == "systolic" and d.timing == "scalesim" and out and out[0][1] > 1:
        out[0][1] -= 1
    return [tuple(t) for t in out], acts


def sparse_tiles(hw: HardwareConfig, slots, T: int, mask: np.ndarray, order: np.ndarray, lines: int,
                 row_bits: int = 0, position_bytes: float = 0.0) -> tuple[list[tuple[int, int, int]], dict]:
    """(bytes, cycles, weight + index bytes) per tile of S X on the sparser engine, and the
    op's actions. row_bits: an operand indexed by S's rows (the SDDMM's Q rows) at that many
    bits per (row, token), loaded with a (token tile, row block)'s first column block and kept
    for the others. position_bytes: bytes-worth of decode per position of the tile, moved with
    its indices (a weight S's; the attention maps have none). An adaptive line runs each tile in the mapping with fewer stepped cycles
    (token-parallel on a tie)."""
    e = hw.sparser_engine
    p = hw.precision
    m = mask.shape[0]
    by_column = e.format == "csc"
    tt, tm, tk, reuse = sparse_tile_shape(hw, slots, T, m, len(order), by_column, "golden")
    sub_all = mask[:, order]
    tiles, acts = [], new_actions()
    for a in range(0, T, tt):
        mt = min(tt, T - a)
        for r in range(0, m, tm):
            for c in range(0, len(order), tk):
                sub = sub_all[r:r + tm, c:c + tk]
                units = sub.sum(axis=0) if by_column else sub.sum(axis=1)
                nnz = int(sub.sum())
                if e.format == "bitmask":
                    idx = math.ceil(sub.size / 8)
                else:
                    idx = math.ceil((nnz * e.index_bits + (len(units) + 1) * e.pointer_bits) / 8)
                if position_bytes > 0.0:
                    idx += math.ceil(sub.size * position_bytes)
                w = math.ceil(nnz * p.weight_bits / 8) + idx
                x = 0 if (reuse and r > 0) else math.ceil(sub.shape[1] * mt * p.activation_bits / 8)
                if c == 0:
                    x += math.ceil(sub.shape[0] * mt * row_bits / 8)
                u = [int(v) for v in units]
                cyc = sparse_tile_time(u, mt, lines, e.macs_per_line, e.mapping, e.unit_overhead, e.assignment,
                                       e.pipeline_latency)
                tiles.append((w + x, cyc, w))
                mapping = e.mapping
                if mapping == "adaptive":
                    tp = sparse_tile_time(u, mt, lines, e.macs_per_line, "token_parallel", e.unit_overhead,
                                          e.assignment, e.pipeline_latency)
                    mapping = "token_parallel" if tp <= cyc else "nnz_parallel"
                add_actions(acts, sparse_tile_actions(u, sub.shape[0], sub.shape[1], mt, e.macs_per_line, mapping,
                                                      p.weight_bits, p.activation_bits, p.output_bits,
                                                      e.index_bits, e.pointer_bits, e.format == "bitmask", c == 0))
                acts["index_load_bytes"] += idx
    return tiles, acts


# ------------------------------------------------------------------ program


def vector_tile_time(elements: int, passes: int, lanes: int, latency: int) -> int:
    """Step the vector unit: each cycle it does up to `lanes` of the tile's element-passes."""
    work, cycle = elements * passes, 0
    while work > 0:
        work -= min(lanes, work)
        cycle += 1
    return cycle + latency


def vector_tiles(hw: HardwareConfig, slots, elements: int, inputs: int,
                 passes: int) -> tuple[list[tuple[int, int, int]], dict]:
    """A vector op's tiles: as many elements as the input and output slots hold, one after
    another; and its actions: every element-pass a lane operation, the operands read from the
    input buffer (softmax: the scores from the output buffer), the results written there."""
    p, v = hw.precision, hw.vector_unit
    per = elements
    if hw.buffers is not None:
        per = min(slots.input // (inputs * p.activation_bits / 8) if inputs else elements,
                  slots.output // (p.output_bits / 8), elements)
    per = int(per)
    tiles, acts = [], new_actions()
    if elements == 0:  # a head whose mask keeps nothing
        return tiles, acts
    for a in range(0, elements, per):
        e = min(per, elements - a)
        tiles.append((math.ceil(e * inputs * p.activation_bits / 8), vector_tile_time(e, passes, v.lanes, v.latency), 0))
        for _ in range(e):
            acts["vector_lane_ops"] += passes
            if inputs:
                acts["input_read_bits"] += inputs * p.activation_bits
            else:
                acts["output_read_bits"] += p.output_bits
            acts["output_write_bits"] += p.output_bits
    return tiles, acts


def bits(hw: HardwareConfig, weight_bits: int, activation_bits: int | None = None) -> HardwareConfig:
    """`hw` with other weight (and input) precisions."""
    up = {"weight_bits": weight_bits}
    if activation_bits is not None:
        up["activation_bits"] = activation_bits
    return hw.model_copy(update={"precision": hw.precision.model_copy(update=up)})


def shared_split(hw: HardwareConfig, dense_macs: int, nnz_sparse: int, has_sparse: bool) -> tuple[int, int]:
    """ViTCoD's shared width: dw = int(W dense / (dense + sparse)), at least one line for an
    engine with work; (dense lines, sparse lines)."""
    W = hw.denser_engine.cols
    dw = int(W * dense_macs / (dense_macs + nnz_sparse)) if dense_macs + nnz_sparse else W
    if dense_macs and dw == 0:
        dw = 1
    if has_sparse and dw == W:
        dw = W - 1
    return dw, W - dw


def split_columns(hw: HardwareConfig, mask: np.ndarray) -> tuple[list[int], list[int]]:
    """(dense columns, sparse columns in processing order) of a 0/1 mask by the split threshold."""
    thr = hw.split.density_threshold
    counts = mask.sum(axis=0)
    dense_cols = [j for j in range(mask.shape[1]) if counts[j] > thr * mask.shape[0]]
    sparse_cols = [j for j in range(mask.shape[1]) if counts[j] <= thr * mask.shape[0]]
    if thr < 1.0:
        sparse_cols = sorted(sparse_cols, key=lambda j: -counts[j])  # stable: ties by index
    return dense_cols, sparse_cols


def masked_head(hw: HardwareConfig, slots, attrs: dict, layer: dict, add) -> None:
    """One query head's attention core under its mask: SDDMM (dense GEMM over the dense key
    columns + the sparse columns as S on the sparser engine, T = head_dim, no S values, K
    rows as input, Q rows per query block), softmax over the kept scores, or SpMM (dense
    GEMM + the sparse part of P as S with V rows as input); every sequence repeats it."""
    mask = layer["masks"][attrs["layer"]][attrs["head"]]
    N, D, batch, p = layer["seq"], layer["head_dim"], layer["batch"], hw.precision
    if attrs["part"] == "softmax":
        add(2, *vector_tiles(hw, slots, batch * int(mask.sum()), 0, hw.vector_unit.softmax_passes))
        return
    dense_cols, sparse_cols = split_columns(hw, mask)
    lines, sp_lines = None, hw.sparser_engine.lines
    if hw.split.policy == "shared_width":
        nnz_sparse = int(sum(mask[:, j].sum() for j in sparse_cols))
        lines, sp_lines = shared_split(hw, N * len(dense_cols), nnz_sparse, len(sparse_cols) > 0)
    dense, sparse = ([], new_actions()), ([], new_actions())
    if attrs["part"] == "qk":
        if dense_cols:
            dense = dense_tiles(bits(hw, p.kv_bits), slots, N, D, len(dense_cols), lines)
        if sparse_cols:
            sparse = sparse_tiles(bits(hw, 0, p.kv_bits), slots, D, mask, np.array(sparse_cols), sp_lines,
                                  row_bits=p.activation_bits)
    else:
        if dense_cols:
            dense = dense_tiles(bits(hw, p.kv_bits), slots, N, len(dense_cols), D, lines)
        if sparse_cols:
            sparse = sparse_tiles(bits(hw, p.activation_bits, p.kv_bits), slots, D, mask, np.array(sparse_cols),
                                  sp_lines)
    dense[1]["useful_macs"] = int(mask[:, dense_cols].sum()) * D  # the kept scores among the dense columns
    add(0, dense[0] * batch, acts=times(dense[1], batch))
    add(0 if hw.split.policy == "time_multiplexed" else 1, sparse[0] * batch, acts=times(sparse[1], batch))


def times(acts: dict, n: int) -> dict:
    out = new_actions()
    add_actions(out, acts, n)
    return out


def attention_tiles(hw: HardwareConfig, slots, part: str, layer: dict) -> tuple[list[tuple[int, int, int]], dict]:
    """One group's Q K^T or P V over the batch: per sequence, per causal block of 64 queries
    (decode: one query over context + 1 keys), a dense GEMM with the K or V cache (kv_bits)
    as its stationary operand; useful MACs: head_dim per query and key it may attend."""
    hk = hw.model_copy(update={"precision": hw.precision.model_copy(update={"weight_bits": hw.precision.kv_bits})})
    group = layer["heads"] // layer["kv_heads"]
    if layer["phase"] == "decode":
        blocks = [(group, decode_keys(layer, part))]
    else:
        seq = layer["seq"]
        blocks = [(group * (min(seq, a + 64) - a), min(seq, a + 64)) for a in range(0, seq, 64)]
    tiles, acts = [], new_actions()
    for _ in range(layer["batch"]):
        for rows, keys in blocks:
            K, N = (layer["head_dim"], keys) if part == "qk" else (keys, layer["head_dim"])
            more, a = dense_tiles(hk, slots, rows, K, N, None)
            tiles += more
            add_actions(acts, a)
    if layer["phase"] == "decode":
        acts["useful_macs"] = layer["batch"] * group * decode_keys(layer, part) * layer["head_dim"]
    else:
        acts["useful_macs"] = layer["batch"] * group * sum(q + 1 for q in range(layer["seq"])) * layer["head_dim"]
    return tiles, acts


def decode_keys(layer: dict, part: str) -> int:
    """The keys a decode step's qk, softmax or pv covers per sequence and group: all
    context + 1 without a KV budget; a window (W recent + S sinks) keeps min(keys, W + S) for
    every part; top-k scores every key in qk and keeps min(keys, k) for softmax and pv."""
    keys, b = layer["context"] + 1, layer.get("kv_budget")
    if b is None:
        return keys
    if b.kind == "window":
        return min(keys, b.window + b.sinks)
    return keys if part == "qk" else min(keys, b.k)


def layer_op(hw: HardwareConfig, slots, attrs: dict, T: int, layer: dict, add, alone) -> None:
    """The decoder-layer ops that are not projections, plainly; `alone`: the slots of an op
    no op of the other engine runs beside (the dense attention core, the vector unit)."""
    proj, part, vu = attrs["proj"], attrs["part"], hw.vector_unit
    group = layer["heads"] // layer["kv_heads"]
    width = {"attn_core": layer["heads"] * layer["head_dim"], "act": layer["inter"]}.get(proj, layer["hidden"])
    if part == "out":
        add(3, [], wb=math.ceil(T * width * hw.precision.output_bits / 8))
    elif attrs["head"] >= 0:
        masked_head(hw, slots, attrs, layer, add)
    elif part == "softmax":
        if layer["phase"] == "decode":
            scores = layer["batch"] * group * decode_keys(layer, "softmax")
        else:
            scores = layer["batch"] * group * layer["seq"] * (layer["seq"] + 1) // 2
        tiles, acts = vector_tiles(hw, alone, scores, 0, vu.softmax_passes)
        b = layer.get("kv_budget")
        if layer["phase"] == "decode" and b is not None and b.kind == "topk" and layer["context"] + 1 > b.k:
            # the top-k selection over every score comes first, on the vector unit
            sel, sel_acts = vector_tiles(hw, alone, layer["batch"] * group * (layer["context"] + 1), 0,
                                         vu.topk_passes)
            add_actions(sel_acts, acts)
            tiles, acts = sel + tiles, sel_acts
        add(2, tiles, acts)
    elif part == "vec":
        passes, inputs = {"attn_norm": (vu.norm_passes, 1), "ffn_norm": (vu.norm_passes, 1),
                          "act": (vu.silu_mul_passes, 2)}.get(proj, (vu.add_passes, 2))
        add(2, *vector_tiles(hw, alone, T * width, inputs, passes))
    else:
        add(0, *attention_tiles(hw, alone, part, layer))


def build(hw: HardwareConfig, projections_per_layer: list[list[dict]], T: int, dense_model: bool,
          layer: dict | None = None):
    """Ops in program order: dicts with stream, deps, tiles (bytes, cycles, wbytes), wb bytes.

    projections_per_layer[l] = [{name, module, m, n, rank, mask (dense 0/1 array or None)}].
    layer: None for the projections only, else the whole decoder layer's shape and step:
    {heads, kv_heads, head_dim, hidden, inter, phase, batch, seq, context, masks}; masks:
    None, or per layer a (heads, seq, seq) 0/1 attention map (prefill).
    """
    policy = hw.split.policy
    masks = layer is not None and layer.get("masks") is not None
    whole = policy == "time_multiplexed" or (dense_model and policy == "shared_width" and not masks)
    slots = buffer_slots(hw, whole)
    alone = buffer_slots(hw, policy != "fixed")  # the dense attention core and the vector unit: not beside a split
    first = projections_per_layer[0]
    parts = {q["name"]: ("W",) if q["mask"] is None else ("S", "V", "U") for q in first}
    if layer is None:
        graph = op_graph(len(projections_per_layer), [q["name"] for q in first], parts)
    else:
        graph = layer_graph(len(projections_per_layer), parts, layer["kv_heads"], layer["heads"] if masks else None)
    ops = []
    done_by = {}
    for node in program_order(graph):
        attrs = graph.nodes[node]
        part = attrs["part"]
        deps = sorted({o for pred in graph.predecessors(node) for o in done_by[pred]})
        done_by[node] = []

        def add(stream, tiles, acts=None, wb=0):
            if stream != 3 and not tiles:  # no work: the node forwards its inputs (below)
                return
            acts = new_actions() if acts is None else acts
            acts["output_read_bits"] += 8 * wb  # a write-back reads its result out of the output buffer
            ops.append({"stream": stream, "deps": deps, "tiles": tiles, "wb": wb, "actions": acts})
            done_by[node].append(len(ops) - 1)

        q = next((x for x in projections_per_layer[attrs["layer"]] if x["name"] == attrs["proj"]), None)
        if q is None:
            layer_op(hw, slots, attrs, T, layer, add, alone)
            if not done_by[node]:
                done_by[node] = deps
            continue
        if part == "out":
            kv = layer is not None and q["name"] in ("k_proj", "v_proj")
            add(3, [], wb=math.ceil(q["m"] * T * (hw.precision.kv_bits if kv else hw.precision.output_bits) / 8))
            continue
        if part == "W":
            if q["m"] and q["n"]:
                add(0, *dense_tiles(hw, slots, T, q["n"], q["m"], None))
            if not done_by[node]:
                done_by[node] = deps
            continue
        compressed_part(hw, slots, q, part, T, add, alone)
        if not done_by[node]:
            done_by[node] = deps
    return ops


def compressed_part(hw: HardwareConfig, slots, q: dict, part: str, T: int, add, alone) -> None:
    """S, V or U of a compressed projection: S as one N:M GEMM over its slots when the config
    has an N:M engine and S keeps at most n of every m along its rows (V and U then get every
    line of a shared array, and all three the `alone` slots: no sparser op beside them), else
    split by column density between the two engines."""
    mask, policy, nm = q["mask"], hw.split.policy, hw.denser_engine.nm_sparsity
    if nm is not None and mask.sum() > 0 and nm_fits(mask, nm.n, nm.m):
        lines = hw.denser_engine.cols if policy == "shared_width" else None
        K, N = {"S": (nm_slots(q["n"], nm.n, nm.m), q["m"]), "V": (q["n"], q["rank"]), "U": (q["rank"], q["m"])}[part]
        if K and N:
            tiles, acts = dense_tiles(hw, alone, T, K, N, lines, (nm.n, nm.m, q["n"]) if part == "S" else None)
            if part == "S":
                acts["useful_macs"] = int(mask.sum()) * T  # the slots of groups keeping fewer than n are zeros
            add(0, tiles, acts)
        return
    counts = mask.sum(axis=0)
    dense_cols, sparse_cols = split_columns(hw, mask)
    nnz_sparse = int(sum(counts[j] for j in sparse_cols))
    dense_macs = q["m"] * len(dense_cols) + q["rank"] * (q["m"] + q["n"])
    lines, sp_lines = None, hw.sparser_engine.lines
    if policy == "shared_width":
        lines, sp_lines = shared_split(hw, dense_macs, nnz_sparse, len(sparse_cols) > 0)
    sp_stream = 0 if policy == "time_multiplexed" else 1
    if part == "S":
        if dense_cols:
            tiles, acts = dense_tiles(hw, slots, T, len(dense_cols), q["m"], lines)
            acts["useful_macs"] = int(mask[:, dense_cols].sum()) * T  # the zeros are computed, not useful
            add(0, tiles, acts)
        if sparse_cols:
            add(sp_stream, *sparse_tiles(hw, slots, T, mask, np.array(sparse_cols), sp_lines,
                                         position_bytes=hw.sparser_engine.position_bytes))
    elif part == "V" and q["rank"] > 0:
        add(0, *dense_tiles(hw, slots, T, q["n"], q["rank"], lines))
    elif part == "U" and q["rank"] > 0:
        add(0, *dense_tiles(hw, slots, T, q["rank"], q["m"], lines))


# ------------------------------------------------------------------ schedule, stepped


def dram_resources(hw: HardwareConfig) -> list[dict]:
    """The DRAM's channels or ports, each with its cycles per byte as an exact fraction
    (cycles per ms over bytes per ms), a queue of parts and the part it is moving."""
    d = hw.dram
    clock = round(hw.clock_mhz * 1000)
    if d.ports is not None:
        rates = [(clock, round(g * 1_000_000)) for g in (d.ports.weight_gbps, d.ports.input_gbps, d.ports.output_gbps)]
    else:
        rates = [(clock * d.channels, round(d.bandwidth_gbps * 1_000_000))] * d.channels
    return [{"num": n, "den": m, "queue": [], "busy_until": 0} for n, m in rates]


def split_parts(hw: HardwareConfig, w: int, x: int, o: int, pointer: list[int]) -> list[tuple[int, int]]:
    """(resource, bytes) parts of a transfer: per-operand ports, or interleave-byte chunks dealt
    one by one over the channels from pointer[0] (which moves on past the last chunk)."""
    d = hw.dram
    if d.ports is not None:
        return [(r, b) for r, b in enumerate((w, x, o)) if b > 0]
    per = [0] * d.channels
    left = w + x + o
    while left > 0:
        chunk = min(d.interleave_bytes, left)
        per[pointer[0]] += chunk
        left -= chunk
        pointer[0] = (pointer[0] + 1) % d.channels
    return [(r, b) for r, b in enumerate(per) if b > 0]


def run(hw: HardwareConfig, ops: list[dict]) -> dict:
    """Advance a clock one cycle at a time. Within a cycle: (1) finish what ends now,
    (2) post every request that is now allowed (repeated until nothing changes, since a
    zero-byte write-back finishing now can allow more), then cut this cycle's new transfers
    into parts in order (stream, then program order), (3) give every free DRAM resource the
    oldest part waiting for it, (4) start computes."""
    ideal = hw.dram is None
    slots = 2 if (hw.buffers is None or hw.buffers.double_buffering) else 1
    latency = hw.dram_latency_cycles
    resources = [] if ideal else dram_resources(hw)
    pointer = [0]
    engines = (0, 1, 2)  # denser, sparser, vector unit; stream 3 is the write-back
    streams = {s: [] for s in engines}
    for o, op in enumerate(ops):
        if op["stream"] < 3:
            for k in range(len(op["tiles"])):
                streams[op["stream"]].append((o, k))
    wbs = [o for o, op in enumerate(ops) if op["stream"] == 3]
    req, grant, arrive, start, end, op_done, wb_req = {}, {}, {}, {}, {}, {}, {}
    parts_left, parts_end = {}, {}
    requested = {s: 0 for s in engines}  # tiles of the stream requested so far
    computed = {s: 0 for s in engines}  # tiles of the stream started so far
    channel_cycles = 0
    last_tiles = {(o, len(op["tiles"]) - 1): o for o, op in enumerate(ops) if op["stream"] < 3}
    t = 0
    while len(op_done) < len(ops):
        # (1) finish (an engine runs one tile at a time: only its latest can end now)
        for s in engines:
            if computed[s] > 0:
                key = streams[s][computed[s] - 1]
                if end[key] == t and key in last_tiles:
                    op_done[last_tiles[key]] = t
        for key, left in list(parts_left.items()):
            if left == 0 and parts_end[key] == t and key[0] == "wb":
                op_done[key[1]] = t
                del parts_left[key]

        def inputs_done(o: int) -> bool:
            return all(d in op_done for d in ops[o]["deps"])

        # (2) requests
        new = []
        changed = True
        while changed:
            changed = False
            for s in engines:
                while requested[s] < len(streams[s]):
                    i = requested[s]
                    o, k = streams[s][i]
                    slot_free = i < slots or streams[s][i - slots] in end and end[streams[s][i - slots]] <= t
                    if not (slot_free and inputs_done(o)):
                        break
                    req[(o, k)] = t
                    requested[s] += 1
                    changed = True
                    if ideal or ops[o]["tiles"][k][0] == 0:
                        grant[(o, k)] = t
                        arrive[(o, k)] = t
                    else:
                        new.append((s, i, (o, k)))
            for o in wbs:
                if o not in wb_req and inputs_done(o):
                    wb_req[o] = t
                    changed = True
                    if ideal or ops[o]["wb"] == 0:
                        grant[("wb", o)] = t
                        op_done[o] = t
                    else:
                        new.append((3, o, ("wb", o)))
        for s, seq, key in sorted(new):
            if key[0] == "wb":
                w, x, out = 0, 0, ops[key[1]]["wb"]
            else:
                tile = ops[key[0]]["tiles"][key[1]]
                w, x, out = tile[2], tile[0] - tile[2], 0
            parts = split_parts(hw, w, x, out, pointer)
            parts_left[key] = len(parts)
            parts_end[key] = 0
            for r, nbytes in parts:
                resources[r]["queue"].append(((t, s, seq), key, nbytes))
        # (3) the DRAM: each free resource moves the oldest part waiting for it
        for res in resources:
            if res["busy_until"] <= t and res["queue"]:
                part = min(res["queue"])
                res["queue"].remove(part)
                _, key, nbytes = part
                occ = -(-nbytes * res["num"] // res["den"])
                channel_cycles += occ
                res["busy_until"] = t + occ
                grant.setdefault(key, t)
                parts_left[key] -= 1
                parts_end[key] = max(parts_end[key], t + occ)
                if parts_left[key] == 0 and key[0] != "wb":
                    arrive[key] = parts_end[key] + latency
                    del parts_left[key]
        # (4) computes (every tile takes at least one cycle, so one start per stream per cycle)
        for s in engines:
            i = computed[s]
            if i < requested[s]:
                key = streams[s][i]
                if key in arrive and arrive[key] <= t and (i == 0 or end[streams[s][i - 1]] <= t):
                    start[key] = t
                    end[key] = t + ops[key[0]]["tiles"][key[1]][1]
                    computed[s] += 1
        t += 1
        if t > 50_000_000:
            raise RuntimeError("golden model did not finish")
    return {"req": req, "grant": grant, "start": start, "end": end, "op_done": op_done,
            "channel_cycles": channel_cycles}
