"""The memory system: DRAM channels or per-operand ports (dram.py) and on-chip buffers split
into slots (buffers.py)."""
