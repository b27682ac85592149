#include "tokenize/regex.h"

#include "util/error.h"

namespace sg::tok {

namespace {

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

}  // namespace

Regex::Regex(const std::string& pattern, const std::string& where) : where_(where) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  code_ = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                        PCRE2_UTF | PCRE2_UCP, &error, &offset, nullptr);
  if (!code_) {
    fail("{}: cannot compile regex {:?} at offset {}: {}", where, pattern, offset,
         pcre2_message(error));
  }
  // Without JIT (unsupported CPU) pcre2_match still works through the interpreter.
  pcre2_jit_compile(code_, PCRE2_JIT_COMPLETE);
}

Regex::~Regex() { pcre2_code_free(code_); }

bool Regex::find(std::string_view s, size_t start, size_t& begin, size_t& end) const {
  MatchState& st = match_state();
  // The text was validated as UTF-8 once by the tokenizer, hence NO_UTF_CHECK.
  const int rc = pcre2_match(code_, reinterpret_cast<PCRE2_SPTR>(s.data()), s.size(), start,
                             PCRE2_NO_UTF_CHECK, st.data, st.context);
  if (rc == PCRE2_ERROR_NOMATCH) return false;
  if (rc < 0) fail("{}: regex matching failed: {}", where_, pcre2_message(rc));
  const PCRE2_SIZE* ovector = pcre2_get_ovector_pointer(st.data);
  begin = ovector[0];
  end = ovector[1];
  return true;
}

}  // namespace sg::tok
