#!/usr/bin/python3
"""streamgauge at research scale, side by side with PyTorch, in one run (issue 18).

    bench/scale/scale.py [--build build] [--models DIR] [--workloads a,b,...] [--quick] [--rounds N]
        [--case K] [--no-fast] [--no-torch] [--torch-sample N]
    bench/scale/scale.py --table run1.json run2.json ...   (the table of earlier runs, one row per case)

Workloads (random-weight models written by build/bench/make_model into --models,
default $STREAMGAUGE_BENCH_DIR or ./bench-models):
  dataset-410m    512 sequences x 256 tokens, Pythia-410M shape, F32: `gains`
  dataset-1.4b    the same on the Pythia-1.4B shape
  long-1b         one 4096-token sequence, Llama-3.2-1B shape, F32: `gains`
  big-6.9b        Pythia-6.9B shape, BF16 (13.8 GB): `gains` on 8 seed-length prompts and on 64 x 256
  big-8b          Llama-3.1-8B shape, BF16 (16 GB): the same
  align-3b        400 texts (200 pairs) of 16-48 tokens, Qwen2.5-3B shape, F32: `align`
--quick divides the sequence counts and lengths by 8 (a smoke run of the script).

For each: the floor (FLOPs of the forward, attention included, over this machine's
best float32 GEMM rate measured by engine_bench in the same run; BF16 rate for
--fast), streamgauge's whole command (wall time, forward seconds, peak RSS), the
same with --fast where the CPU has BF16 dot products (avx512_bf16), and PyTorch
at its best (bench/scale/torch_batched.py: padded batches with a mask, best batch
size; float32 unless the model does not fit, then BF16; with --torch-sample N on the
first N sequences only, its time scaled to the case's tokens). Every time is the best of
--rounds tries. For the 7-8B models, one read of the weight file from the page
cache and from disk (its pages dropped first with posix_fadvise) are measured too,
and the first run (weight norms computed: each case has its own empty norm cache)
is timed apart from the best of the later ones (norms read back).
Prints a Markdown table (the README's speed table) and writes scale.json.
"""
import argparse, json, os, resource, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
PY = "/usr/bin/python3"

# name: (make_model shape, dtype, experiment, [(label, sequences, tokens)], target: x the floor)
WORKLOADS = {
    "dataset-410m": ("pythia-410m", "F32", "gains", [("512 x 256", 512, 256)], 1.15),
    "dataset-1.4b": ("pythia-1.4b", "F32", "gains", [("512 x 256", 512, 256)], 1.15),
    "long-1b": ("llama-3.2-1b", "F32", "gains", [("1 x 4096", 1, 4096)], 1.3),
    "big-6.9b": ("pythia-6.9b", "BF16", "gains", [("8 seed prompts", 8, 0), ("64 x 256", 64, 256)], 1.3),
    "big-8b": ("llama-3.1-8b", "BF16", "gains", [("8 seed prompts", 8, 0), ("64 x 256", 64, 256)], 1.3),
    "align-3b": ("qwen2.5-3b", "F32", "align", [("400 texts", 400, -1)], 1.2),
}
SEED_LENGTHS = [16, 15, 13, 17, 14, 19, 14, 20]  # seed 000's prompts


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timed(cmd, env=None):
    """(wall seconds, peak RSS bytes, stdout) of a command, peak RSS by GNU time."""
    with tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        p = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", rss.name] + cmd, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        if p.returncode != 0:
            raise SystemExit(f"failed ({p.returncode}): {' '.join(cmd)}\n{p.stderr[-2000:]}")
        return wall, int(rss.read().split()[-1]) * 1024, p.stdout


def ids_file(path, vocab, count, length, seed):
    import random
    r = random.Random(seed)
    with open(path, "w") as f:
        for i in range(count):
            n = SEED_LENGTHS[i % 8] if length == 0 else length
            f.write(json.dumps([r.randrange(vocab) for _ in range(n)]) + "\n")


