#!/usr/bin/env bash
# Tokenizer throughput, streamgauge vs HuggingFace tokenizers (Rust core via the
# npm package `tokenizers`), single thread, on the same ~10 MB mixed
# English/Chinese text and the same tokenizer.json files; also checks that both
# give the same ids. Installs `tokenizers` into a temporary directory (never
# into the repository); needs node/npm and python3.
#   bench/tokenize/compare_hf.sh [BUILD_DIR]   (default: build; SG_BENCH=ON)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
shared=$(cd "$repo/../shared" && pwd)
bench="$build/bench/tokenize_bench"
[ -x "$bench" ] || { echo "compare_hf.sh: $bench not found (configure with -DSG_BENCH=ON and build tokenize_bench)" >&2; exit 2; }

work=$(mktemp -d /tmp/sg-tokenize-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null 2>&1 && npm install --no-audit --no-fund --silent tokenizers@0.23.2 >/dev/null)
cp "$here/hf_encode.js" "$work/"

python3 "$here/make_tokenizer_json.py" "$shared/tokenizers/gpt2" "$work/gpt2.json"
python3 "$here/make_tokenizer_json.py" "$shared/tokenizers/qwen2.5" "$work/qwen2.5.json"
cp "$shared/tokenizers/pythia/20B_tokenizer.json" "$work/pythia.json"

"$bench" "$work/pythia.json" --passes 1 --save-text "$work/text.txt" >/dev/null
status=0
for name in pythia gpt2 qwen2.5; do
  echo "== $name"
  "$bench" "$work/$name.json" --text "$work/text.txt" --save-ids "$work/$name.sg.ids"
  (cd "$work" && RAYON_NUM_THREADS=1 UV_THREADPOOL_SIZE=1 node hf_encode.js "$work/$name.json" "$work/text.txt" "$work/$name.hf.ids")
  if cmp -s "$work/$name.sg.ids" "$work/$name.hf.ids"; then
    echo "ids: identical"
  else
    echo "ids: DIFFER (first differing line below)"
    diff <(tr ' ' '\n' < "$work/$name.sg.ids") <(tr ' ' '\n' < "$work/$name.hf.ids") | head -5 || true
    status=1
  fi
done
exit $status
