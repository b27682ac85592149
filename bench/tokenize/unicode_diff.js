// Differential check of the tokenizers' Unicode edges against HuggingFace
// tokenizers (npm package `tokenizers`, the Rust core): random short texts
// mixing letters and digits of every Unicode version, the whitespace
// characters, combining marks, composable pairs, Hangul jamo, contractions
// with case variants and line breaks. Writes the texts as JSONL and the ids HF
// gives, for `streamgauge tokenize --file` to be compared with
// (bench/tokenize/unicode_diff.sh does both).
//   node unicode_diff.js TOKENIZER_JSON TEXTS_OUT.jsonl HF_IDS_OUT.jsonl [COUNT] [SEED]
const fs = require('fs');
const { Tokenizer } = require('tokenizers');

const [tokenizerFile, textsOut, idsOut, countArg, seedArg] = process.argv.slice(2);
const count = Number(countArg || 20000);
let seed = Number(seedArg || 1);
const rand = () => {  // xorshift32: the same texts on every run
  seed ^= seed << 13; seed >>>= 0; seed ^= seed >>> 17; seed ^= seed << 5; seed >>>= 0;
  return seed / 4294967296;
};
const pick = (a) => a[Math.floor(rand() * a.length)];

// Pools of code points, by what they exercise.
const cps = (re, lo, hi) => {
  const out = [];
  for (let c = lo; c <= hi; ++c) if (re.test(String.fromCodePoint(c))) out.push(c);
  return out;
};
const assigned = cps(/\P{Cn}/u, 0x80, 0x3ffff).filter((c) => c < 0xd800 || c > 0xdfff);
const marks = cps(/\p{M}/u, 0x300, 0x1ffff);
const pools = [
  [...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'].map((c) => c.codePointAt(0)),
  [...'0123456789'].map((c) => c.codePointAt(0)),
  [...' \t\n\r\x0b\x0c'].map((c) => c.codePointAt(0)).concat([0x85, 0xa0, 0x1680, 0x180e, 0x2000, 0x200b, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000, 0xfeff]),
  [...'\'\'\'sStTdDmMlLrReEvV.,!?-'].map((c) => c.codePointAt(0)).concat([0x17f, 0x212a, 0x2019]),
  assigned, assigned, assigned,
  marks, marks,
  [0x1100, 0x1101, 0x1161, 0x1162, 0x11a7, 0x11a8, 0x11c2, 0x11c3, 0xac00, 0xac01, 0xd7a3, 0x3131],
  [0x41, 0x61, 0x65, 0x6f, 0x75, 0x3b1, 0x3c9, 0x915, 0x11935, 0x11930, 0x11938, 0x1d157, 0x1d165, 0x0898, 0x0316, 0x1df6, 0x0301, 0x0308, 0x0327, 0x0345],
];

const tok = Tokenizer.fromFile(tokenizerFile);
(async () => {
  const texts = [];
  for (let i = 0; i < count; ++i) {
    const len = 1 + Math.floor(rand() * 10);
    let s = '';
    for (let k = 0; k < len; ++k) s += String.fromCodePoint(pick(pick(pools)));
    texts.push(s);
  }
  const ids = [];
  for (const t of texts) ids.push((await tok.encode(t, null, { addSpecialTokens: false })).getIds());
  fs.writeFileSync(textsOut, texts.map((t) => JSON.stringify({ text: t })).join('\n') + '\n');
  fs.writeFileSync(idsOut, ids.map((v) => JSON.stringify({ ids: v })).join('\n') + '\n');
})();
