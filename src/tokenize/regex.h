#pragma once
// The regular expressions of tokenizer pre-tokenizers, through PCRE2 (UTF +
// UCP, JIT-compiled). HuggingFace compiles these patterns with Oniguruma; the
// constructs these files use (\p{L}, \p{N}, \s, lookahead, (?i:...)) mean the
// same in both engines under UCP.
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

  // Calls on_match(begin, end) (byte offsets) for each successive match in the
  // valid UTF-8 string `s`, like Oniguruma's find_iter: after an empty match
  // the search resumes one character further.
  template <typename F>
  void for_each_match(std::string_view s, F&& on_match) const {
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
  // First match at or after `start`; false if none.
  bool find(std::string_view s, size_t start, size_t& begin, size_t& end) const;

  pcre2_code* code_ = nullptr;
  std::string where_;
};

}  // namespace sg::tok
