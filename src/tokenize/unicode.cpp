#include "tokenize/unicode.h"

#include <unicode/bytestream.h>
#include <unicode/locid.h>
#include <unicode/normalizer2.h>
#include <unicode/uchar.h>
#include <unicode/unistr.h>

#include "util/error.h"

namespace sg::tok {

namespace {

const icu::Normalizer2& instance(NormStep step) {
  UErrorCode status = U_ZERO_ERROR;
  const icu::Normalizer2* n = nullptr;
  switch (step) {
    case NormStep::NFC: n = icu::Normalizer2::getNFCInstance(status); break;
    case NormStep::NFD: n = icu::Normalizer2::getNFDInstance(status); break;
    case NormStep::NFKC: n = icu::Normalizer2::getNFKCInstance(status); break;
    case NormStep::NFKD: n = icu::Normalizer2::getNFKDInstance(status); break;
    case NormStep::Lowercase: break;
  }
  if (!n || U_FAILURE(status)) fail("ICU normalization data is unavailable ({})", u_errorName(status));
  return *n;
}

// Code points below U+0300 are NFC/NFKC "yes" and never combine with a
// preceding character, so text made only of them is already composed. In
// UTF-8 those are exactly the strings with no byte >= 0xCC.
bool below_u0300(std::string_view s) {
  for (char ch : s)
    if (static_cast<unsigned char>(ch) >= 0xCC) return false;
  return true;
}

bool all_ascii(std::string_view s) {
  for (char ch : s)
    if (static_cast<unsigned char>(ch) >= 0x80) return false;
  return true;
}

std::string lowercase(std::string_view s) {
  if (all_ascii(s)) {
    std::string out(s);
    for (char& ch : out)
      if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    return out;
  }
  // Root-locale full case mapping, like Rust's str::to_lowercase (final sigma included).
  icu::UnicodeString u = icu::UnicodeString::fromUTF8(icu::StringPiece(s.data(), static_cast<int32_t>(s.size())));
  u.toLower(icu::Locale::getRoot());
  std::string out;
  u.toUTF8String(out);
  return out;
}

}  // namespace

bool Normalizer::apply(std::string_view text, std::string& out) const {
  std::string current;
  bool changed = false;
  for (NormStep step : steps_) {
    std::string_view in = changed ? std::string_view(current) : text;
    std::string next;
    if (step == NormStep::Lowercase) {
      next = lowercase(in);
    } else {
      if ((step == NormStep::NFC || step == NormStep::NFKC) && below_u0300(in)) continue;
      if (all_ascii(in)) continue;  // ASCII is invariant under every normalization form
      UErrorCode status = U_ZERO_ERROR;
      icu::StringByteSink<std::string> sink(&next, static_cast<int32_t>(in.size()));
      instance(step).normalizeUTF8(0, icu::StringPiece(in.data(), static_cast<int32_t>(in.size())),
                                   sink, nullptr, status);
      if (U_FAILURE(status)) fail("Unicode normalization failed ({})", u_errorName(status));
    }
    if (next != in) {
      current = std::move(next);
      changed = true;
    }
  }
  if (changed) out = std::move(current);
  return changed;
}

bool is_white_space(char32_t c) { return u_isUWhiteSpace(static_cast<UChar32>(c)); }

bool is_word_char(char32_t c) {
  const auto ch = static_cast<UChar32>(c);
  if (u_hasBinaryProperty(ch, UCHAR_ALPHABETIC) || u_hasBinaryProperty(ch, UCHAR_JOIN_CONTROL))
    return true;
  const int8_t type = u_charType(ch);
  return type == U_NON_SPACING_MARK || type == U_ENCLOSING_MARK || type == U_COMBINING_SPACING_MARK ||
         type == U_DECIMAL_DIGIT_NUMBER || type == U_CONNECTOR_PUNCTUATION;
}

}  // namespace sg::tok
