#!/usr/bin/env bash
# streamgauge gains vs the route users take today (seed 000's PyTorch hooks), in one run.
#
#   bench/gains/compare_torch.sh [BUILD_DIR] [SHAPES] [ROUNDS]
#   e.g.  bench/gains/compare_torch.sh build "pythia-410m pythia-1.4b" 5
#
# For each shape: writes a random-weight HF-format model (F32 and BF16) into
# $STREAMGAUGE_BENCH_DIR (default ./bench-models), 8 prompts of lengths
# 16,15,13,17,14,19,14,20 as token ids, then times
#   (a) PyTorch eager + forward hooks, one forward per prompt (torch_hooks.py;
#       Debian's python3-torch, 2 threads, OMP_WAIT_POLICY=PASSIVE: its best here;
#       float32 is the comparison the targets are about, BF16 is shown too);
#       the best of its 3 repeats
#   (b) ROUNDS rounds (default 5) of: this machine's GEMM rate measured now (the
#       best of 3 repetitions), then streamgauge gains on the F32 file, the BF16
#       file, and the BF16 file with --fast, each the best of $tries = 3 runs (forward
#       seconds from gains.json; peak RSS of the whole command).
# The floor is FLOPs / the GEMM rate (engine_bench's gemm*/<shape>/up/{plain,packed}:
# weights streamed from memory; the floor takes the faster, pre-packed layout;
# the rate with the weights as stored, which is what a forward from the mapped
# file multiplies, is shown too). The host is shared and its load comes and goes,
# so every time is the best of a few (bursts of load only ever slow things down,
# for PyTorch, the GEMMs and streamgauge alike), each forward is compared with
# the GEMM rate of its own round, and the script prints the median of those
# per-round ratios and their range, and the largest
# deviation of the gains between PyTorch and streamgauge, and --fast and the default.
set -euo pipefail
build=${1:-build}
shapes=${2:-"pythia-410m pythia-1.4b"}
rounds=${3:-5}
tries=3  # runs of each streamgauge command per round; the fastest counts
models=${STREAMGAUGE_BENCH_DIR:-bench-models}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
# OMP_WAIT_POLICY=PASSIVE is PyTorch's best configuration here (its OpenMP and
# OpenBLAS threads must not both spin); streamgauge has one threading runtime
# (OpenMP, shared with oneDNN) and runs with the default policy.
[ -x "$build/streamgauge" ] && [ -x "$build/bench/make_model" ] && [ -x "$build/bench/engine_bench" ] ||
  { echo "build $build first (scripts/setup; SG_BENCH=ON)" >&2; exit 2; }
# PyTorch at its best here multiplies float32 through OpenBLAS: Debian's python3-torch links
# the generic libblas.so.3, which without OpenBLAS installed is the reference BLAS (~30x slower).
bench_pkgs="python3-torch python3-numpy libopenblas0-pthread"
$py -c 'import torch, numpy' 2>/dev/null && readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 | grep -q openblas ||
  { echo "the PyTorch side needs OpenBLAS behind Debian's python3-torch: apt-get install $bench_pkgs" >&2; exit 2; }
mkdir -p "$models"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

$py - > "$tmp/ids.jsonl" <<'PY'
import random
r = random.Random(0)
for n in (16, 15, 13, 17, 14, 19, 14, 20):
    print([r.randrange(50304) for _ in range(n)])
PY

peak_rss() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1; }  # KiB

for shape in $shapes; do
  for dt in F32 BF16; do
    [ -f "$models/$shape-$dt/model.safetensors" ] || "$build/bench/make_model" "$models/$shape-$dt" "$shape" "$dt"
    torch_dtype=$([ $dt = F32 ] && echo float32 || echo bfloat16)
    OMP_WAIT_POLICY=PASSIVE $py "$here/torch_hooks.py" "$models/$shape-$dt" "$tmp/ids.jsonl" --dtype $torch_dtype \
      > "$tmp/torch-$dt.json"
  done
  for round in $(seq "$rounds"); do
    out="$tmp/$shape-$round"
    mkdir -p "$out"
    STREAMGAUGE_BENCH_DIR="$models" "$build/bench/engine_bench" --benchmark_filter="^gemm(_bf16)?/$shape/up/" \
      --benchmark_min_time=0.3 --benchmark_repetitions=3 --benchmark_format=json > "$out/gemm.json" 2>/dev/null
    for run in F32 BF16 fast; do
      dir="$models/$shape-$([ $run = fast ] && echo BF16 || echo $run)"
      for try in $(seq "$tries"); do
        peak_rss "$build/streamgauge" gains "$dir" --ids-file "$tmp/ids.jsonl" --out "$out/$run-$try" \
          --no-weights --no-figures --bootstrap 0 $([ $run = fast ] && echo --fast) > "$out/$run-$try.rss"
      done
    done
  done
  $py - "$tmp" "$models" "$shape" "$rounds" "$tries" <<'PY'