def pairs_file(path, vocab, count, seed):
    import random
    r = random.Random(seed)
    with open(path, "w") as f:
        for _ in range(count // 2):
            a = [r.randrange(vocab) for _ in range(r.randrange(16, 49))]
            b = [r.randrange(vocab) for _ in range(r.randrange(16, 49))]
            f.write(json.dumps({"a_ids": a, "b_ids": b}) + "\n")


def forward_flops(cfg, lengths):
    """Multiply-adds x 2 of the decoder layers (no LM head: gains and align need none)."""
    d, m, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
    h = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", h)
    hd = cfg.get("head_dim") or d // h
    if cfg["model_type"] == "gpt_neox":
        params = 4 * d * d + 2 * d * m
    else:
        params = 2 * d * h * hd + 2 * d * kv * hd + 3 * d * m
    tokens = sum(lengths)
    attention = sum(2 * 2 * T * (T + 1) / 2 * h * hd for T in lengths)  # q.k and p.v over the causal half
    return L * (2 * tokens * params + attention)


def gemm_rates(build, models):
    """This machine's best GEMM rates now (GFLOP/s): float32 and BF16, engine_bench's up-projection products."""
    env = dict(os.environ, STREAMGAUGE_BENCH_DIR=models, OMP_WAIT_POLICY="PASSIVE")
    out = subprocess.run([f"{build}/bench/engine_bench", "--benchmark_filter=^gemm(_bf16)?/pythia-1.4b/up/",
                          "--benchmark_min_time=0.3", "--benchmark_repetitions=3", "--benchmark_format=json"],
                         env=env, capture_output=True, text=True, check=True).stdout
    rates = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        kind = b["name"].split("/")[0]
        rates[kind] = max(rates.get(kind, 0.0), b["GFLOP/s"])
    return rates.get("gemm", 0.0), rates.get("gemm_bf16", 0.0)


def file_read_seconds(path):
    """(warm, cold) seconds to read a file once: from the page cache, then after dropping its pages."""
    def read():
        t0 = time.perf_counter()
        with open(path, "rb", buffering=0) as f:
            buf = bytearray(64 << 20)
            while f.readinto(buf):
                pass
        return time.perf_counter() - t0
    read()
    warm = read()
    fd = os.open(path, os.O_RDONLY)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
    cold = read()
    return warm, cold


def model_dir(build, models, shape, dtype):
    """The random-weight model of a shape and dtype (written by make_model if missing)."""
    path = f"{models}/{shape}-{dtype}"
    if not os.path.exists(f"{path}/model.safetensors"):
        log(f"writing {path}")
        subprocess.run([f"{build}/bench/make_model", path, shape, dtype], check=True)
    return path


def has_bf16():
    try:
        return "avx512_bf16" in open("/proc/cpuinfo").read()
    except OSError:
        return False


def table(results):
    """The Markdown table of a run's rows (the README's speed table)."""
    print("| workload | tokens | floor (GEMM rate) | streamgauge: whole command (forward) | vs floor (target) "
          "| peak RSS / file | --fast: forward, vs BF16 floor (target 1.2x) | PyTorch at its best (batch) "
          "| PyTorch / streamgauge forward |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        s = r["streamgauge"]
        target = WORKLOADS[r["workload"]][4]
        fast = r.get("streamgauge --fast")
        fast_cell = ""
        if fast:
            fast_cell = (f"{fast['forward_s']:.1f} s, {fast['forward_s'] / (r['flops'] / (r['gemm_bf16_gflops'] * 1e9)):.2f}x"
                         f" ({fast['model']}, RSS / file {fast['peak_rss_bytes'] / fast['file_bytes']:.2f})")
        pt = r.get("pytorch")
        pt_cell = f"{pt['forward_s']:.1f} s {pt['dtype']} ({pt['batch_size']})" if pt else ""
        if pt and pt["sequences_run"] < r["sequences"]:
            pt_cell += f", scaled from {pt['sequences_run']} of {r['sequences']} sequences"
        if pt:
            pt_cell += f", RSS / file {pt['peak_rss_bytes'] / r['file_bytes']:.2f}"
        ratio = f"{pt['forward_s'] / s['forward_s']:.1f}x" if pt else ""
        if pt and fast and pt["dtype"] == "bfloat16":  # BF16 against BF16 too
            ratio += f" ({pt['forward_s'] / fast['forward_s']:.1f}x vs --fast)"
        if "file_read_warm_s" in r:  # the 7-8B target: the whole command vs floor + one read
            base = r["floor_s"] + r["file_read_warm_s"]
            vs = (f"forward {s['forward_s'] / r['floor_s']:.2f}x; whole vs floor + one read "
                  f"({r['file_read_warm_s']:.1f} s page cache, {r['file_read_cold_s']:.1f} s disk): "
                  f"{s['wall_s'] / base:.2f}x norms cached ({target}x)")
            if "first_run" in r:
                vs += f", {r['first_run']['wall_s'] / base:.2f}x first run ({r['first_run']['wall_s']:.1f} s, norms computed)"
        else:
            vs = f"{s['forward_s'] / r['floor_s']:.2f}x ({target}x)"
        print(f"| {r['workload']} {r['case']} | {r['tokens']} | {r['floor_s']:.1f} s ({r['gemm_f32_gflops']:.0f}) "
              f"| {s['wall_s']:.1f} s ({s['forward_s']:.1f} s) | {vs} | "
              f"{s['peak_rss_bytes'] / r['file_bytes']:.2f} | {fast_cell} | {pt_cell} | {ratio} |")


def check_torch_blas():
    """PyTorch at its best here multiplies float32 through OpenBLAS: Debian's python3-torch links the
    generic libblas.so.3, which without OpenBLAS is the single-threaded reference BLAS (~30x slower)."""
    blas = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
    if "openblas" not in blas:
        raise SystemExit(f"PyTorch would multiply through {blas} (not OpenBLAS): "
                         "apt-get install python3-torch python3-numpy libopenblas0-pthread, or pass --no-torch")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--models", default=os.environ.get("STREAMGAUGE_BENCH_DIR", "bench-models"))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--quick", action="store_true", help="sequence counts and lengths / 8")
    ap.add_argument("--rounds", type=int, default=2, help="tries of each command; the fastest counts")
    ap.add_argument("--no-torch", action="store_true")
    ap.add_argument("--torch-sample", type=int, default=0, metavar="N",
                    help="PyTorch runs only the first N sequences of a case (0: all) and its time is scaled to the "
                         "case's tokens: for the workloads PyTorch takes hours on (the 1.4B dataset, 64 x 256 at 7-8B)")
    ap.add_argument("--case", type=int, choices=(1, 2), help="of a workload with two cases, run the K-th")
    ap.add_argument("--first-case-only", dest="case", action="store_const", const=1, help="the same as --case 1")
    ap.add_argument("--no-fast", action="store_true", help="skip the --fast round on BF16 models")
    ap.add_argument("--out", default="scale.json")
    ap.add_argument("--table", nargs="+", metavar="JSON", help="print the table of earlier runs' scale.json files; run nothing")
    args = ap.parse_args()
    if args.table:
        table([row for path in args.table for row in json.load(open(path))])
        return
    if not args.no_torch:
        check_torch_blas()
    build, models = os.path.abspath(args.build), os.path.abspath(args.models)
    sg = f"{build}/streamgauge"
    os.makedirs(models, exist_ok=True)
    results = []
    for name in args.workloads.split(","):
        if name not in WORKLOADS:
            raise SystemExit(f"unknown workload {name} (known: {', '.join(WORKLOADS)})")
        shape, dtype, experiment, cases, _ = WORKLOADS[name]
        model = model_dir(build, models, shape, dtype)
        cfg = json.load(open(f"{model}/config.json"))
        fsize = os.path.getsize(f"{model}/model.safetensors")
        f32_rate, bf16_rate = gemm_rates(build, models)
        read = file_read_seconds(f"{model}/model.safetensors") if name.startswith("big") else None
        for label, count, length in cases[args.case - 1: args.case] if args.case and len(cases) > 1 else cases:
            if args.quick:
                count, length = max(1, count // 8), length // 8 if length > 0 else length
                label += " (--quick: / 8)"
            with tempfile.TemporaryDirectory() as tmp:
                if experiment == "align":
                    inputs = f"{tmp}/pairs.jsonl"
                    pairs_file(inputs, cfg["vocab_size"], count, 0)
                    lengths = [len(x) for line in open(inputs) for x in json.loads(line).values()]
                    args_after_model = ["--pairs", inputs, "--no-figures", "--perms", "100"]
                    ids = f"{tmp}/ids.jsonl"  # the same texts for PyTorch
                    with open(ids, "w") as f:
                        for line in open(inputs):
                            for x in json.loads(line).values():
                                f.write(json.dumps(x) + "\n")
                else:
                    ids = f"{tmp}/ids.jsonl"
                    ids_file(ids, cfg["vocab_size"], count, length, 0)
                    lengths = [len(json.loads(line)) for line in open(ids)]
                    args_after_model = ["--ids-file", ids, "--no-figures", "--bootstrap", "0"]
                flops = forward_flops(cfg, lengths)
                row = {"workload": name, "case": label, "shape": shape, "dtype": dtype, "tokens": sum(lengths),
                       "sequences": len(lengths),
                       "file_bytes": fsize, "flops": flops, "gemm_f32_gflops": f32_rate, "gemm_bf16_gflops": bf16_rate,
                       "floor_s": flops / (f32_rate * 1e9)}
                if read:
                    row["file_read_warm_s"], row["file_read_cold_s"] = read
                variants = [("streamgauge", model, [])]
                if has_bf16() and experiment == "gains" and not args.no_fast:
                    # --fast multiplies BF16 weights: an F32 workload runs it on the BF16 file of its shape
                    variants.append(("streamgauge --fast", model_dir(build, models, shape, "BF16"), ["--fast"]))
                # A weight-norm cache of the case's own: the first run computes the norms (as a
                # user's first run on a checkpoint does), later ones read them back.
                env = dict(os.environ, STREAMGAUGE_WEIGHT_CACHE=f"{tmp}/weight-norms")
                for tag, path, extra in variants:
                    best = None
                    # the 7-8B cases time the first run (norms computed) and at least one more
                    rounds = max(args.rounds, 2) if tag == "streamgauge" and read else args.rounds
                    for r in range(rounds):
                        out = f"{tmp}/out-{tag[-4:]}-{r}"
                        log(f"{name} {label}: {tag} round {r + 1}")
                        wall, rss, _ = timed([sg, experiment, path] + args_after_model + extra + ["--out", out], env)
                        result = json.load(open(f"{out}/{experiment}.json"))
                        fwd = result["provenance"]["seconds"]  # the forward passes
                        norms = result["provenance"].get("weight_norms_source", "")
                        if read and r == 0 and tag == "streamgauge":
                            row["first_run"] = {"wall_s": wall, "forward_s": fwd, "weight_norms": norms}
                            continue
                        if best is None or wall < best[0]:
                            best = (wall, rss, fwd, norms)
                    row[tag] = {"wall_s": best[0], "peak_rss_bytes": best[1], "forward_s": best[2],
                                "weight_norms": best[3], "model": os.path.basename(path),
                                "file_bytes": os.path.getsize(f"{path}/model.safetensors")}
                if not args.no_torch:
                    torch_dtype = "float32" if dtype == "F32" or fsize * 2 < 20e9 else "bfloat16"
                    log(f"{name} {label}: PyTorch ({torch_dtype})")
                    env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
                    n_run = min(len(lengths), args.torch_sample or len(lengths))  # the first sequences
                    sample = ids
                    if n_run < len(lengths):
                        sample = f"{tmp}/sample.jsonl"
                        with open(ids) as src, open(sample, "w") as dst:
                            dst.writelines(src.readlines()[:n_run])
                    wall, rss, out = timed([PY, f"{HERE}/torch_batched.py", model, sample, "--dtype", torch_dtype,
                                            "--repeats", str(args.rounds)], env=env)
                    t = json.loads(out)
                    scale = sum(lengths) / sum(lengths[:n_run])  # time scales with the tokens
                    row["pytorch"] = {"dtype": torch_dtype, "forward_s": t["seconds"] * scale, "wall_s": wall,
                                      "batch_size": t["batch_size"], "peak_rss_bytes": rss, "sequences_run": n_run,
                                      "measured_forward_s": t["seconds"]}
                results.append(row)
                with open(args.out, "w") as f:
                    json.dump(results, f, indent=1)

    table(results)


if __name__ == "__main__":
    main()
