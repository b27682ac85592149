#pragma once
// UTF-8 helpers for the tokenizers: strict validation of input text (the same
// rules as Rust's `str`, which is what HuggingFace's tokenizers accept) and the
// lossy conversion HF's decoders apply to byte sequences (Rust's
// String::from_utf8_lossy: each maximal invalid subpart becomes one U+FFFD).
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sg::tok {

// Byte offset of the first invalid UTF-8 sequence, or nullopt if `s` is valid
// (no overlong forms, no surrogates, nothing above U+10FFFF).
std::optional<size_t> find_invalid_utf8(std::string_view s);

// Appends `bytes` to `out`, replacing invalid sequences exactly as
// String::from_utf8_lossy does.
void append_utf8_lossy(std::string& out, std::string_view bytes);

// Decodes the code point starting at s[i] of a VALID UTF-8 string and advances i.
inline char32_t next_code_point(std::string_view s, size_t& i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  if (b0 < 0x80) {
    ++i;
    return b0;
  }
  auto cont = [&](size_t k) { return static_cast<char32_t>(static_cast<unsigned char>(s[i + k]) & 0x3F); };
  char32_t c;
  if (b0 < 0xE0) {
    c = (static_cast<char32_t>(b0 & 0x1F) << 6) | cont(1);
    i += 2;
  } else if (b0 < 0xF0) {
    c = (static_cast<char32_t>(b0 & 0x0F) << 12) | (cont(1) << 6) | cont(2);
    i += 3;
  } else {
    c = (static_cast<char32_t>(b0 & 0x07) << 18) | (cont(1) << 12) | (cont(2) << 6) | cont(3);
    i += 4;
  }
  return c;
}

// Decodes the code point ending just before s[i] of a VALID UTF-8 string and moves i back.
inline char32_t prev_code_point(std::string_view s, size_t& i) {
  size_t start = i - 1;
  while (start > 0 && (static_cast<unsigned char>(s[start]) & 0xC0) == 0x80) --start;
  size_t j = start;
  const char32_t c = next_code_point(s, j);
  i = start;
  return c;
}

}  // namespace sg::tok
