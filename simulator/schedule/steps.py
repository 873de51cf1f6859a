"""Decode steps at speed, each with exactly the schedule of simulating it from scratch.

A layer-scope decode step attending c cached tokens is the same program for every c but for
its attention core: qk, softmax and pv of each KV-head group cover c + 1 keys (or those of
the workload's KV budget: program/layer_ops.py), and every
layer and group has the same three ops (program.build.DecodeCore). The projections, norms,
residual adds and write-backs, their tiles and per-tile costs, are those of every other
step, so they are tiled once (`DecodeSteps`), and only the core is tiled per step.

The schedule splits exactly at sync points. An op X of a layer is one when every op before
it in program order is an ancestor of X and every op after it descends from X: no later tile
can be requested before X is done, and by then every earlier tile has ended and every
transfer has left. Every scheduler rule is a max or a sum of times (schedule/scheduler.py),
so the ops after X are scheduled as they would be alone on a fresh machine, shifted by X's
done cycle; the one state that is not a time is the DRAM channel the next transfer starts
at. Each layer has two: the attention core's write-back (attn_core.out) and the layer's
output (the windowed run's layer boundary, schedule/run.py). A step's makespan is the sum
over its layers of
- pre(L, c, channel): attn_norm, q, k, v and the attention core, scheduled every step (v's
  sparse part may still run when the first qk starts, so the two are scheduled together);
- post(L, channel): o, the residual, ffn_norm, gate, up, act, down and the residual, the
  same in every step: scheduled once per channel it starts at, then reused.
Layers whose segments are identical (a dense model's) are scheduled once per step. The
steps hold one step's tiles (LLaMA-2-7B SSLC 0.5 on vitcod.yaml: 0.7 M tiles, 16 MB). Each
class's active cycles are summed the same way (no op's [first request, done] interval
crosses a sync point). DecodeSteps checks the sync points on every layer of the program it
tiles; tests/simulator/test_decode_steps.py checks every step against schedule.run.run.

Steps do not overlap: step i + 1's first tile is requested when step i's output is done,
as a layer's first tile is requested when the previous layer's output is done (scheduler
rule 2 requests a tile's weights and inputs together, once its inputs are done). The next
token depends on the last layer's output through the LM head and sampling, so its compute
cannot start earlier in a real design either; what a design with a free weight slot could
do is load the first weight tile of the next layer or step early. The model does not: the
cost is one tile's load per layer boundary (benchmarks/bench_generation.py measures it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from types import SimpleNamespace

import numpy as np
from numba import njit
from numba.typed import List

from simulator.config import HardwareConfig
from simulator.energy.account import op_energy, static_pj
from simulator.energy.costs import Costs
from simulator.memory.buffers import slot_count
from simulator.memory.dram import CHANNELS, memory_spec
from simulator.program.build import DecodeCore, Program, build_program
from simulator.reports.op_classes import CLASSES, op_class
from simulator.schedule.scheduler import WB, new_machine, schedule, schedule_resume, schedule_until
from workloads.workload import Workload

CORE = ("qk", "softmax", "pv")  # the context-dependent ops of one KV-head group, in program order
N_CLASSES = len(CLASSES)
WIDTH = 2 + N_CLASSES  # a segment's result: span, channel after it, active cycles per class


def decode_step(w: Workload, context: int) -> Workload:
    """The layer-scope decode step of `w`'s model attending `context` cached tokens: its KV
    cache whole, or the keys of w.kv_budget; a prompt's attention-map masks shape the
    prompt's prefill only, so the step has none."""
    return replace(w, phase="decode", seq=1, scope="layer", context=context, attention_masks=None)


@njit(cache=True)
def _unions(first: np.ndarray, done: np.ndarray, cls: np.ndarray, out: np.ndarray) -> None:
    """Adds to out[c] the cycles covered by the union of class c's [first, done) intervals."""
    end = np.full(out.shape[0], -1, np.int64)
    for o in np.argsort(first, kind="mergesort"):
        c = cls[o]
        if done[o] <= end[c]:
            continue
        out[c] += done[o] - max(first[o], end[c])
        end[c] = done[o]


