"""Streaming observation: per-token residual-stream norms of many prompts,
reduced as the forward produces each layer, nothing else kept (the seeds'
"norm-only hooks" done right).

    PYTHONPATH=build/python /usr/bin/python3 examples/stream_norms.py [MODEL]
"""
import collections
import sys

import numpy as np

import streamgauge as sg

model = sg.load(sys.argv[1] if len(sys.argv) > 1 else "../shared/models/stories260k")
prompts = ["Once upon a time", "The little dog ran to the park", "She was happy because the sun was out",
           "Tom and Lily played with a big red ball"]
norms = collections.defaultdict(list)  # capture point -> per-token norms of every prompt


def keep_norms(name, sequence_index, activation):
    # activation: [tokens, d_model], valid only during this call
    norms[name].append(np.linalg.norm(activation, axis=-1))


model.run(prompts, observe={"blocks.*.hook_resid_post": keep_norms, "blocks.*.hook_mlp_out": keep_norms})
print(f"{'layer':>5} {'||resid_post||':>15} {'||mlp_out||':>12} {'first token':>12}")
for layer in range(model.config["n_layers"]):
    resid = np.concatenate(norms[f"blocks.{layer}.hook_resid_post"])
    mlp = np.concatenate(norms[f"blocks.{layer}.hook_mlp_out"])
    first = np.mean([n[0] for n in norms[f"blocks.{layer}.hook_resid_post"]])
    print(f"{layer:>5} {resid.mean():>15.3f} {mlp.mean():>12.3f} {first:>12.3f}")
