"""TransformerLens-style exploration of a run_with_cache cache: next-token
predictions, the residual stream's decomposition and growth, attention
patterns, a logit lens through the final norm's direction.

    PYTHONPATH=build/python /usr/bin/python3 examples/cache_exploration.py [MODEL] [PROMPT]
"""
import sys

import numpy as np

import streamgauge as sg

model = sg.load(sys.argv[1] if len(sys.argv) > 1 else "../shared/models/stories260k")
prompt = sys.argv[2] if len(sys.argv) > 2 else "Once upon a time, there was a little girl"
tokens = model.tokenize(prompt)
logits, cache = model.run_with_cache(prompt)
n_layers = model.config["n_layers"]
print(model, "-", len(tokens), "tokens,", len(cache), "cached activations")

# What the model predicts after the prompt.
last = logits[-1]
probs = np.exp(last - last.max())
probs /= probs.sum()
for i in np.argsort(-last)[:5]:
    print(f"  next {model.decode([int(i)])!r:>12}  p = {probs[i]:.3f}")

# Every block adds its attention and MLP outputs to the residual stream.
for layer in range(n_layers):
    b = f"blocks.{layer}."
    rebuilt = cache[b + "hook_resid_pre"] + cache[b + "hook_attn_out"] + cache[b + "hook_mlp_out"]
    gap = np.abs(rebuilt - cache[b + "hook_resid_post"]).max()
    norm = np.linalg.norm(cache[b + "hook_resid_post"], axis=-1).mean()
    print(f"  layer {layer}: mean ||resid_post|| = {norm:7.3f}, |pre + attn + mlp - post| <= {gap:.1e}")

# Where the last token looks, head by head, in the last layer.
pattern = cache[f"blocks.{n_layers - 1}.attn.hook_pattern"]  # [heads, query, key]
words = [model.decode([t]) for t in tokens]
for head, row in enumerate(pattern[:, -1, :]):
    k = int(row.argmax())
    print(f"  layer {n_layers - 1} head {head}: last token attends most to {words[k]!r} ({row[k]:.2f})")

# Logit lens: how well each layer's residual stream already aligns with the
# final norm's output at the last position.
final = cache["ln_final.hook_out"][-1]
for layer in range(n_layers):
    r = cache[f"blocks.{layer}.hook_resid_post"][-1]
    cos = r @ final / (np.linalg.norm(r) * np.linalg.norm(final))
    print(f"  cos(resid_post[{layer}], ln_final) at the last token = {cos:+.3f}")