@njit(cache=True)
def _layout(s: int, seg: tuple, core_cnt: np.ndarray) -> tuple:
    """Segment s's op range (lo, hi), its tile pointers for these core tile counts, and its
    first tile (t0) and end (t1) in seg's tiles; and its first core op (its op count if none)."""
    op_off, cnt, toff = seg[0], seg[6], seg[7]
    lo, hi = op_off[s], op_off[s + 1]
    tptr = np.zeros(hi - lo + 1, np.int64)
    stop = hi - lo
    for o in range(hi - lo):
        c = cnt[lo + o]
        if c < 0 and stop == hi - lo:
            stop = o
        tptr[o + 1] = tptr[o] + (c if c >= 0 else core_cnt[-c - 1])
    return lo, hi, tptr, toff[s], toff[s] + tptr[-1], stop


@njit(cache=True)
def _checkpoints(pre: tuple, core_cnt: np.ndarray, mem: tuple, slots: int, n_dram: int) -> List:
    """Per pre segment (its core written with these counts), the schedule on a fresh machine
    up to its first core tile (scheduler.schedule_until) and the machine then."""
    _, stream, wb, _, dptr, didx, _, _, tiles = pre
    ideal, kind, num, den, interleave, latency = mem
    out = List()
    for s in range(pre[0].shape[0] - 1):
        lo, hi, tptr, t0, t1, stop = _layout(s, pre, core_cnt)
        machine = new_machine(slots, n_dram)
        ck = schedule_until(stream[lo:hi], dptr[lo + s:hi + s + 1], didx, np.zeros(hi - lo, np.int64), wb[lo:hi], tptr,
                            tiles[0, t0:t1], tiles[1, t0:t1], tiles[2, t0:t1], ideal, kind, num, den, interleave,
                            latency, machine, stop)
        out.append((ck, machine))
    return out


@njit(cache=True)
def _run_segment(s: int, seg: tuple, core_cnt: np.ndarray, mem: tuple, slots: int, n_dram: int, ptr: int,
                 ck: tuple, out: np.ndarray) -> None:
    """Schedules segment s on a fresh machine whose next transfer starts at channel ptr, from
    its checkpoint `ck` when ptr is 0 and it has one; writes its span, the channel after it
    and its classes' active cycles into out (WIDTH)."""
    _, stream, wb, cls, dptr, didx, _, _, tiles = seg
    lo, hi, tptr, t0, t1, stop = _layout(s, seg, core_cnt)
    ideal, kind, num, den, interleave, latency = mem
    args = (stream[lo:hi], dptr[lo + s:hi + s + 1], didx, np.zeros(hi - lo, np.int64), wb[lo:hi], tptr,
            tiles[0, t0:t1], tiles[1, t0:t1], tiles[2, t0:t1], ideal, kind, num, den, interleave, latency)
    if ptr == 0 and stop < hi - lo:
        res = schedule_resume(ck[0], ck[1], *args, stop)
        first, done, machine = res[0], res[1], res[6]
    else:
        machine = new_machine(slots, n_dram)
        machine[5][0] = ptr
        res = schedule(*args, False, machine)
        first, done = res[4], res[5]
    out[:] = 0
    out[0] = done.max()
    out[1] = machine[5][0]
    _unions(first, done, cls[lo:hi], out[2:])


