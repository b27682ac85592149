#include "tokenize/unicode.h"

#include <algorithm>
#include <unordered_map>

#include "tokenize/utf8.h"

namespace sg::tok {

namespace {

namespace tables {
struct Range {
  char32_t lo, hi;
};
struct CodePointPair {
  char32_t from, to;
};
struct CccRange {
  char32_t lo, hi;
  uint8_t ccc;
};
struct Decomposition {
  char32_t cp;
  uint16_t offset;
  uint8_t length;
  bool compat;
};
struct Composition {
  char32_t first, second, composite;
};
#include "tokenize/unicode_tables.inc"
}  // namespace tables

// Hangul syllables (Unicode 3.12): composed and decomposed by arithmetic.
constexpr char32_t kSBase = 0xAC00, kLBase = 0x1100, kVBase = 0x1161, kTBase = 0x11A7;
constexpr char32_t kLCount = 19, kVCount = 21, kTCount = 28, kNCount = kVCount * kTCount, kSCount = kLCount * kNCount;

bool is_hangul_syllable(char32_t c) { return c >= kSBase && c < kSBase + kSCount; }

void append_utf8(std::string& out, char32_t c) {
  if (c < 0x80) {
    out.push_back(static_cast<char>(c));
  } else if (c < 0x800) {
    out.push_back(static_cast<char>(0xC0 | (c >> 6)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else if (c < 0x10000) {
    out.push_back(static_cast<char>(0xE0 | (c >> 12)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  } else {
    out.push_back(static_cast<char>(0xF0 | (c >> 18)));
    out.push_back(static_cast<char>(0x80 | ((c >> 12) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | ((c >> 6) & 0x3F)));
    out.push_back(static_cast<char>(0x80 | (c & 0x3F)));
  }
}

uint8_t combining_class(char32_t c) {
  if (c < 0x300) return 0;
  const auto& t = tables::kCombiningClass;
  auto it =
      std::upper_bound(std::begin(t), std::end(t), c, [](char32_t v, const tables::CccRange& r) { return v < r.lo; });
  if (it == std::begin(t)) return 0;
  --it;
  return c <= it->hi ? it->ccc : 0;
}

const tables::Decomposition* find_decomposition(char32_t c) {
  const auto& t = tables::kDecomposition;
  auto it = std::lower_bound(std::begin(t), std::end(t), c,
                             [](const tables::Decomposition& d, char32_t v) { return d.cp < v; });
  return it != std::end(t) && it->cp == c ? &*it : nullptr;
}

// The composite of a starter and the next character, or 0.
char32_t compose_pair(char32_t a, char32_t b) {
  if (a >= kLBase && a < kLBase + kLCount && b >= kVBase && b < kVBase + kVCount) {
    return kSBase + ((a - kLBase) * kVCount + (b - kVBase)) * kTCount;
  }
  if (is_hangul_syllable(a) && (a - kSBase) % kTCount == 0 && b > kTBase && b < kTBase + kTCount) {
    return a + (b - kTBase);
  }
  const auto& t = tables::kComposition;
  auto it = std::lower_bound(std::begin(t), std::end(t), std::pair(a, b), [](const tables::Composition& e, auto key) {
    return e.first != key.first ? e.first < key.first : e.second < key.second;
  });
  return it != std::end(t) && it->first == a && it->second == b ? it->composite : 0;
}

// Full (recursive) decomposition of c appended to out.
void decompose_char(char32_t c, bool compat, std::vector<char32_t>& out) {
  if (is_hangul_syllable(c)) {
    const char32_t s = c - kSBase;
    out.push_back(kLBase + s / kNCount);
    out.push_back(kVBase + (s % kNCount) / kTCount);
    if (s % kTCount != 0) out.push_back(kTBase + s % kTCount);
    return;
  }
  if (c >= 0xA0) {
    if (const auto* d = find_decomposition(c); d && (compat || !d->compat)) {
      for (uint8_t k = 0; k < d->length; ++k) decompose_char(tables::kDecompositionData[d->offset + k], compat, out);
      return;
    }
  }
  out.push_back(c);
}

// NFD or NFKD of the text, as code points, in canonical order.
std::vector<char32_t> decompose(std::string_view text, bool compat) {
  std::vector<char32_t> out;
  out.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) decompose_char(next_code_point(text, i), compat, out);
  // Canonical ordering: stable sort of each run of non-starters by combining class.
  size_t k = 0;
  while (k < out.size()) {
    if (combining_class(out[k]) == 0) {
      ++k;
      continue;
    }
    size_t end = k;
    while (end < out.size() && combining_class(out[end]) != 0) ++end;
    if (end - k > 1) {
      std::stable_sort(out.begin() + static_cast<ptrdiff_t>(k), out.begin() + static_cast<ptrdiff_t>(end),
                       [](char32_t a, char32_t b) { return combining_class(a) < combining_class(b); });
    }
    k = end;
  }
  return out;
}

// Canonical composition (UAX #15) of a decomposed, ordered sequence, in place.
void compose(std::vector<char32_t>& cps) {
  size_t starter = SIZE_MAX;  // index in the output of the last starter
  uint8_t last_ccc = 0;       // combining class of the last character written
  size_t n = 0;
  for (size_t i = 0; i < cps.size(); ++i) {
    const char32_t c = cps[i];
    const uint8_t ccc = combining_class(c);
    if (starter != SIZE_MAX) {
      const bool adjacent = n == starter + 1;
      if (adjacent || (last_ccc != 0 && last_ccc < ccc)) {
        if (const char32_t composite = compose_pair(cps[starter], c)) {
          cps[starter] = composite;
          continue;
        }
      }
    }
    if (ccc == 0) starter = n;
    last_ccc = ccc;
    cps[n++] = c;
  }
  cps.resize(n);
}

bool all_ascii(std::string_view s) {
  for (char ch : s)
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  return true;
}

// True if every character of s has `flag` (the text is then unchanged by the form).
bool all_have(std::string_view s, uint16_t flag) {
  const CharTable& t = char_table();
  size_t i = 0;
  while (i < s.size()) {
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    if (!(t.flags(next_code_point(s, i)) & flag)) return false;
  }
  return true;
}

char32_t simple_lowercase(char32_t c) {
  const auto& t = tables::kLowercase;
  auto it = std::lower_bound(std::begin(t), std::end(t), c,
                             [](const tables::CodePointPair& p, char32_t v) { return p.from < v; });
  return it != std::end(t) && it->from == c ? it->to : c;
}

// Rust's case_ignorable_then_cased: skipping Case_Ignorable characters, is the next one Cased?
template <typename Next>
bool case_ignorable_then_cased(Next&& next) {
  const CharTable& t = char_table();
  char32_t c;
  while (next(c)) {
    const uint16_t f = t.flags(c);
    if (!(f & kCaseIgnorable)) return f & kCased;
  }
  return false;
}

// Rust's str::to_lowercase: per-character lowercase mapping, U+0130 to "i\u0307",
// and capital sigma to final sigma at the end of a word.
std::string lowercase(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  if (all_ascii(s)) {
    out.assign(s);
    for (char& ch : out)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return out;
  }
  size_t i = 0;
  while (i < s.size()) {
    const size_t start = i;
    const char32_t c = next_code_point(s, i);
    if (c < 0x80) {
      out.push_back(static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c));
    } else if (c == 0x130) {
      out += "i\xCC\x87";
    } else if (c == 0x3A3) {
      size_t back = start, fwd = i;
      const bool word_final = case_ignorable_then_cased([&](char32_t& x) {
                                if (back == 0) return false;
                                x = prev_code_point(s, back);
                                return true;
                              }) &&
                              !case_ignorable_then_cased([&](char32_t& x) {
                                if (fwd >= s.size()) return false;
                                x = next_code_point(s, fwd);
                                return true;
                              });
      append_utf8(out, word_final ? 0x3C2 : 0x3C3);
    } else {
      append_utf8(out, simple_lowercase(c));
    }
  }
  return out;
}

void add_ranges(std::vector<uint16_t>& flat, const tables::Range* begin, const tables::Range* end, uint16_t flag) {
  for (const auto* r = begin; r != end; ++r)
    for (char32_t c = r->lo; c <= r->hi; ++c) flat[c] |= flag;
}

}  // namespace

CharTable::CharTable() {
  std::vector<uint16_t> flat(0x110000, 0);
  add_ranges(flat, std::begin(tables::kLetter), std::end(tables::kLetter), kLetter);
  add_ranges(flat, std::begin(tables::kNumber), std::end(tables::kNumber), kNumber);
  add_ranges(flat, std::begin(tables::kWhiteSpace), std::end(tables::kWhiteSpace), kSpace);
  add_ranges(flat, std::begin(tables::kWord), std::end(tables::kWord), kWord);
  add_ranges(flat, std::begin(tables::kCased), std::end(tables::kCased), kCased);
  add_ranges(flat, std::begin(tables::kCaseIgnorable), std::end(tables::kCaseIgnorable), kCaseIgnorable);

  // Normalization quick checks: start from "stable", then remove non-starters,
  // decomposable characters (except canonical composites that NFC/NFKC rebuild)
  // and characters that combine with the one before.
  constexpr uint16_t kAllStable = kNfdStable | kNfcStable | kNfkdStable | kNfkcStable;
  for (auto& f : flat) f |= kAllStable;
  for (const auto& r : tables::kCombiningClass)
    for (char32_t c = r.lo; c <= r.hi; ++c) flat[c] &= static_cast<uint16_t>(~kAllStable);
  std::vector<bool> composite(0x110000, false), second(0x110000, false);
  for (const auto& e : tables::kComposition) {
    composite[e.composite] = true;
    second[e.second] = true;
  }
  for (const auto& d : tables::kDecomposition) {
    if (d.compat) {
      flat[d.cp] &= static_cast<uint16_t>(~(kNfkdStable | kNfkcStable));
    } else {
      flat[d.cp] &= static_cast<uint16_t>(~(kNfdStable | kNfkdStable));
      if (!composite[d.cp]) flat[d.cp] &= static_cast<uint16_t>(~(kNfcStable | kNfkcStable));
    }
  }
  for (char32_t c = kSBase; c < kSBase + kSCount; ++c) flat[c] &= static_cast<uint16_t>(~(kNfdStable | kNfkdStable));
  for (char32_t c = kVBase; c < kVBase + kVCount; ++c) second[c] = true;
  for (char32_t c = kTBase + 1; c < kTBase + kTCount; ++c) second[c] = true;
  for (char32_t c = 0; c < 0x110000; ++c)
    if (second[c]) flat[c] &= static_cast<uint16_t>(~(kNfcStable | kNfkcStable));

  for (char32_t c = 0; c < 0x80; ++c) ascii_[c] = flat[c];
  // Two stages: 256-code-point blocks, identical blocks stored once.
  std::unordered_map<std::u16string, uint16_t> seen;
  for (size_t b = 0; b < index_.size(); ++b) {
    std::u16string block(256, u'\0');
    for (size_t k = 0; k < 256; ++k) block[k] = static_cast<char16_t>(flat[(b << 8) | k]);
    auto [it, inserted] = seen.emplace(block, static_cast<uint16_t>(seen.size()));
    if (inserted)
      blocks_.insert(blocks_.end(), flat.begin() + static_cast<ptrdiff_t>(b << 8),
                     flat.begin() + static_cast<ptrdiff_t>((b + 1) << 8));
    index_[b] = it->second;
  }
}

const CharTable& char_table() {
  static const CharTable table;
  return table;
}

std::string normalize(NormStep step, std::string_view text) {
  if (step == NormStep::Lowercase) return lowercase(text);
  const bool compat = step == NormStep::NFKC || step == NormStep::NFKD;
  std::vector<char32_t> cps = decompose(text, compat);
  if (step == NormStep::NFC || step == NormStep::NFKC) compose(cps);
  std::string out;
  out.reserve(text.size() + 8);
  for (char32_t c : cps) append_utf8(out, c);
  return out;
}

bool Normalizer::apply(std::string_view text, std::string& out) const {
  std::string current;
  bool changed = false;
  for (NormStep step : steps_) {
    std::string_view in = changed ? std::string_view(current) : text;
    if (step != NormStep::Lowercase) {
      if (all_ascii(in)) continue;  // ASCII is invariant under every normalization form
      const uint16_t stable = step == NormStep::NFC    ? kNfcStable
                              : step == NormStep::NFD  ? kNfdStable
                              : step == NormStep::NFKC ? kNfkcStable
                                                       : kNfkdStable;
      if (all_have(in, stable)) continue;
    }
    std::string next = normalize(step, in);
    if (next != in) {
      current = std::move(next);
      changed = true;
    }
  }
  if (changed) out = std::move(current);
  return changed;
}

}  // namespace sg::tok
