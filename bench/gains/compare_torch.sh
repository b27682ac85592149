#!/usr/bin/env bash
# streamgauge gains vs the route users take today (seed 000's PyTorch hooks), in one run.
#
#   bench/gains/compare_torch.sh [BUILD_DIR] [SHAPES]      e.g.  bench/gains/compare_torch.sh build "pythia-410m pythia-1.4b"
#
# For each shape: writes a random-weight HF-format model (F32 and BF16) into
# $STREAMGAUGE_BENCH_DIR (default ./bench-models), 8 prompts of lengths
# 16,15,13,17,14,19,14,20 as token ids, then times
#   (a) PyTorch eager + forward hooks, one forward per prompt (torch_hooks.py;
#       Debian's python3-torch, 2 threads, OMP_WAIT_POLICY=PASSIVE: its best here;
#       float32 is the comparison the targets are about, BF16 is shown too)
#   (b) streamgauge gains on the same files (forward seconds from gains.json,
#       median of 3 runs; peak RSS of the whole command), and the same with --fast
# and the compute floor: FLOPs / this machine's GEMM rate measured now
# (engine_bench's gemm/<shape>/{plain,packed}: weights streamed from memory; the
# floor takes the faster, pre-packed layout; the rate with the weights as
# stored, which is what a forward from the mapped file multiplies, is shown too). Prints the ratios and the largest deviation of
# the gains between PyTorch and streamgauge, and between --fast and the default.
set -euo pipefail
build=${1:-build}
shapes=${2:-"pythia-410m pythia-1.4b"}
models=${STREAMGAUGE_BENCH_DIR:-bench-models}
py=/usr/bin/python3
here=$(cd "$(dirname "$0")" && pwd)
# OMP_WAIT_POLICY=PASSIVE is PyTorch's best configuration here (its OpenMP and
# OpenBLAS threads must not both spin); streamgauge has one threading runtime
# (OpenMP, shared with oneDNN) and runs with the default policy.
[ -x "$build/streamgauge" ] && [ -x "$build/bench/make_model" ] && [ -x "$build/bench/engine_bench" ] ||
  { echo "build $build first (scripts/setup; SG_BENCH=ON)" >&2; exit 2; }
$py -c 'import torch, numpy' 2>/dev/null || { echo "needs Debian's python3-torch and python3-numpy" >&2; exit 2; }
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
  done
  rates() {  # "best plain" GFLOP/s of engine_bench's reference GEMM (weights streamed; packed and plain layouts)
    STREAMGAUGE_BENCH_DIR="$models" "$build/bench/engine_bench" --benchmark_filter="^$1/$shape/" --benchmark_min_time=1 \
      --benchmark_format=json 2>/dev/null | $py -c '
import json, sys
r = {b["name"].split("/")[2]: b["GFLOP/s"] for b in json.load(sys.stdin)["benchmarks"]}
print(max(r.values()), r["plain"])'
  }
  read -r gemm gemm_plain <<< "$(rates gemm)"
  read -r gemm_bf16 gemm_bf16_plain <<< "$(rates gemm_bf16)"
  for dt in F32 BF16; do
    dir="$models/$shape-$dt"
    torch_dtype=$([ $dt = F32 ] && echo float32 || echo bfloat16)
    OMP_WAIT_POLICY=PASSIVE $py "$here/torch_hooks.py" "$dir" "$tmp/ids.jsonl" --dtype $torch_dtype > "$tmp/torch.json"
    for run in 1 2 3; do
      rss=$(peak_rss "$build/streamgauge" gains "$dir" --ids-file "$tmp/ids.jsonl" --out "$tmp/sg$run" \
            --no-weights --no-figures --bootstrap 0)
      echo "$rss" > "$tmp/sg$run.rss"
    done
    if [ $dt = BF16 ]; then
      for run in 1 2 3; do
        "$build/streamgauge" gains "$dir" --ids-file "$tmp/ids.jsonl" --out "$tmp/fast$run" \
          --no-weights --no-figures --bootstrap 0 --fast > /dev/null
      done
    fi
    $py - "$tmp" "$dir" "$shape" "$dt" "$gemm" "$gemm_bf16" "$gemm_plain" "$gemm_bf16_plain" <<'PY'
import json, os, statistics, sys
tmp, d, shape, dt = sys.argv[1:5]
gemm, gemm_bf16, gemm_plain, gemm_bf16_plain = map(float, sys.argv[5:9])
t = json.load(open(f"{tmp}/torch.json"))
runs = [json.load(open(f"{tmp}/sg{i}/gains.json")) for i in (1, 2, 3)]
sg_s = statistics.median(r["provenance"]["seconds"] for r in runs)
rss = max(int(open(f"{tmp}/sg{i}.rss").read()) for i in (1, 2, 3)) * 1024
cfg = json.load(open(f"{d}/config.json"))
dm, m, L = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"]
lens = [16, 15, 13, 17, 14, 19, 14, 20]
N = sum(lens)
flops = L * (2 * N * (4 * dm * dm + 2 * dm * m) + sum(2 * 2 * T * (T + 1) / 2 * dm for T in lens))
floor = flops / (gemm * 1e9)
fsize = os.path.getsize(f"{d}/model.safetensors")
dev = max(max(abs(a - b) / abs(b) for a, b in zip(runs[0]["attention"]["gains"], t["attn_gains"])),
          max(abs(a - b) / abs(b) for a, b in zip(runs[0]["mlp"]["gains"], t["mlp_gains"])))
print(f"{shape} {dt}: PyTorch {t['seconds']:.3f} s, streamgauge {sg_s:.3f} s -> {t['seconds']/sg_s:.1f}x faster; "
      f"floor {floor:.3f} s (GEMM {gemm:.0f} GFLOP/s; {gemm_plain:.0f} with the weights as stored) -> "
      f"streamgauge {sg_s/floor:.2f}x floor, PyTorch {t['seconds']/floor:.2f}x")
print(f"   peak RSS: PyTorch {t['peak_rss_bytes']/2**30:.2f} GiB, streamgauge {rss/2**30:.2f} GiB "
      f"({rss/fsize:.2f}x the {fsize/2**30:.2f} GiB weight file); max rel. gain difference vs PyTorch {dev:.1e}")
if os.path.exists(f"{tmp}/fast1/gains.json"):
    fast = [json.load(open(f"{tmp}/fast{i}/gains.json")) for i in (1, 2, 3)]
    f = fast[0]
    fdev = max(max(abs(a - b) / abs(b) for a, b in zip(f[k]["gains"], runs[0][k]["gains"])) for k in ("attention", "mlp"))
    fs = statistics.median(r["provenance"]["seconds"] for r in fast)
    bf16_floor = flops / (gemm_bf16 * 1e9)
    print(f"   --fast (BF16 products): {fs:.3f} s = {fs/bf16_floor:.2f}x the BF16 floor {bf16_floor:.3f} s "
          f"(BF16 GEMM {gemm_bf16:.0f} GFLOP/s; {gemm_bf16_plain:.0f} with the weights as stored, "
          f"{fs/(flops/(gemm_bf16_plain*1e9)):.2f}x that); max rel. gain deviation from the default path {fdev:.1e}")
    os.system(f"rm -rf {tmp}/fast1 {tmp}/fast2 {tmp}/fast3")
PY
  done
done