import json, os, statistics, sys
tmp, models, shape, rounds, tries = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
cfg = json.load(open(f"{models}/{shape}-F32/config.json"))
dm, m, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
lens = [16, 15, 13, 17, 14, 19, 14, 20]
flops = L * (2 * sum(lens) * (4 * dm * dm + 2 * dm * m) + sum(2 * 2 * T * (T + 1) / 2 * dm for T in lens))

def rates(r):  # {"gemm": {"plain": x, "packed": y}, "gemm_bf16": {...}} in GFLOP/s, best repetition
    out = {}
    for b in json.load(open(f"{tmp}/{shape}-{r}/gemm.json"))["benchmarks"]:
        if b.get("run_type") == "aggregate":
            continue
        kind, _, _, layout = b["name"].split("/")[:4]  # gemm*/SHAPE/up/LAYOUT
        rates = out.setdefault(kind, {})
        rates[layout] = max(rates.get(layout, 0.0), b["GFLOP/s"])
    return out

R = [rates(r) for r in range(1, rounds + 1)]
TRIES = range(1, tries + 1)
def runs(run):  # per round, the gains.json of its fastest try
    return [min((json.load(open(f"{tmp}/{shape}-{r}/{run}-{t}/gains.json")) for t in TRIES),
                key=lambda j: j["provenance"]["seconds"]) for r in range(1, rounds + 1)]
def gain_dev(a, b):
    return max(max(abs(x - y) / abs(y) for x, y in zip(a[k], b[k])) for k in a)
def span(xs):
    return f"{statistics.median(xs):.2f}x (rounds {min(xs):.2f}-{max(xs):.2f})"

for dt in ("F32", "BF16"):
    t = json.load(open(f"{tmp}/torch-{dt}.json"))
    sg = runs(dt)
    secs = [r["provenance"]["seconds"] for r in sg]
    best = [max(x["gemm"].values()) for x in R]
    plain = [x["gemm"]["plain"] for x in R]
    vs_floor = [s / (flops / (g * 1e9)) for s, g in zip(secs, best)]
    vs_plain = [s / (flops / (g * 1e9)) for s, g in zip(secs, plain)]
    fsize = os.path.getsize(f"{models}/{shape}-{dt}/model.safetensors")
    rss = max(int(open(f"{tmp}/{shape}-{r}/{dt}-{i}.rss").read()) for r in range(1, rounds + 1) for i in TRIES) * 1024
    dev = gain_dev({"a": sg[0]["attention"]["gains"], "m": sg[0]["mlp"]["gains"]},
                   {"a": t["attn_gains"], "m": t["mlp_gains"]})
    sg_s, pt_s = statistics.median(secs), min(t["all_seconds"])
    print(f"{shape} {dt}: PyTorch {pt_s:.3f} s, streamgauge {sg_s:.3f} s (median of {rounds} rounds) -> "
          f"{pt_s/sg_s:.1f}x faster; vs floor {span(vs_floor)} "
          f"[floor {flops/(statistics.median(best)*1e9):.3f} s at {statistics.median(best):.0f} GFLOP/s; "
          f"vs the stored-layout rate ({statistics.median(plain):.0f}) {span(vs_plain)}]")
    print(f"   peak RSS: PyTorch {t['peak_rss_bytes']/2**30:.2f} GiB, streamgauge {rss/2**30:.2f} GiB "
          f"({rss/fsize:.2f}x the {fsize/2**30:.2f} GiB weight file); max rel. gain difference vs PyTorch {dev:.1e}")

fast, ref = runs("fast"), runs("BF16")
secs = [r["provenance"]["seconds"] for r in fast]
best = [max(x["gemm_bf16"].values()) for x in R]
plain = [x["gemm_bf16"]["plain"] for x in R]
vs_floor = [s / (flops / (g * 1e9)) for s, g in zip(secs, best)]
vs_plain = [s / (flops / (g * 1e9)) for s, g in zip(secs, plain)]
fdev = gain_dev({k: fast[0][k]["gains"] for k in ("attention", "mlp")}, {k: ref[0][k]["gains"] for k in ("attention", "mlp")})
print(f"   --fast (BF16 products): {statistics.median(secs):.3f} s; vs BF16 floor {span(vs_floor)} "
      f"[floor {flops/(statistics.median(best)*1e9):.3f} s at {statistics.median(best):.0f} GFLOP/s; "
      f"vs the stored-layout rate ({statistics.median(plain):.0f}) {span(vs_plain)}]; "
      f"max rel. gain deviation from the default path {fdev:.1e}")
PY
done
