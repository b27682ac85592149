#include "tokenize/utf8.h"

#include <cstring>

namespace sg::tok {

namespace {

// Length of the valid prefix of a multi-byte sequence starting at s[i] (whose
// lead byte is >= 0x80), and whether the sequence is complete. The ranges for
// the second byte follow Unicode table 3-7 (well-formed UTF-8 byte sequences).
struct SeqCheck {
  size_t valid_prefix;  // bytes belonging to the (possibly truncated) sequence, >= 1
  bool complete;
};

SeqCheck check_sequence(std::string_view s, size_t i) {
  const auto b0 = static_cast<unsigned char>(s[i]);
  size_t len;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    len = 2;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    len = 3;
    if (b0 == 0xE0) lo = 0xA0;  // no overlong forms
    if (b0 == 0xED) hi = 0x9F;  // no surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    len = 4;
    if (b0 == 0xF0) lo = 0x90;  // no overlong forms
    if (b0 == 0xF4) hi = 0x8F;  // nothing above U+10FFFF
  } else {
    return {1, false};  // stray continuation byte, C0/C1 or F5..FF
  }
  size_t k = 1;
  for (; k < len; ++k) {
    if (i + k >= s.size()) return {k, false};
    const auto b = static_cast<unsigned char>(s[i + k]);
    const unsigned char l = k == 1 ? lo : 0x80, h = k == 1 ? hi : 0xBF;
    if (b < l || b > h) return {k, false};
  }
  return {len, true};
}

}  // namespace

std::optional<size_t> find_invalid_utf8(std::string_view s) {
  size_t i = 0;
  const size_t n = s.size();
  while (i < n) {
    // ASCII fast path: eight bytes at a time.
    if (i + 8 <= n) {
      uint64_t word;
      std::memcpy(&word, s.data() + i, 8);
      if ((word & 0x8080808080808080ULL) == 0) {
        i += 8;
        continue;
      }
    }
    if (static_cast<unsigned char>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const SeqCheck c = check_sequence(s, i);
    if (!c.complete) return i;
    i += c.valid_prefix;
  }
  return std::nullopt;
}

void append_utf8_lossy(std::string& out, std::string_view bytes) {
  size_t i = 0;
  while (i < bytes.size()) {
    if (static_cast<unsigned char>(bytes[i]) < 0x80) {
      out.push_back(bytes[i++]);
      continue;
    }
    const SeqCheck c = check_sequence(bytes, i);
    if (c.complete) {
      out.append(bytes.substr(i, c.valid_prefix));
    } else {
      out.append("\xEF\xBF\xBD");  // U+FFFD for the maximal invalid subpart
    }
    i += c.valid_prefix;
  }
}

}  // namespace sg::tok
