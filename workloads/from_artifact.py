"""Workloads from a compressed artifact: the real S masks, ranks and shapes, layer by layer.

Statistics come from the stored CSR indices (never a densified S), and only one layer's
tensors are in memory at a time: `build_program` asks for each layer as it reaches it.
"""

from __future__ import annotations

from pathlib import Path

from workloads import artifact
from workloads.errors import InputError
from workloads.masks import CsrMask, SyntheticMask
from workloads.presets import ModelShape
from workloads.workload import Phase, Projection, Workload, check_phase, from_shape, mask_seed

# projection name (last component of the qualified name) -> (our name, module)
_DECODER = {"q_proj": "MHA", "k_proj": "MHA", "v_proj": "MHA", "o_proj": "MHA",
            "gate_proj": "FFN", "up_proj": "FFN", "down_proj": "FFN"}


def artifact_shape(manifest: dict) -> ModelShape:
    m = manifest["model"]
    return ModelShape(str(m["id"]), m["hidden_size"], m["intermediate_size"], m["num_attention_heads"],
                      m["num_key_value_heads"], m["num_layers"], m["head_dim"])


def check_model_matches(shape: ModelShape, expected: ModelShape, where: str) -> None:
    """An artifact of another model than --model is an error: every shape field must agree."""
    fields = ("hidden_size", "intermediate_size", "num_attention_heads", "num_key_value_heads", "num_layers", "head_dim")
    for f in fields:
        if getattr(shape, f) != getattr(expected, f):
            raise InputError(f"{where}: artifact is of model '{shape.name}' ({f}={getattr(shape, f)}), "
                             f"not --model '{expected.name}' ({f}={getattr(expected, f)})")


def from_artifact(path: str | Path, phase: Phase = "decode", batch: int = 1, seq: int = 1,
                  expected: ModelShape | None = None, verify: bool = True) -> tuple[Workload, Workload]:
    """(compressed workload with the real masks, dense baseline of the same model)."""
    check_phase(phase, batch, seq)
    root = Path(path)
    manifest = artifact.load_manifest(root)
    where = str(root / artifact.MANIFEST_NAME)
    if not manifest["complete"]:
        raise InputError(f"{where}: the artifact is incomplete ({len(manifest['layers'])} of "
                         f"{manifest['model']['num_layers']} layers); finish or resume the compress run")
    shape = artifact_shape(manifest)
    if expected is not None:
        check_model_matches(shape, expected, where)
    layers = {e["index"]: e for e in manifest["layers"]}
    for e in manifest["layers"]:
        names = sorted(p["name"].rsplit(".", 1)[-1] for p in e["projections"])
        if names != sorted(_DECODER):
            raise InputError(f"{where}: layer {e['index']} has projections {names}; the simulator models decoder "
                             f"layers with q/k/v/o and gate/up/down projections ({manifest['model']['architecture']} "
                             f"is not one)")
    expected_shapes = {name: (m, n) for name, _, m, n in shape.projections()}

    def layer_projections(layer: int) -> list[Projection]:
        tensors = artifact.read_layer(root, layers[layer], verify=verify)
        out = []
        for entry in layers[layer]["projections"]:
            t = tensors[entry["name"]]
            short = entry["name"].rsplit(".", 1)[-1]
            if tuple(t.shape) != expected_shapes[short]:
                raise InputError(f"{root / layers[layer]['file']}: layer {layer} {entry['name']} has shape "
                                 f"{list(t.shape)}, the model's config says {list(expected_shapes[short])}")
            mask = CsrMask(t.shape[0], t.shape[1], t.indptr, t.indices)
            out.append(Projection(layer, short, _DECODER[short], t.shape[0], t.shape[1], t.rank, mask))
        order = list(_DECODER)
        return sorted(out, key=lambda q: order.index(q.name))

    desc = (f"{shape.name} {phase} artifact {root} (method {manifest['method']}, "
            f"{manifest['hyperparameters']}, seed {manifest['seed']})")
    comp = Workload(shape, phase, batch, seq, desc, layer_projections)
    return comp, from_shape(shape, None, phase, batch, seq)


def synthetic_like(path: str | Path, generator: str, phase: Phase = "decode", batch: int = 1, seq: int = 1,
                   seed: int = 0) -> Workload:
    """A shape-only twin of an artifact: per projection the same nnz and rank, synthetic masks
    from `generator` (uniform or wanda-like). Reads only the manifest."""
    check_phase(phase, batch, seq)
    root = Path(path)
    manifest = artifact.load_manifest(root)
    shape = artifact_shape(manifest)
    layers = {e["index"]: e for e in manifest["layers"]}
    order = list(_DECODER)

    def layer_projections(layer: int) -> list[Projection]:
        out = []
        for idx, entry in enumerate(layers[layer]["projections"]):
            short = entry["name"].rsplit(".", 1)[-1]
            m, n = entry["shape"]
            mask = SyntheticMask(m, n, entry["nnz"], generator, seed=mask_seed(seed, layer, idx))
            out.append(Projection(layer, short, _DECODER[short], m, n, entry["rank"], mask))
        return sorted(out, key=lambda q: order.index(q.name))

    return Workload(shape, phase, batch, seq, f"{shape.name} {phase} {generator} twin of {root}", layer_projections)
