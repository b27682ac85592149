#!/usr/bin/python3
"""The Python binding's overhead: run_with_cache of the 8 benchmark prompts on
the Pythia-410M shape, against `streamgauge capture` of the same capture points
(the CLI, its forward plus writing the safetensors file) and against PyTorch
eager + forward hooks (bench/gains/torch_hooks.py's GPT-NeoX, Debian's
python3-torch) from the same process, at its best thread settings.

    OMP_WAIT_POLICY=PASSIVE PYTHONPATH=build/python /usr/bin/python3 bench/python_overhead.py [BUILD_DIR] [ROUNDS]

The model is $STREAMGAUGE_BENCH_DIR/pythia-410m-F32 (default ./bench-models,
as bench/gains/compare_torch.sh: `build/bench/make_model bench-models/pythia-410m-F32
pythia-410m F32` writes it). The points are seed 000's: every layer's
ln1.hook_out, hook_attn_out, ln2.hook_out and hook_mlp_out (no logits). Each
time is the best of ROUNDS (default 5) runs: the host is shared, and load only
ever slows things down. Prints one line per contender and a JSON summary.
"""
import json
import os
import pathlib
import random
import subprocess
import sys
import tempfile
import time

HERE = pathlib.Path(__file__).resolve().parent
POINTS = ["blocks.*.ln1.hook_out", "blocks.*.hook_attn_out", "blocks.*.ln2.hook_out", "blocks.*.hook_mlp_out"]
LENGTHS = (16, 15, 13, 17, 14, 19, 14, 20)


def prompts():
    r = random.Random(0)  # the same ids as bench/gains/compare_torch.sh
    return [[r.randrange(50304) for _ in range(n)] for n in LENGTHS]


def best(fn, rounds):
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


def bench_binding(model_dir, seqs, rounds):
    import streamgauge as sg
    m = sg.load(model_dir)
    m.run_with_cache(seqs, names_filter=POINTS, logits=False)  # first touch of the mapped weights
    return best(lambda: m.run_with_cache(seqs, names_filter=POINTS, logits=False), rounds)


def bench_cli(build, model_dir, seqs, rounds):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "acts.safetensors")
        cmd = [os.path.join(build, "streamgauge"), "capture", model_dir, "--hooks", ",".join(POINTS), "--out", out]
        for s in seqs:
            cmd += ["--ids", ",".join(map(str, s))]
        env = {**os.environ, "STREAMGAUGE_NO_PROGRESS": "1"}
        run = lambda: subprocess.run(cmd, check=True, capture_output=True, env=env)  # noqa: E731
        run()
        return best(run, rounds)


def bench_torch(model_dir, seqs, rounds):
    import torch
    sys.path.insert(0, str(HERE / "gains"))
    import torch_hooks as th
    torch.set_num_threads(2)  # its best here (bench/gains/compare_torch.sh)
    cfg = json.load(open(f"{model_dir}/config.json"))
    with torch.no_grad():
        model = th.GPTNeoX(cfg, torch.float32)
    weights = th.load_safetensors(f"{model_dir}/model.safetensors")
    state = {k[len("gpt_neox."):]: v for k, v in weights.items()
             if k.startswith("gpt_neox.") and "final_layer_norm" not in k}
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("inv_freq")]
    if missing or unexpected:
        raise SystemExit(f"weights do not match: missing {missing[:3]} unexpected {unexpected[:3]}")
    model.eval()
    acts = {}
    for i, layer in enumerate(model.layers):
        for name, module, first in (("ln1", layer.input_layernorm, False), ("attn", layer.attention, True),
                                    ("ln2", layer.post_attention_layernorm, False), ("mlp", layer.mlp, False)):
            def hook(mod, inp, out, key=(i, name), first=first):
                acts[key] = (out[0] if first else out).detach().numpy().copy()
            module.register_forward_hook(hook)

    def run():
        with torch.no_grad():
            for s in seqs:
                model(torch.tensor([s]))

    run()
    return best(run, rounds)


def main():
    build = sys.argv[1] if len(sys.argv) > 1 else "build"
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 5
    model_dir = os.path.join(os.environ.get("STREAMGAUGE_BENCH_DIR", "bench-models"), "pythia-410m-F32")
    if not os.path.isfile(os.path.join(model_dir, "model.safetensors")):
        sys.exit(f"no {model_dir}: {build}/bench/make_model {model_dir} pythia-410m F32")
    seqs = prompts()
    results = {}
    for name, fn in (("binding run_with_cache", lambda: bench_binding(model_dir, seqs, rounds)),
                     ("streamgauge capture (CLI)", lambda: bench_cli(build, model_dir, seqs, rounds)),
                     ("PyTorch + forward hooks", lambda: bench_torch(model_dir, seqs, rounds))):
        try:
            results[name], times = fn()
            print(f"{name:28s} {results[name]:.3f} s (best of {rounds}: {', '.join(f'{t:.3f}' for t in times)})")
        except ImportError as e:
            print(f"{name:28s} skipped: {e}")
    print(json.dumps({"model": model_dir, "tokens": sum(LENGTHS), "points": POINTS, "best_seconds": results}))


if __name__ == "__main__":
    main()
