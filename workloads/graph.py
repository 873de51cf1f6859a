"""The op graph: per projection Y = S X + U (V X), wired layer by layer (networkx DAG).

Node names are `L{layer}.{proj}.{part}` with part in S (sparse GEMM), V (V X), U (U (V X)),
W (the dense baseline W X) and out (partial sums meet and the output leaves the chip).
Edges: V -> U; S, U -> out (or W -> out).

Two scopes:
- projections (`op_graph`): the linear layers only; q, k, v read the previous layer's
  down.out; o reads q, k, v; gate and up read o; down reads gate and up.
- layer (`layer_graph`): the whole decoder layer. attn_norm -> q, k, v; per KV-head group g
  the attention core qk.g{g} (reads q, k) -> softmax.g{g} -> pv.g{g} (reads v) ->
  attn_core.out -> o; attn_residual (o + the layer input) -> ffn_norm -> gate, up -> act
  (SiLU(gate) x up) -> down; ffn_residual (down + attn_residual) is the layer output.
  Vector-unit nodes have part `vec` and write their result through an `out` node.
  With attention-map masks (`heads` given) the attention core runs per query head h
  instead (qk.h{h} -> softmax.h{h} -> pv.h{h}; each head has its own mask, group =
  h // (heads / groups) names the K/V it reads).
"""

from __future__ import annotations

import networkx as nx

_READS = {
    "q_proj": ("prev",),
    "k_proj": ("prev",),
    "v_proj": ("prev",),
    "o_proj": ("q_proj", "k_proj", "v_proj"),
    "gate_proj": ("o_proj",),
    "up_proj": ("o_proj",),
    "down_proj": ("gate_proj", "up_proj"),
}


def op_graph(num_layers: int, projections: list[str], parts: dict[str, tuple[str, ...]]) -> nx.DiGraph:
    """Build the DAG. `parts[proj]` lists that projection's compute parts (subset of S, V, U, W)."""
    g = nx.DiGraph()
    prev_out: str | None = None
    for layer in range(num_layers):
        for proj in projections:
            base = f"L{layer}.{proj}"
            out = f"{base}.out"
            reads = []
            for src in _READS.get(proj, ("prev",)):
                if src == "prev":
                    if prev_out is not None:
                        reads.append(prev_out)
                elif src in projections:
                    reads.append(f"L{layer}.{src}.out")
            mine = parts[proj]
            g.add_node(out, layer=layer, proj=proj, part="out")
            for part in mine:
                node = f"{base}.{part}"
                g.add_node(node, layer=layer, proj=proj, part=part)
                if part != "U":
                    for r in reads:
                        g.add_edge(r, node)
                g.add_edge(node, out)
            if "V" in mine and "U" in mine:
                g.add_edge(f"{base}.V", f"{base}.U")
            if not mine:
                for r in reads:
                    g.add_edge(r, out)
        prev_out = f"L{layer}.down_proj.out" if "down_proj" in projections else out
    return g


def program_order(g: nx.DiGraph) -> list[str]:
    """A deterministic topological order: insertion order wherever the graph allows."""
    rank = {n: i for i, n in enumerate(g.nodes)}
    return list(nx.lexicographical_topological_sort(g, key=rank.__getitem__))


# the whole decoder layer: (proj, parts, reads) in program order; "prev" is the layer input
_LAYER = [
    ("attn_norm", ("vec",), ("prev",)),
    ("q_proj", None, ("attn_norm",)),
    ("k_proj", None, ("attn_norm",)),
    ("v_proj", None, ("attn_norm",)),
    ("attn_core", None, ()),
    ("o_proj", None, ("attn_core",)),
    ("attn_residual", ("vec",), ("o_proj", "prev")),
    ("ffn_norm", ("vec",), ("attn_residual",)),
    ("gate_proj", None, ("ffn_norm",)),
    ("up_proj", None, ("ffn_norm",)),
    ("act", ("vec",), ("gate_proj", "up_proj")),
    ("down_proj", None, ("act",)),
    ("ffn_residual", ("vec",), ("down_proj", "attn_residual")),
]
MODULE = {"attn_norm": "MHA", "attn_core": "MHA", "attn_residual": "MHA", "q_proj": "MHA", "k_proj": "MHA",
          "v_proj": "MHA", "o_proj": "MHA"}  # everything else: FFN


def layer_graph(num_layers: int, parts: dict[str, tuple[str, ...]], groups: int,
                heads: int | None = None) -> nx.DiGraph:
    """The whole decoder layer (module docstring). `parts[proj]` lists each projection's
    compute parts; `groups` is the number of KV-head groups of the attention core; `heads`
    (query heads), when given, makes the attention core's units query heads (node suffix
    .h{h}, attribute head = h) instead of groups (.g{g}, head = -1)."""
    units = [(f"g{grp}", grp, -1) for grp in range(groups)] if heads is None else \
        [(f"h{h}", h // (heads // groups), h) for h in range(heads)]
    g = nx.DiGraph()
    prev: str | None = None
    for layer in range(num_layers):
        out_of = {"prev": prev}
        for proj, vec_parts, reads in _LAYER:
            base = f"L{layer}.{proj}"
            out = f"{base}.out"
            attrs = {"layer": layer, "proj": proj, "module": MODULE.get(proj, "FFN")}
            srcs = [out_of[r] for r in reads if out_of[r] is not None]
            g.add_node(out, part="out", group=-1, head=-1, **attrs)
            if proj == "attn_core":
                for suffix, grp, head in units:
                    qk, sm, pv = (f"{base}.{k}.{suffix}" for k in ("qk", "softmax", "pv"))
                    for node, part in ((qk, "qk"), (sm, "softmax"), (pv, "pv")):
                        g.add_node(node, part=part, group=grp, head=head, **attrs)
                    g.add_edge(out_of["q_proj"], qk)
                    g.add_edge(out_of["k_proj"], qk)
                    g.add_edge(qk, sm)
                    g.add_edge(sm, pv)
                    g.add_edge(out_of["v_proj"], pv)
                    g.add_edge(pv, out)
            else:
                mine = vec_parts if vec_parts is not None else parts[proj]
                for part in mine:
                    node = f"{base}.{part}"
                    g.add_node(node, part=part, group=-1, head=-1, **attrs)
                    if part != "U":
                        for r in srcs:
                            g.add_edge(r, node)
                    g.add_edge(node, out)
                if "V" in mine and "U" in mine:
                    g.add_edge(f"{base}.V", f"{base}.U")
                if not mine:
                    for r in srcs:
                        g.add_edge(r, out)
            out_of[proj] = out
        prev = out_of["ffn_residual"]
    return g
