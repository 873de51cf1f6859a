"""The memory a simulation needs, bounded from below before any tile is built, so that a
shape the simulator cannot hold is refused up front (one line naming the memory it needs)
instead of ending in a MemoryError or the kernel's OOM killer.

The simulator holds one decoder layer's tiles at a time (program.build, schedule.run): the
peak is set by the largest layer, not by the depth. Two things grow with the shapes:

- the tile program: TILE_BYTES per tile, in a buffer grown by doubling (up to twice the
  tiles it holds, and the old buffer alive while it is copied): HELD_COPIES x TILE_BYTES
  per tile of the dense baseline's largest layer, which every compressed run is compared
  against;
- a compressed run's mask statistics: per-(column block, row) non-zero counts of S, int32
  (workloads.masks), m x ceil(n / tk) for row units (CSR, bitmask: one projection at a time)
  and n x ceil(m / tm) for column units (CSC: every projection of a layer is kept).

Tile counts use the fewest tiles any tiling can have: a tile of tt tokens, tk reduction and
tn output features holds tk tn weights, tk tt inputs and tn tt outputs within their slots
(memory.buffers), so its volume tt tk tn is at most each of T W/wb, N I/ab, K O/ob and
sqrt(W I O / (wb ab ob)) (slot bytes W, I, O; bytes per element wb, ab, ob), and a
T x K x N GEMM needs at least T K N / that many tiles. The estimate is therefore a lower
bound: a refused shape cannot fit; an accepted one is close to its need for the shapes
that grow large (benchmarks/bench_memory.py measures the real peaks).
"""

from __future__ import annotations

import math
import os
import resource
from pathlib import Path

import numpy as np

from simulator.config import HardwareConfig
from simulator.memory.buffers import Slots, buffer_slots
from simulator.program.layer_ops import QUERY_BLOCK
from workloads.errors import InputError
from workloads.presets import ModelShape

TILE_BYTES = 24  # Program.tiles: bytes, cycles and weight bytes of a tile, int64 each
HELD_COPIES = 3  # the tile buffer grows by doubling: up to 2x the tiles, plus the old one while copied
COUNT_BYTES = 4  # int32 per mask statistic (workloads.masks)
FRACTION = 0.8  # of the memory this process may use: the rest is the interpreter, numpy, numba, the OS


def gemm_tiles(s: Slots, T, K, N, wbits: int, abits: int, obits: int):
    """The fewest tiles of a (T x K) by (K x N) GEMM under slots `s`: ceil(T K N / V) with V
    the largest tile volume the slots allow (module docstring); 1 without buffers. Scalars
    or numpy arrays (T, K, N broadcast); 0 when not even one element fits a slot."""
    volume = np.asarray(T, np.float64) * np.asarray(K, np.float64) * np.asarray(N, np.float64)
    if s.unlimited:
        return np.where(volume > 0, 1.0, 0.0)
    wb, ab, ob = wbits / 8, abits / 8, obits / 8
    if s.weight < wb or s.input < ab or s.output < ob:  # no tile fits: the simulator refuses the buffers
        return np.zeros_like(volume)
    largest = np.minimum(volume, math.sqrt(s.weight * s.input * s.output / (wb * ab * ob)))
    for extent, slot in ((T, s.weight / wb), (N, s.input / ab), (K, s.output / ob)):
        largest = np.minimum(largest, np.asarray(extent, np.float64) * slot)
    return np.ceil(volume / np.maximum(largest, 1.0))


def dense_layer_tiles(model: ModelShape, hw: HardwareConfig, tokens: int) -> int:
    """Fewest tiles of one decoder layer's projections in the dense baseline (W X per
    projection, K = in features, N = out features), with the dense baseline's buffer slots."""
    p = hw.precision
    slots = buffer_slots(hw, hw.split.policy in ("time_multiplexed", "shared_width"))
    return int(sum(float(gemm_tiles(slots, tokens, n, m, p.weight_bits, p.activation_bits, p.output_bits))
                   for _, _, m, n in model.projections()))


def attention_tiles(model: ModelShape, hw: HardwareConfig, phase: str, batch: int, seq: int, context: int) -> int:
    """Fewest tiles of one layer's attention core (Q K^T and P V per KV-head group and
    sequence; program.layer_ops): decode, one block of `group` rows over context + 1 keys;
    prefill, causal blocks of QUERY_BLOCK queries over the keys up to the block's end."""
    p = hw.precision
    slots = buffer_slots(hw, hw.split.policy in ("time_multiplexed", "shared_width"))
    group, hd = model.num_attention_heads // model.num_key_value_heads, model.head_dim
    if phase == "decode":
        rows, keys = np.array([group]), np.array([context + 1])
    else:
        starts = np.arange(0, seq, QUERY_BLOCK)
        ends = np.minimum(seq, starts + QUERY_BLOCK)
        rows, keys = group * (ends - starts), ends
    per_seq = (gemm_tiles(slots, rows, hd, keys, p.kv_bits, p.activation_bits, p.output_bits).sum()
               + gemm_tiles(slots, rows, keys, hd, p.kv_bits, p.activation_bits, p.output_bits).sum())
    return int(per_seq) * batch * model.num_key_value_heads


