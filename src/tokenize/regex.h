#pragma once
// The regular expressions of tokenizer pre-tokenizers. HuggingFace compiles
// them with Oniguruma, whose \p{L}, \p{N} and \s follow Unicode 16.0.
//
// The patterns real tokenizers use (GPT-2's, Qwen2's, Llama-3's) are matched by
// hand-written code over streamgauge's own Unicode 16.0 tables (unicode.h), so
// every character is classified exactly as in HF. Any other pattern goes
// through PCRE2 (UTF + UCP, JIT-compiled), whose classes follow the Unicode
// version of the system's PCRE2 (14.0 on Debian 12): characters assigned after
// that may split differently from HF there.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <cstddef>
#include <string>
#include <string_view>

namespace sg::tok {

class Regex {
 public:
  // `where` names the file and field the pattern came from, for error messages.
  Regex(const std::string& pattern, const std::string& where);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // True when the pattern is one of the built-in ones (not PCRE2).
  bool builtin() const { return kind_ != Kind::Pcre2; }

  // Calls on_match(begin, end) (byte offsets) for each successive match in the
  // valid UTF-8 string `s`, like Oniguruma's find_iter: after an empty match
  // the search resumes one character further.
  template <typename F>
  void for_each_match(std::string_view s, F&& on_match) const {
    if (kind_ != Kind::Pcre2) {
      // The built-in patterns match at every position, never empty.
      for (size_t pos = 0; pos < s.size();) {
        const size_t end = kind_ == Kind::Gpt2 ? match_gpt2(s, pos) : match_llama3(s, pos);
        on_match(pos, end);
        pos = end;
      }
      return;
    }
    size_t pos = 0;
    size_t begin, end;
    while (pos <= s.size() && find(s, pos, begin, end)) {
      on_match(begin, end);
      if (end > begin) {
        pos = end;
      } else {
        if (end >= s.size()) break;
        pos = end + 1;
        while (pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) ++pos;
      }
    }
  }

 private:
  enum class Kind { Pcre2, Gpt2, Llama3 };
  // First match at or after `start`; false if none.
  bool find(std::string_view s, size_t start, size_t& begin, size_t& end) const;
  // End of the match that starts at `pos` (< s.size()).
  size_t match_gpt2(std::string_view s, size_t pos) const;
  size_t match_llama3(std::string_view s, size_t pos) const;

  Kind kind_ = Kind::Pcre2;
  int max_digits_ = 1;  // Llama3 kind: \p{N} (Qwen2) or \p{N}{1,3} (Llama-3)
  pcre2_code* code_ = nullptr;
  std::string where_;
};

}  // namespace sg::tok
