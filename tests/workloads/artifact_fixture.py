"""A small random compressed artifact (tiny LLaMA shape) written without the compressor."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from workloads import artifact
from workloads.presets import ModelShape

SHAPE = ModelShape("tiny-llama", 48, 96, 4, 2, 2, 12)
PREFIX = {"q_proj": "self_attn", "k_proj": "self_attn", "v_proj": "self_attn", "o_proj": "self_attn",
          "gate_proj": "mlp", "up_proj": "mlp", "down_proj": "mlp"}


def write_artifact(root: Path, seed: int = 0, layers: int | None = None) -> dict:
    rng = np.random.default_rng(seed)
    entries = []
    for layer in range(SHAPE.num_layers if layers is None else layers):
        tensors, projs = {}, []
        for name, module, m, n in SHAPE.projections():
            full = f"{PREFIX[name]}.{name}"
            mask = rng.random((m, n)) < rng.uniform(0.1, 0.9, n)[None, :]
            values, indices, indptr = artifact.dense_to_csr(rng.standard_normal((m, n)).astype(np.float32), mask)
            r = int(rng.integers(0, 5))
            tensors.update({f"{full}.U": rng.standard_normal((m, r)).astype(np.float32),
                            f"{full}.V": rng.standard_normal((r, n)).astype(np.float32),
                            f"{full}.S.values": values, f"{full}.S.indices": indices, f"{full}.S.indptr": indptr,
                            f"{full}.act_norm": np.ones(n, np.float32)})
            projs.append(artifact.projection_entry(full, "attention" if module == "MHA" else "mlp", (m, n), r,
                                                   int(mask.sum()), 0))
        entries.append(artifact.write_layer(root, layer, tensors, projs))
    manifest = {
        "format_version": 1,
        "model": {"id": SHAPE.name, "architecture": "LlamaForCausalLM", "num_layers": SHAPE.num_layers,
                  "hidden_size": SHAPE.hidden_size, "intermediate_size": SHAPE.intermediate_size,
                  "num_attention_heads": SHAPE.num_attention_heads, "num_key_value_heads": SHAPE.num_key_value_heads,
                  "head_dim": SHAPE.head_dim},
        "method": "sslc", "hyperparameters": {"ratio": 0.5}, "seed": seed,
        "calibration": {"text": "test", "samples": 1, "seqlen": 8},
        "layers": entries, "complete": layers is None,
    }
    artifact.write_manifest(root, manifest)
    return manifest