@njit(cache=True)
def _decode_step(layer_pre: np.ndarray, layer_post: np.ndarray, pre: tuple, prefix: np.ndarray, post: tuple,
                 core_tiles: np.ndarray, core_cnt: np.ndarray, groups: int, mem: tuple, slots: int, n_dram: int,
                 cks: List, post_set: np.ndarray, post_res: np.ndarray) -> np.ndarray:
    """One step: per layer its pre segment (the core written after its prefix, `groups` times;
    resumed from its checkpoint in cks where one applies) and its post segment (memoized in
    post_set / post_res per channel); returns the step's makespan, the channel after it and
    its classes' active cycles (WIDTH)."""
    n_pre = pre[0].shape[0] - 1
    pre_res = np.zeros((n_pre, WIDTH), np.int64)
    pre_ptr = np.full(n_pre, -1, np.int64)
    written = np.zeros(n_pre, np.bool_)
    no_core = np.zeros(len(CORE), np.int64)
    total = np.zeros(WIDTH, np.int64)
    ptr = 0
    for layer in range(layer_pre.shape[0]):
        s = layer_pre[layer]
        if pre_ptr[s] != ptr:
            if not written[s]:
                t, n = pre[7][s] + prefix[s], core_tiles.shape[1]
                for _ in range(groups):
                    pre[8][:, t:t + n] = core_tiles
                    t += n
                written[s] = True
            _run_segment(s, pre, core_cnt, mem, slots, n_dram, ptr, cks[s], pre_res[s])
            pre_ptr[s] = ptr
        total[0] += pre_res[s, 0]
        total[2:] += pre_res[s, 2:]
        ptr = pre_res[s, 1]
        s = layer_post[layer]
        if not post_set[s, ptr]:
            _run_segment(s, post, no_core, mem, slots, n_dram, ptr, cks[0], post_res[s, ptr])
            post_set[s, ptr] = True
        total[0] += post_res[s, ptr, 0]
        total[2:] += post_res[s, ptr, 2:]
        ptr = post_res[s, ptr, 1]
    total[1] = ptr
    return total


@dataclass
class _Segment:
    """A run of one layer's ops between sync points, local op indices: streams, write-back
    bytes, classes, tile counts (a core op: -(1 + its index in CORE)), dependencies (CSR) and
    its fixed tiles (3, n)."""

    stream: np.ndarray
    wb: np.ndarray
    cls: np.ndarray
    cnt: np.ndarray
    dptr: np.ndarray
    didx: np.ndarray
    tiles: np.ndarray

    def key(self) -> bytes:
        h = hashlib.sha256()
        for a in (self.stream, self.wb, self.cls, self.cnt, self.dptr, self.didx, self.tiles):
            h.update(np.ascontiguousarray(a).tobytes())
            h.update(b"|")
        return h.digest()


class _Table:
    """Unique segments and, per layer, which one it runs; flattened for the numba step."""

    def __init__(self) -> None:
        self.unique: list[_Segment] = []
        self.index: dict[bytes, int] = {}
        self.of_layer: list[int] = []

    def add(self, seg: _Segment) -> None:
        k = seg.key()
        if k not in self.index:
            self.index[k] = len(self.unique)
            self.unique.append(seg)
        self.of_layer.append(self.index[k])

    def flat(self, spare: int = 0) -> tuple:
        """(op_off, stream, wb, cls, dptr, didx, cnt, toff, tiles); each segment's tile region
        holds its fixed tiles and `spare` more."""
        u = self.unique
        op_off = np.concatenate([[0], np.cumsum([len(s.stream) for s in u])]).astype(np.int64)
        didx_off = np.concatenate([[0], np.cumsum([len(s.didx) for s in u])]).astype(np.int64)
        dptr = np.concatenate([s.dptr + didx_off[i] for i, s in enumerate(u)]).astype(np.int64)
        toff = np.concatenate([[0], np.cumsum([s.tiles.shape[1] + spare for s in u])]).astype(np.int64)
        tiles = np.zeros((3, int(toff[-1])), np.int64)
        for i, s in enumerate(u):
            tiles[:, toff[i]:toff[i] + s.tiles.shape[1]] = s.tiles
        cat = lambda name: np.concatenate([getattr(s, name) for s in u]).astype(np.int64)  # noqa: E731
        return (op_off, cat("stream"), cat("wb"), cat("cls"), dptr, cat("didx"), cat("cnt"), toff, tiles)


def _reaches(deps: list[list[int]], frm: set[int], ops: range) -> set[int]:
    """The ops of `ops` (in order) with a dependency in `frm` or on an op already found."""
    found: set[int] = set()
    for o in ops:
        if any(d in frm or d in found for d in deps[o]):
            found.add(o)
    return found


def _ancestors(deps: list[list[int]], x: int, lo: int) -> set[int]:
    """x and the ops it depends on transitively, from op lo on."""
    seen, todo = {x}, [x]
    while todo:
        for d in deps[todo.pop()]:
            if d >= lo and d not in seen:
                seen.add(d)
                todo.append(d)
    return seen


