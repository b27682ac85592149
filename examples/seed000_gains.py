"""Seed 000 ("FFN Expansion Analysis") in a few lines: attention vs MLP gain
per layer and its 4-panel figure.

    PYTHONPATH=build/python /usr/bin/python3 examples/seed000_gains.py [MODEL] [OUT.png]
"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import streamgauge as sg  # noqa: E402

model = sys.argv[1] if len(sys.argv) > 1 else sg.demo_model()
out = sys.argv[2] if len(sys.argv) > 2 else "ffn_expansion_analysis.png"
g = sg.gains(model)  # seed 000's prompts (preset ffn-1.4b), its definitions
attn, mlp = np.array(g["attention"]["gains"]), np.array(g["mlp"]["gains"])
layers = np.arange(len(attn))
fig, ax = plt.subplots(2, 2, figsize=(14, 10))
panels = [(ax[0, 0], [(attn, "b-o", "Attention Gain"), (mlp, "r-s", "MLP/FFN Gain")],
           "Gain (||output|| / ||input||)", "Attention vs MLP Gain per Layer"),
          (ax[0, 1], [(g["norms"]["attn_out"], "b-o", "Attn Output Norm"),
                      (g["norms"]["mlp_out"], "r-s", "MLP Output Norm")], "Mean Norm", "Output Norms per Layer"),
          (ax[1, 0], [(mlp / (attn + 1e-10), "g-^", "MLP / Attn")], "MLP Gain / Attn Gain",
           "Relative Contribution: MLP vs Attention"),
          (ax[1, 1], [(attn * mlp, "m-d", "Combined Gain (Attn x MLP)")], "Combined Gain",
           "Net Effect: Attn x MLP Gain")]
for a, lines, ylabel, title in panels:
    for y, style, label in lines:
        a.plot(layers, y, style, linewidth=2, markersize=4, label=label)
    if a is not ax[0, 1]:
        a.axhline(1.0, color="gray", linestyle="--", linewidth=2)
    a.set(xlabel="Layer", ylabel=ylabel, title=title)
    a.legend()
    a.grid(True, alpha=0.3)
fig.suptitle(f"{g['model']}: FFN vs Attention Expansion Analysis\n(Hypothesis: Attention contracts, FFN expands)")
fig.tight_layout()
fig.savefig(out, dpi=150, bbox_inches="tight")
print(f"attention contracting in {g['attention']['n_contracting']}/{len(attn)} layers, MLP expanding in "
      f"{g['mlp']['n_expanding']}/{len(mlp)}; hypothesis confirmed: "
      f"{g['hypothesis_test']['hypothesis_confirmed']}; figure: {out}")
