"""The actions the tile rules count per op, for energy: one int64 vector per op.

Every entry is counted by the same rules that time the tiles (engines/*: `*_tile_actions`),
in the fast model and in the golden reference, and priced by simulator/energy/costs.py.
Buffer traffic is in bits at the operand's precision, so that an SRAM access of `width`
bits costs bits / width accesses. DRAM bytes per operand are not here: they are the tiles'
bytes (Program.op_bytes, op_weight_bytes, op_wb_bytes) the scheduler moves.

The indices are compile-time constants of the numba kernels that use them: numba's own cache
would not see a change here, which is why the cache is keyed by the whole source
(simulator/jit_cache.py).
"""

from __future__ import annotations

COMPUTED_MACS = 0  # multiply-accumulates performed on an operand pair, zeros of a dense column included
USEFUL_MACS = 1  # of which on a kept (non-zero) weight: the work the model needs
W_READ_BITS = 2  # weight-buffer reads (stationary/weight operand: W, S values, K/V cache rows)
X_READ_BITS = 3  # input-buffer reads (streamed/activation operand)
OUT_WRITE_BITS = 4  # output-buffer writes (results and partial sums, at output_bits)
OUT_READ_BITS = 5  # output-buffer reads (partial sums read back to accumulate, results read out)
IDX_READ_BITS = 6  # index-buffer reads (indices and pointers, or bitmask bits)
DECODES = 7  # index decodes of the sparser engine: per stored index (CSR/CSC) or mask position (bitmask)
POINTER_DECODES = 8  # pointer decodes of the sparser engine (CSR/CSC: per unit)
IDX_LOAD_BYTES = 9  # of the op's weight bytes from DRAM, those of indices/pointers/bitmask
VECTOR_LANE_OPS = 10  # vector-unit element-passes (function: the op's part)

NAMES = ("computed_macs", "useful_macs", "weight_read_bits", "input_read_bits", "output_write_bits",
         "output_read_bits", "index_read_bits", "decodes", "pointer_decodes", "index_load_bytes",
         "vector_lane_ops")
N_ACTIONS = len(NAMES)
