"""The schedule: tiles in dependency order on their engines, granted DRAM and buffer space.

`scheduler` is the event loop (numba), `run` schedules a program a decoder layer at a time
into a `RunResult`, `generation` strings prefill and decode steps into a whole generation.
"""