def _blocked_extent(hw: HardwareConfig, s: Slots) -> float:
    """The largest extent a sparse tile can have along the dimension its statistics are
    blocked by (tk for row units, tm for column units; program.shapes' sparse tiling with a
    single unit): 0 when no tile fits (the simulator then refuses the buffers itself)."""
    e, p = hw.sparser_engine, hw.precision
    caps = [math.inf if e.format == "bitmask" else 1 << e.index_bits]  # tile-local indices
    if s.unlimited:
        return caps[0]
    dmax = min(1.0, hw.split.density_threshold)  # the densest a sparse column can be
    if dmax > 0:
        caps.append(s.weight / (dmax * p.weight_bits / 8))
        if e.format != "bitmask":
            caps.append((s.index - 2 * e.pointer_bits / 8) / (dmax * e.index_bits / 8))
    if e.format == "bitmask":
        caps.append(8 * s.index)
    caps.append(s.output / (p.output_bits / 8) if e.format == "csc" else s.input / (p.activation_bits / 8))
    return max(0.0, min(caps))


def mask_statistics_bytes(model: ModelShape, hw: HardwareConfig) -> int:
    """Bytes of a compressed layer's largest set of live S statistics (module docstring)."""
    e = hw.sparser_engine
    extent = _blocked_extent(hw, buffer_slots(hw, hw.split.policy == "time_multiplexed"))
    if extent < 1:
        return 0
    sizes = []
    for _, _, m, n in model.projections():
        units, blocked = (n, m) if e.format == "csc" else (m, n)
        sizes.append(COUNT_BYTES * units * -(-blocked // int(min(blocked, extent))))
    return sum(sizes) if e.format == "csc" else max(sizes)


def simulation_bytes(model: ModelShape, hw: HardwareConfig, phase: str, batch: int, seq: int,
                     scope: str = "projections", context: int = 0, compressed: bool = True) -> int:
    """A lower bound on the bytes one simulation of `model` holds at its peak: the dense
    baseline's largest layer of tiles (HELD_COPIES copies) and, for a compressed run, its
    mask statistics."""
    tokens = batch * seq if phase == "prefill" else batch
    tiles = dense_layer_tiles(model, hw, tokens)
    if scope == "layer":
        tiles += attention_tiles(model, hw, phase, batch, seq, context)
    stats = mask_statistics_bytes(model, hw) if compressed else 0
    return HELD_COPIES * TILE_BYTES * tiles + stats


def _cgroup_limit() -> int | None:
    """The memory limit of this process's cgroup (v2 or v1), if one is set and readable."""
    for f in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(f).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            return int(text)
    return None


def _address_space_left() -> int | None:
    """What the address-space limit (ulimit -v) leaves this process, if one is set."""
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        used = int(Path("/proc/self/statm").read_text().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        used = 0
    return max(0, soft - used)


def memory_cap() -> tuple[int, str]:
    """(bytes, why): FRACTION of the least of physical memory, the cgroup's limit and what
    the address-space limit leaves this process."""
    limits = [(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "physical memory")]
    cgroup = _cgroup_limit()
    if cgroup is not None:
        limits.append((cgroup, "the cgroup memory limit"))
    left = _address_space_left()
    if left is not None:
        limits.append((left, "what ulimit -v leaves this process"))
    least, why = min(limits)
    return int(least * FRACTION), f"{FRACTION:.0%} of {why}"


def check_footprint(where: str, model: ModelShape, hw: HardwareConfig, phase: str, batch: int, seq: int,
                    scope: str = "projections", context: int = 0, compressed: bool = True,
                    cap: tuple[int, str] | None = None) -> None:
    """InputError (one line, naming `where`: the user's model file, flag or sweep point) when
    simulating would need more memory than `cap` (default memory_cap()) allows."""
    need = simulation_bytes(model, hw, phase, batch, seq, scope, context, compressed)
    cap, why = memory_cap() if cap is None else cap
    if need > cap:
        step = f"prefill of batch {batch} x seq {seq}" if phase == "prefill" else f"decode of batch {batch}"
        step += f", context {context}" if context else ""
        raise InputError(f"{where}: simulating model '{model.name}' ({step}, {scope}) on '{hw.name}' needs at least "
                         f"{need / 1e9:,.1f} GB of memory (one layer's tiles and mask statistics), more than the "
                         f"{cap / 1e9:,.1f} GB allowed ({why}); use fewer tokens, larger buffers or a smaller model")
