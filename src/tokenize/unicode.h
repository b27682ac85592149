#pragma once
// The Unicode services the tokenizers need, from tables generated for the
// Unicode versions HuggingFace tokenizers uses (tools/unicode/gen_tables.js
// writes unicode_tables.inc):
//  - character classes, Unicode 16.0: the pre-tokenizer regexes' \p{L}, \p{N}
//    and \s (Oniguruma 6.9.10), Rust's char::is_whitespace and regex \w
//    (added-token matching), and lowercasing (Rust's str::to_lowercase);
//  - normalization forms, Unicode 9.0: the tables of the crate
//    unicode-normalization-alignments 0.1.12 behind HF's NFC/NFD/NFKC/NFKD
//    normalizers (marks added later are starters there, later compositions
//    are not made).
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace sg::tok {

// One normalizer of a tokenizer.json "normalizer" (a Sequence is a list of these).
enum class NormStep { NFC, NFD, NFKC, NFKD, Lowercase };

class Normalizer {
 public:
  Normalizer() = default;
  explicit Normalizer(std::vector<NormStep> steps) : steps_(std::move(steps)) {}
  bool empty() const { return steps_.empty(); }
  // Applies the steps to valid UTF-8 text. Returns false (and leaves `out`
  // untouched) when the text is unchanged, which is the common case and costs
  // only a scan.
  bool apply(std::string_view text, std::string& out) const;

 private:
  std::vector<NormStep> steps_;
};

// A single normalization step on valid UTF-8 (exposed for tests).
std::string normalize(NormStep step, std::string_view text);

// Per-code-point flags (bits), looked up in a two-stage table.
enum CharFlag : uint16_t {
  kLetter = 1,          // General_Category L
  kNumber = 2,          // General_Category N
  kSpace = 4,           // White_Space: Oniguruma \s, Rust char::is_whitespace
  kWord = 8,            // Rust regex \w
  kCased = 16,          // Cased
  kCaseIgnorable = 32,  // Case_Ignorable
  // Text made only of characters with this flag is unchanged by the form
  // (quick check "yes" and combining class 0, Unicode 9.0 data).
  kNfdStable = 64,
  kNfcStable = 128,
  kNfkdStable = 256,
  kNfkcStable = 512,
};

class CharTable {
 public:
  CharTable();
  uint16_t flags(char32_t c) const {
    if (c < 0x80) return ascii_[c];
    if (c > 0x10FFFF) return 0;
    return blocks_[(static_cast<size_t>(index_[c >> 8]) << 8) | (c & 0xFF)];
  }

 private:
  std::array<uint16_t, 0x80> ascii_{};
  std::array<uint16_t, 0x1100> index_{};
  std::vector<uint16_t> blocks_;
};

// The table (built once, on first use).
const CharTable& char_table();

inline bool is_white_space(char32_t c) { return char_table().flags(c) & kSpace; }
inline bool is_word_char(char32_t c) { return char_table().flags(c) & kWord; }

}  // namespace sg::tok
