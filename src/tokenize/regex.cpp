#include "tokenize/regex.h"

#include "tokenize/unicode.h"
#include "tokenize/utf8.h"
#include "util/error.h"

namespace sg::tok {

namespace {

// The patterns with a built-in matcher, as tokenizer files spell them.
constexpr std::string_view kGpt2Pattern =
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
constexpr std::string_view kQwen2Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
constexpr std::string_view kLlama3Pattern =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

// Per-thread matching state: a one-pair match block and a JIT stack larger than
// PCRE2's 32 KiB default, so long runs of letters or spaces never hit the
// stack limit. Regex objects are shared between threads; these are not.
struct MatchState {
  pcre2_match_data* data = pcre2_match_data_create(1, nullptr);
  pcre2_jit_stack* stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  MatchState() { pcre2_jit_stack_assign(context, nullptr, stack); }
  ~MatchState() {
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
    pcre2_match_data_free(data);
  }
};

MatchState& match_state() {
  thread_local MatchState state;
  return state;
}

std::string pcre2_message(int code) {
  PCRE2_UCHAR buffer[256];
  pcre2_get_error_message(code, buffer, sizeof buffer);
  return reinterpret_cast<const char*>(buffer);
}

// The character starting at byte i: code point, class flags, where the next one starts.
struct CharAt {
  char32_t c;
  uint16_t flags;
  size_t next;
};

inline CharAt char_at(const CharTable& t, std::string_view s, size_t i) {
  const auto b = static_cast<unsigned char>(s[i]);
  if (b < 0x80) return {b, t.flags(b), i + 1};
  size_t j = i;
  const char32_t c = next_code_point(s, j);
  return {c, t.flags(c), j};
}

constexpr uint16_t kClassBits = kLetter | kNumber | kSpace;

// [^\s\p{L}\p{N}]
inline bool is_other(uint16_t f) { return !(f & kClassBits); }

// End of the run of characters from byte i whose flags satisfy pred.
template <typename Pred>
inline size_t run(const CharTable& t, std::string_view s, size_t i, Pred pred) {
  while (i < s.size()) {
    const CharAt ch = char_at(t, s, i);
    if (!pred(ch.flags)) break;
    i = ch.next;
  }
  return i;
}

// A whitespace run from pos: `\s+(?!\S)|\s+` (all of it at the end of the
// text, else all but its last character, else its only character). With
// newline_first, `\s*[\r\n]+` comes first: up to the run's last \r or \n.
inline size_t whitespace_match(const CharTable& t, std::string_view s, size_t pos, bool newline_first) {
  size_t e = pos, last = pos, newline_end = 0;
  while (e < s.size()) {
    const CharAt w = char_at(t, s, e);
    if (!(w.flags & kSpace)) break;
    if (w.c == '\r' || w.c == '\n') newline_end = w.next;
    last = e;
    e = w.next;
  }
  if (newline_first && newline_end) return newline_end;
  if (e == s.size()) return e;
  return last > pos ? last : e;
}

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) : where_(where) {
  if (pattern == kGpt2Pattern) {
    kind_ = Kind::Gpt2;
    return;
  }
  if (pattern == kQwen2Pattern || pattern == kLlama3Pattern) {
    kind_ = Kind::Llama3;
    max_digits_ = pattern == kQwen2Pattern ? 1 : 3;
    return;
  }
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(), PCRE2_UTF | PCRE2_UCP, &error,
                        &offset, nullptr);
  if (!code_) {
    fail("{}: cannot compile regex {:?} at offset {}: {}", where, pattern, offset, pcre2_message(error));
  }
  // Without JIT (unsupported CPU) pcre2_match still works through the interpreter.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(code_); }

bool Regex::find(std::string_view s, size_t start, size_t& begin, size_t& end) const {
  MatchState& st = match_state();
  // The text was validated as UTF-8 once by the tokenizer, hence NO_UTF_CHECK.
  const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), start, PCRE2_NO_UTF_CHECK,
                             st.data, st.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail("{}: regex matching failed: {}", where_, pcre2_message(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(st.data);
  begin = ovector[0];
  end = ovector[1];
  return true;
}

// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
// Every position starts a match: the alternatives cover every character.
size_t Regex::match_gpt2(std::string_view s, size_t pos) const {
  const CharTable& t = char_table();
  const size_t n = s.size();
  if (s[pos] == '\'' && pos + 1 < n) {
    const char a = s[pos + 1];
    if (a == 's' || a == 't' || a == 'm' || a == 'd') return pos + 2;
    if (pos + 2 < n) {
      const char b = s[pos + 2];
      if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return pos + 3;
    }
  }
  CharAt ch = char_at(t, s, pos);
  if (ch.c == ' ' && ch.next < n) {
    const CharAt next = char_at(t, s, ch.next);
    if (!(next.flags & kSpace)) ch = next;  // " ?" takes the space
  }
  if (ch.flags & kLetter) return run(t, s, ch.next, [](uint16_t f) { return f & kLetter; });
  if (ch.flags & kNumber) return run(t, s, ch.next, [](uint16_t f) { return f & kNumber; });
  if (is_other(ch.flags)) return run(t, s, ch.next, is_other);
  return whitespace_match(t, s, pos, false);
}

// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,max_digits}|
//  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// (Qwen2's pattern with max_digits 1, Llama-3's with 3.)
size_t Regex::match_llama3(std::string_view s, size_t pos) const {
  const CharTable& t = char_table();
  const size_t n = s.size();
  if (s[pos] == '\'' && pos + 1 < n) {
    // Case-insensitive as Oniguruma folds: only U+017F (long s) folds to one of these letters.
    auto fold = [](char32_t c) -> char32_t {
      if (c >= 'A' && c <= 'Z') return c - 'A' + 'a';
      return c == 0x17F ? 's' : c;
    };
    const CharAt a = char_at(t, s, pos + 1);
    const char32_t fa = fold(a.c);
    if (fa == 's' || fa == 't' || fa == 'm' || fa == 'd') return a.next;
    if (a.next < n) {
      const CharAt b = char_at(t, s, a.next);
      const char32_t fb = fold(b.c);
      if ((fa == 'r' && fb == 'e') || (fa == 'v' && fb == 'e') || (fa == 'l' && fb == 'l')) return b.next;
    }
  }
  const CharAt ch = char_at(t, s, pos);
  auto letters = [](uint16_t f) { return f & kLetter; };
  if (ch.flags & kLetter) return run(t, s, ch.next, letters);
  if (!(ch.flags & kNumber) && ch.c != '\r' && ch.c != '\n' && ch.next < n) {
    const CharAt next = char_at(t, s, ch.next);
    if (next.flags & kLetter) return run(t, s, next.next, letters);
  }
  if (ch.flags & kNumber) {
    size_t e = ch.next;
    for (int k = 1; k < max_digits_ && e < n; ++k) {
      const CharAt d = char_at(t, s, e);
      if (!(d.flags & kNumber)) break;
      e = d.next;
    }
    return e;
  }
  size_t other_end = 0;
  if (is_other(ch.flags)) {
    other_end = ch.next;
  } else if (ch.c == ' ' && ch.next < n) {
    const CharAt next = char_at(t, s, ch.next);
    if (is_other(next.flags)) other_end = next.next;
  }
  if (other_end) {
    size_t e = run(t, s, other_end, is_other);
    while (e < n && (s[e] == '\r' || s[e] == '\n')) ++e;
    return e;
  }
  return whitespace_match(t, s, pos, true);
}

}  // namespace sg::tok
