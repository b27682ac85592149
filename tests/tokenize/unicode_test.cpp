// The Unicode edges where HF tokenizers' own Unicode versions matter: its
// pre-tokenizer regexes classify characters by Unicode 16.0 (Oniguruma 6.9.10),
// its normalizers by Unicode 9.0 (unicode-normalization-alignments 0.1.12).
// Expected ids are what HuggingFace tokenizers 0.23.2 (npm package
// `tokenizers`, its Rust core) returned for the same texts and files
// (bench/tokenize/unicode_diff.sh compares many more such texts).
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tokenize/regex.h"
#include "tokenize/tokenizer.h"
#include "tokenize/unicode.h"

namespace {

using nlohmann::json;
using Ids = std::vector<int32_t>;
namespace fs = std::filesystem;

const fs::path& tokenizers() {
  static const fs::path dir = sg::test::shared_dir() / "tokenizers";
  return dir;
}

// (a) U+1C89 CYRILLIC CAPITAL LETTER TJE (Unicode 16.0) is a letter for HF:
// " \u1C89" is one pre-token and "'s" stays a contraction.
TEST(UnicodeVersions, LettersOfUnicode16AreLetters) {
  const auto gpt2 = sg::Tokenizer::load(tokenizers() / "gpt2");
  EXPECT_EQ(gpt2->encode("x \u1C89's", false), (Ids{87, 28053, 110, 231, 338}));
  const auto qwen = sg::Tokenizer::load(tokenizers() / "qwen2.5");
  EXPECT_EQ(qwen->encode("x \u1C89's", false), (Ids{87, 86089, 110, 231, 594}));
}

// (b) U+180E MONGOLIAN VOWEL SEPARATOR has not been White_Space since Unicode
// 6.3; Oniguruma's \s agrees (PCRE2 still counted it as a space).
TEST(UnicodeVersions, MongolianVowelSeparatorIsNotWhitespace) {
  const auto qwen = sg::Tokenizer::load(tokenizers() / "qwen2.5");
  EXPECT_EQ(qwen->encode("x\u180E's", false), (Ids{87, 123970, 236, 6, 82}));
  const auto gpt2 = sg::Tokenizer::load(tokenizers() / "gpt2");
  EXPECT_EQ(gpt2->encode("x\u180E's", false), (Ids{87, 157, 254, 236, 6, 82}));
  EXPECT_FALSE(sg::tok::is_white_space(0x180E));
  EXPECT_TRUE(sg::tok::is_white_space(0x3000));
}

// (c) NFC with Unicode 9.0 data: U+0898 (Unicode 14, ccc 230 today) is a
// starter there, so it is not reordered after U+0316 (ccc 220); U+11935
// U+11930 (Dives Akuru, Unicode 13) do not compose to U+11938.
TEST(UnicodeVersions, NfcUsesUnicode9Data) {
  const auto pythia = sg::Tokenizer::load(tokenizers() / "pythia" / "20B_tokenizer.json");
  EXPECT_EQ(pythia->encode("a\u0898\u0316", false), (Ids{66, 156, 97, 235, 136, 233}));
  EXPECT_EQ(pythia->encode("\U00011935\U00011930", false), (Ids{172, 228, 99, 115, 172, 228, 99, 110}));
  const auto qwen = sg::Tokenizer::load(tokenizers() / "qwen2.5");
  EXPECT_EQ(qwen->encode("a\u0898\u0316", false), (Ids{64, 156, 95, 246, 136, 244}));
  EXPECT_EQ(qwen->encode("\U00011935\U00011930", false), (Ids{128240, 97, 113, 128240, 97, 108}));

  using sg::tok::normalize;
  using sg::tok::NormStep;
  EXPECT_EQ(normalize(NormStep::NFC, "a\u0898\u0316"), "a\u0898\u0316");
  EXPECT_EQ(normalize(NormStep::NFC, "\U00011935\U00011930"), "\U00011935\U00011930");
  // Marks known to Unicode 9.0 are reordered and composed as usual.
  EXPECT_EQ(normalize(NormStep::NFC, "a\u0301\u0316"), "\u00E1\u0316");
  EXPECT_EQ(normalize(NormStep::NFD, "\u00E1\u0316"), "a\u0316\u0301");
  EXPECT_EQ(normalize(NormStep::NFC, "\u1100\u1161\u11A8"), "\uAC01");
  EXPECT_EQ(normalize(NormStep::NFC, "\uAC00\u11A7"), "\uAC00\u11A7");  // U+11A7 is no trailing consonant
  EXPECT_EQ(normalize(NormStep::NFD, "\uAC01"), "\u1100\u1161\u11A8");
  EXPECT_EQ(normalize(NormStep::NFC, "\u212B"), "\u00C5");  // singleton decomposition
  EXPECT_EQ(normalize(NormStep::NFKC, "\uFB01 \u2460"), "fi 1");
  EXPECT_EQ(normalize(NormStep::NFKD, "\u00E9"), "e\u0301");
  EXPECT_EQ(normalize(NormStep::NFC, "\u0958"), "\u0915\u093C");  // composition exclusion
}

// Rust's str::to_lowercase: full mapping of U+0130, final sigma.
TEST(UnicodeVersions, LowercaseLikeRust) {
  using sg::tok::normalize;
  using sg::tok::NormStep;
  EXPECT_EQ(normalize(NormStep::Lowercase, "ΣΑΣ ΣΑΣ."), "σας σας.");
  EXPECT_EQ(normalize(NormStep::Lowercase, "Σ"), "σ");
  EXPECT_EQ(normalize(NormStep::Lowercase, "\u0130X"), "i\u0307x");
  EXPECT_EQ(normalize(NormStep::Lowercase, "\u1C89"), "\u1C8A");  // Unicode 16.0 pair
}

// Oniguruma's (?i:'s) also matches "'ſ" (U+017F folds to s): with a vocabulary
// where "ſa" is a token, "x'ſa" splits as "x" "'ſ" "a" and ſ stays alone.
TEST(Regex, QwenContractionsFoldLongS) {
  json vocab = json::object();
  // Bytes that are printable in GPT-2's alphabet stand for themselves.
  for (int b = 0x21; b <= 0x7E; ++b) vocab[std::string(1, static_cast<char>(b))] = b;
  vocab["\u00C5"] = 0xC5;  // Å: byte 0xC5
  vocab["\u00BF"] = 0xBF;  // ¿: byte 0xBF
  vocab["\u00C5\u00BF"] = 256;
  vocab["\u00C5\u00BFa"] = 257;
  json j;
  j["model"] = {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"\u00C5 \u00BF", "\u00C5\u00BF a"})}};
  j["pre_tokenizer"] = {
      {"type", "Sequence"},
      {"pretokenizers",
       json::array(
           {json{
                {"type", "Split"},
                {"pattern",
                 {{"Regex",
                   R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"}}},
                {"behavior", "Isolated"}},
            json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
  j["decoder"] = {{"type", "ByteLevel"}};
  const fs::path file = sg::test::scratch_dir("tokenize-unicode") / "long_s.json";
  std::ofstream(file) << j.dump();
  const auto tok = sg::Tokenizer::load(file);
  EXPECT_EQ(tok->encode("x'\u017Fa", false), (Ids{'x', '\'', 256, 'a'}));
  EXPECT_EQ(tok->encode("x\u017Fa", false), (Ids{'x', 257}));
}

// The built-in matchers give PCRE2's matches wherever PCRE2's Unicode 14.0
// classes agree with 16.0 (a pattern spelled differently goes to PCRE2).
TEST(Regex, BuiltinMatchersAgreeWithPcre2) {
  const std::string gpt2 = R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)";
  const std::string qwen2 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::string llama3 =
      R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
  const std::vector<std::string> texts = {
      "Hello world, it's 2024!  Don't  \n\n stop\r\n\tnow   ",
      "I'M HERE'S x'LL y'Ve 'd '",
      "12345678 a1b22c333 ٣٤٥ Ⅻ",
      "  leading and trailing  ",
      "\n\r\n  \n",
      "中文字符，测试。\n日本語のテキスト",
      "naïve café — “quotes” ½ ⅓ … ¡hola!",
      "tab\tsep\u00A0nbsp\u3000ideo\u2028line",
      "'''s''t ''",
      " ?!  x",
      "a",
      " ",
  };
  for (const auto& pattern : {gpt2, qwen2, llama3}) {
    const sg::tok::Regex builtin(pattern, "test");
    const sg::tok::Regex pcre("(?:)" + pattern, "test");
    ASSERT_TRUE(builtin.builtin());
    ASSERT_FALSE(pcre.builtin());
    for (const auto& text : texts) {
      std::vector<std::pair<size_t, size_t>> a, b;
      builtin.for_each_match(text, [&](size_t x, size_t y) { a.emplace_back(x, y); });
      pcre.for_each_match(text, [&](size_t x, size_t y) { b.emplace_back(x, y); });
      EXPECT_EQ(a, b) << pattern << " on " << text;
    }
  }
}

}  // namespace
