#!/usr/bin/env bash
# Compares streamgauge's tokenization of crafted Unicode texts (unicode_diff.js)
# with HuggingFace tokenizers' on the shared GPT-2, Pythia and Qwen2.5
# tokenizers. Installs `tokenizers` into a temporary directory (never into the
# repository); needs node/npm and python3.
#   bench/tokenize/unicode_diff.sh [BUILD_DIR] [COUNT]   (default: build, 20000 texts per tokenizer)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$repo/build}" && pwd)
count=${2:-20000}
shared=$(cd "$repo/../shared" && pwd)
sg="$build/streamgauge"
[ -x "$sg" ] || { echo "unicode_diff.sh: $sg not found" >&2; exit 2; }

work=$(mktemp -d /tmp/sg-unicode-diff.XXXXXX)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm init -y >/dev/null 2>&1 && npm install --no-audit --no-fund --silent tokenizers@0.23.2 >/dev/null)
cp "$here/unicode_diff.js" "$work/"
python3 "$here/make_tokenizer_json.py" "$shared/tokenizers/gpt2" "$work/gpt2.json"
python3 "$here/make_tokenizer_json.py" "$shared/tokenizers/qwen2.5" "$work/qwen2.5.json"
cp "$shared/tokenizers/pythia/20B_tokenizer.json" "$work/pythia.json"

status=0
seed=1
for name in gpt2 pythia qwen2.5; do
  (cd "$work" && node unicode_diff.js "$work/$name.json" "$work/$name.texts.jsonl" "$work/$name.hf.jsonl" "$count" "$seed")
  "$sg" tokenize "$work/$name.json" --no-special --file "$work/$name.texts.jsonl" > "$work/$name.sg.jsonl"
  differ=$(paste -d '\n' "$work/$name.hf.jsonl" "$work/$name.sg.jsonl" | paste - - | awk -F'\t' '$1 != $2' | wc -l)
  echo "$name: $count texts, $differ differ"
  if [ "$differ" != 0 ]; then
    status=1
    paste "$work/$name.texts.jsonl" "$work/$name.hf.jsonl" "$work/$name.sg.jsonl" | awk -F'\t' '$2 != $3' | head -5
  fi
  seed=$((seed + 1))
done
exit $status
