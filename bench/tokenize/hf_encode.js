// HuggingFace tokenizers (npm package `tokenizers`, the Rust core through its
// Node binding) on the benchmark text: one encode() per line, no special
// tokens, awaited one at a time (single thread). Prints MB/s like
// tokenize_bench and writes the ids in the same format.
//   node hf_encode.js TOKENIZER_JSON TEXT_FILE IDS_OUT [PASSES]
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

async function main() {
  const [tokenizerFile, textFile, idsOut, passesArg] = process.argv.slice(2);
  const passes = Math.max(2, Number(passesArg || 3));
  const text = fs.readFileSync(textFile, 'utf8');
  const bytes = Buffer.byteLength(text, 'utf8');
  let lines = text.split('\n');
  if (lines.length && lines[lines.length - 1] === '') lines.pop();

  const loadStart = process.hrtime.bigint();
  const tokenizer = Tokenizer.fromFile(tokenizerFile);
  const loadS = Number(process.hrtime.bigint() - loadStart) / 1e9;

  let ids = [];
  let first = 0, best = Infinity;
  for (let pass = 0; pass < passes; ++pass) {
    const out = [];
    const t0 = process.hrtime.bigint();
    for (const line of lines) {
      const enc = await tokenizer.encode(line, null, { addSpecialTokens: false });
      out.push(enc.getIds());
    }
    const s = Number(process.hrtime.bigint() - t0) / 1e9;
    if (pass === 0) first = s; else best = Math.min(best, s);
    ids = out;
  }
  const mb = bytes / 1e6;
  const nTokens = ids.reduce((n, v) => n + v.length, 0);
  console.log(`huggingface  ${tokenizerFile.padEnd(40)} load ${loadS.toFixed(2).padStart(6)} s  ` +
              `${mb.toFixed(2).padStart(7)} MB  ${String(nTokens).padStart(9)} tokens  ` +
              `first pass ${(mb / first).toFixed(2).padStart(6)} MB/s  best ${(mb / best).toFixed(2).padStart(6)} MB/s`);
  fs.writeFileSync(idsOut, ids.map((v) => v.join(' ')).join('\n') + '\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