class DecodeSteps:
    """The decode steps of one model's generation: tiled once, each step scheduled exactly
    (module docstring). `w`: the workload (any phase; its model, projections and batch)."""

    def __init__(self, w: Workload, hw: HardwareConfig, costs: Costs | None, context: int) -> None:
        self.hw, self.costs = hw, costs
        step = decode_step(w, context)
        self.core = DecodeCore(step, hw, step.layer_projections(0))
        core0 = self.core.program(context)
        self.pre, self.post = _Table(), _Table()
        self.groups = w.model.num_key_value_heads
        self.prev_exit = -1
        m = memory_spec(hw)
        self.ideal = m.ideal
        self.busy: list[np.ndarray] = []  # per layer, per op: compute cycles and DRAM bytes
        self.dram: list[np.ndarray] = []
        self._fixed(build_program(step, hw, lambda p, lo: self._layer(p, lo, core0)))
        self.spare = 2 * self.groups * core0.n_tiles
        self.prefix = np.array([s.tiles.shape[1] for s in self.pre.unique], np.int64)
        self.pre_flat, self.post_flat = self.pre.flat(self.spare), self.post.flat()
        self.layer_pre = np.asarray(self.pre.of_layer, np.int64)
        self.layer_post = np.asarray(self.post.of_layer, np.int64)
        self.mem = (m.ideal, m.kind, m.num, m.den, m.interleave, m.latency)
        self.n_ptr = len(m.num) if m.kind == CHANNELS else 1
        self.post_set = np.zeros((len(self.post.unique), self.n_ptr), np.bool_)
        self.post_res = np.zeros((len(self.post.unique), self.n_ptr, WIDTH), np.int64)
        self._checkpoint(core0)

    # ---------------------------------------------------------------- tiling, once

    def _layer(self, prog: Program, lo: int, core0: Program) -> None:
        """build_program's on_layer: splits the layer's ops lo.. at attn_core.out into its
        pre and post segments, after checking both sync points and the core ops."""
        a = prog.arrays(lo)
        n = len(prog.op_name) - lo
        parts = [(prog.op_proj[lo + i], prog.op_part[lo + i]) for i in range(n)]
        x = parts.index(("attn_core", "out"))
        core = [i for i, (proj, part) in enumerate(parts) if proj == "attn_core" and part.split(".")[0] in CORE]
        c_lo = x - len(CORE) * self.groups
        want = [f"{k}.g{g}" for g in range(self.groups) for k in CORE]
        if core != list(range(c_lo, x)) or [parts[i][1] for i in core] != want:
            raise RuntimeError(f"decode steps: layer {prog.op_layer[lo]}'s attention core is not qk, softmax, pv "
                               "per group just before attn_core.out")
        tptr = a["op_tile_ptr"]
        tiles = np.array([a["tile_bytes"], a["tile_cycles"], a["tile_weight_bytes"]])
        self._check_core(prog, lo, core, tiles, tptr, core0)
        self._check_sync(prog, lo, x, n)
        cls = np.array([CLASSES.index(op_class(p, s)) for (_, p), s in zip(parts, a["op_stream"])], np.int64)
        cnt = np.diff(tptr)
        cnt[c_lo:x] = [-(1 + CORE.index(parts[i][1].split(".")[0])) for i in core]
        busy, dram = _sums(a, self.ideal)
        self.busy.append(busy)
        self.dram.append(dram)
        self.pre.add(self._segment(a, cls, cnt, tiles[:, :tptr[c_lo]], 0, x + 1))
        self.post.add(self._segment(a, cls, cnt, tiles[:, tptr[x + 1]:], x + 1, n))
        self.prev_exit = len(prog.op_name) - 1

    def _check_core(self, prog: Program, lo: int, core: list[int], tiles: np.ndarray, tptr: np.ndarray,
                    core0: Program) -> None:
        """Every core op has the tiles and actions of DecodeCore's op of its kind."""
        c0 = core0.arrays()
        ref = np.array([c0["tile_bytes"], c0["tile_cycles"], c0["tile_weight_bytes"]])
        for i in core:
            k = CORE.index(prog.op_part[lo + i].split(".")[0])
            mine = tiles[:, tptr[i]:tptr[i + 1]]
            theirs = ref[:, c0["op_tile_ptr"][k]:c0["op_tile_ptr"][k + 1]]
            if (mine.shape != theirs.shape or not np.array_equal(mine, theirs)
                    or not np.array_equal(prog.op_actions[lo + i], core0.op_actions[k])):
                raise RuntimeError(f"decode steps: {prog.op_name[lo + i]} differs from its group-0 template")

    def _check_sync(self, prog: Program, lo: int, x: int, n: int) -> None:
        """attn_core.out (x) and the layer's last op are sync points (module docstring)."""
        deps = prog.op_deps
        g_x, last = lo + x, lo + n - 1
        pre, post = range(lo, g_x + 1), range(g_x + 1, lo + n)
        ok = (_ancestors(deps, g_x, lo) == set(pre) and _ancestors(deps, last, g_x + 1) == set(post)
              and _reaches(deps, {g_x}, post) == set(post)
              and (self.prev_exit < 0 or _reaches(deps, {self.prev_exit}, pre) == set(pre)))
        if not ok:
            raise RuntimeError(f"decode steps: layer {prog.op_layer[lo]} does not split at attn_core.out")

    @staticmethod
    def _segment(a: dict, cls: np.ndarray, cnt: np.ndarray, tiles: np.ndarray, lo: int, hi: int) -> _Segment:
        """Ops lo..hi-1 of a layer (local arrays `a`), dependencies outside them dropped: they
        are done by the segment's start (module docstring)."""
        ptr, idx = a["op_dep_ptr"], a["op_dep_idx"]
        dptr, didx = [0], []
        for o in range(lo, hi):
            didx += [d - lo for d in idx[ptr[o]:ptr[o + 1]] if lo <= d < hi]
            dptr.append(len(didx))
        return _Segment(a["op_stream"][lo:hi].copy(), a["op_wb_bytes"][lo:hi].copy(), cls[lo:hi].copy(),
                        cnt[lo:hi].copy(), np.asarray(dptr, np.int64), np.asarray(didx, np.int64),
                        np.ascontiguousarray(tiles))

    def _fixed(self, prog: Program) -> None:
        """What every step shares: per class the compute cycles and DRAM bytes of the ops
        outside the core, the KV-cache write-backs, and every op's energy (the core's rows
        are replaced per step)."""
        self.cls = np.array([CLASSES.index(op_class(p, s)) for p, s in zip(prog.op_part, prog.op_stream)], np.int64)
        kind = np.array([CORE.index(p.split(".")[0]) if j == "attn_core" and p.split(".")[0] in CORE else -1
                         for j, p in zip(prog.op_proj, prog.op_part)], np.int64)
        self.core_ops = [np.flatnonzero(kind == k) for k in range(len(CORE))]
        busy, dram = np.concatenate(self.busy), np.concatenate(self.dram)
        fixed = kind < 0
        self.fixed_busy = np.bincount(self.cls[fixed], busy[fixed], N_CLASSES).astype(np.int64)
        self.fixed_dram = np.bincount(self.cls[fixed], dram[fixed], N_CLASSES).astype(np.int64)
        self.has_class = np.bincount(self.cls, minlength=N_CLASSES) > 0
        self.fixed_kv = 0
        if self.hw.dram is not None:
            self.fixed_kv = sum(int(b) for b, p, j in zip(prog.op_wb_bytes, prog.op_part, prog.op_proj)
                                if p == "out" and j in ("k_proj", "v_proj"))
        self.energy = None
        if self.costs is not None:
            self.energy = op_energy(SimpleNamespace(program=prog, op_busy=busy, op_dram=dram), self.costs)

    def _checkpoint(self, core0: Program) -> None:
        """Each pre segment's schedule up to its first core tile, from channel 0: the same in
        every step (scheduler.schedule_until), resumed by every step whose segment starts there."""
        a = core0.arrays()
        tiles = np.array([a["tile_bytes"], a["tile_cycles"], a["tile_weight_bytes"]])
        op_off, toff, buf = self.pre_flat[0], self.pre_flat[7], self.pre_flat[8]
        for s in range(len(op_off) - 1):
            t = toff[s] + self.prefix[s]
            buf[:, t:t + self.groups * tiles.shape[1]] = np.tile(tiles, self.groups)
        self.cks = _checkpoints(self.pre_flat, np.diff(a["op_tile_ptr"]), self.mem, slot_count(self.hw),
                                len(self.mem[2]))

    # ---------------------------------------------------------------- every step

    def step(self, context: int) -> tuple[int, dict, np.ndarray | None]:
        """The step attending `context` cached tokens: its makespan, class costs
        (reports.op_classes.class_costs) and energy by component (schedule.generation), as
        scheduling the step from scratch gives them."""
        core = self.core.program(context)
        a = core.arrays()
        if self.groups * core.n_tiles > self.spare:  # the KV cache grew past the room left for the core
            self.spare = 2 * self.groups * core.n_tiles
            self.pre_flat = self.pre.flat(self.spare)
        tiles = np.array([a["tile_bytes"], a["tile_cycles"], a["tile_weight_bytes"]])
        total = _decode_step(self.layer_pre, self.layer_post, self.pre_flat, self.prefix, self.post_flat, tiles,
                             np.diff(a["op_tile_ptr"]), self.groups, self.mem, slot_count(self.hw),
                             len(self.mem[2]), self.cks, self.post_set, self.post_res)
        busy, dram = _sums(a, self.mem[0])
        return int(total[0]), self._classes(core, total, busy, dram), self._energy(core, busy, dram, int(total[0]))

    def _classes(self, core: Program, total: np.ndarray, busy: np.ndarray, dram: np.ndarray) -> dict:
        """class_costs' dictionary of the step, from the fixed sums and the core's."""
        span = int(total[0])
        n = np.array([len(o) for o in self.core_ops])
        core_cls = [CLASSES.index(op_class(p, s)) for p, s in zip(core.op_part, core.op_stream)]
        comp, mem = self.fixed_busy.copy(), self.fixed_dram.copy()
        kv = self.fixed_kv
        for k, c in enumerate(core_cls):
            comp[c] += n[k] * busy[k]
            mem[c] += n[k] * dram[k]
            if c == CLASSES.index("attention_core") and self.hw.dram is not None:
                kv += int(n[k] * core.op_weight_bytes[k])
        out = {c: {"compute_cycles": int(comp[i]), "dram_bytes": int(mem[i]),
                   "active_share": int(total[2 + i]) / span if span and self.has_class[i] else 0.0}
               for i, c in enumerate(CLASSES)}
        all_dram = int(mem.sum())
        out["kv_cache"] = {"dram_bytes": kv, "dram_share": kv / all_dram if all_dram else 0.0}
        return out

    def _energy(self, core: Program, busy: np.ndarray, dram: np.ndarray, span: int) -> np.ndarray | None:
        """The step's energy by account.COMPONENTS: every op's row (the core's for this
        context), summed as generation sums a run's, and leakage over the span."""
        if self.energy is None:
            return None
        rows = op_energy(SimpleNamespace(program=core, op_busy=busy, op_dram=dram), self.costs)
        for k, ops in enumerate(self.core_ops):
            self.energy[ops] = rows[k]
        return np.append(self.energy.sum(axis=0), static_pj(self.costs, span, self.hw.clock_mhz))


def _sums(a: dict, ideal: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per op of a program's arrays its compute cycles and DRAM bytes as the scheduler sums
    them: its tiles' cycles; its tiles' bytes or a write-back's bytes (none on ideal memory)."""
    ptr = a["op_tile_ptr"]
    cycles = np.concatenate([[0], np.cumsum(a["tile_cycles"])])
    nbytes = np.concatenate([[0], np.cumsum(a["tile_bytes"])])
    busy = (cycles[ptr[1:]] - cycles[ptr[:-1]]).astype(np.int64)
    dram = np.where(a["op_stream"] == WB, a["op_wb_bytes"], nbytes[ptr[1:]] - nbytes[ptr[:-1]]).astype(np.int64)
    return busy, dram * (not ideal)
