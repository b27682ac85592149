#pragma once
// The Unicode services the tokenizers need beyond regexes, through ICU:
// normalization forms and the character classes HuggingFace's added-token
// matching uses (Rust's char::is_whitespace and regex \w).
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

// White_Space property (Rust char::is_whitespace, regex \s).
bool is_white_space(char32_t c);
// Rust regex \w: Alphabetic, marks, decimal digits, connector punctuation, Join_Control.
bool is_word_char(char32_t c);

}  // namespace sg::tok
