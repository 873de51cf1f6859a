"""The tile program: a workload and a hardware config become flat arrays of tiles.

`shapes` sizes each op's tiles to its buffer slots, `kernels` writes every tile's bytes and
cycles (numba) from the engines' rules, `layer_ops` adds the decoder layer's other ops
(attention core, vector unit, write-backs) and `build` walks the op graph into a `Program`.
"""
