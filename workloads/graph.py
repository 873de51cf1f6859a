"""The op graph: per projection Y = S X + U (V X), wired layer by layer (networkx DAG).

Node names are `L{layer}.{proj}.{part}` with part in S (sparse GEMM), V (V X), U (U (V X)),
W (the dense baseline W X) and out (partial sums meet and the output leaves the chip).
Edges: V -> U; S, U -> out (or W -> out); q, k, v read the previous layer's down.out;
o reads q, k, v (the attention core between them is not modelled); gate and up read o;
down reads gate and up.
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
