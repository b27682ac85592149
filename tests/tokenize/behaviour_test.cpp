// HF semantics that the shared goldens do not all reach (added-token flags,
// Split behaviours, post-processor), and bad input: built on small synthetic
// tokenizer.json files whose vocabulary is the 256-byte alphabet (id = byte).
#include <gtest/gtest.h>

#include <atomic>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/test_support.h"
#include "tokenize/tokenizer.h"
#include "util/error.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// GPT-2's byte alphabet character for byte b, as UTF-8.
std::string byte_char(int b) {
  const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
  int cp = b;
  if (!printable) {
    cp = 0x100;
    for (int x = 0; x < b; ++x)
      if (!((x >= '!' && x <= '~') || (x >= 0xA1 && x <= 0xAC) || x >= 0xAE)) ++cp;
  }
  std::string s;
  if (cp < 0x80) {
    s.push_back(static_cast<char>(cp));
  } else {
    s.push_back(static_cast<char>(0xC0 | (cp >> 6)));
    s.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
  return s;
}

json added(int id, const std::string& content, bool special, bool lstrip, bool rstrip, bool single_word,
           bool normalized) {
  return {{"id", id},         {"content", content},         {"special", special},      {"lstrip", lstrip},
          {"rstrip", rstrip}, {"single_word", single_word}, {"normalized", normalized}};
}

// Vocabulary: bytes 0..255, then he(256) ll(257) hell(258) hello(259); added
// <s>(260) [MASK](261, lstrip+rstrip) cat(262, single_word) é(263, normalized).
json base_tokenizer() {
  json vocab = json::object();
  for (int b = 0; b < 256; ++b) vocab[byte_char(b)] = b;
  vocab["he"] = 256;
  vocab["ll"] = 257;
  vocab["hell"] = 258;
  vocab["hello"] = 259;
  json j;
  j["model"] = {
      {"type", "BPE"}, {"vocab", vocab}, {"merges", json::array({"h e", json::array({"l", "l"}), "he ll", "hell o"})}};
  j["added_tokens"] = json::array(
      {added(260, "<s>", true, false, false, false, false), added(261, "[MASK]", true, true, true, false, false),
       added(262, "cat", false, false, false, true, true), added(263, "\xC3\xA9", false, false, false, false, true)});
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", json::array({json{{"type", "NFC"}}})}};
  j["pre_tokenizer"] = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", true}};
  j["post_processor"] = {{"type", "TemplateProcessing"},
                         {"single", json::array({json{{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}},
                                                 json{{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
                         {"special_tokens", {{"<s>", {{"id", "<s>"}, {"ids", {260}}, {"tokens", {"<s>"}}}}}}};
  j["decoder"] = {{"type", "ByteLevel"}};
  return j;
}

fs::path write(const std::string& name, const std::string& content) {
  static const fs::path dir = sg::test::scratch_dir("tokenize");
  const fs::path p = dir / name;
  std::ofstream(p, std::ios::binary) << content;
  return p;
}

std::unique_ptr<sg::Tokenizer> load(const json& j, const std::string& name = "t.json") {
  return sg::Tokenizer::load(write(name, j.dump()));
}

std::vector<int32_t> bytes(const std::string& s) {
  std::vector<int32_t> v;
  for (unsigned char c : s) v.push_back(c);
  return v;
}

TEST(AddedTokens, BpeAndPostProcessor) {
  const auto tok = load(base_tokenizer());
  EXPECT_EQ(tok->encode("hello", true), (std::vector<int32_t>{260, 259}));
  EXPECT_EQ(tok->encode("hello", false), (std::vector<int32_t>{259}));
  EXPECT_EQ(tok->special_tokens_note(), "adds BOS <s> (id 260)");
  EXPECT_EQ(tok->bos_id(), 260);
  EXPECT_EQ(tok->vocab_size(), 264u);
  EXPECT_EQ(tok->token(32), "\xC4\xA0");  // Ġ
  EXPECT_THROW(tok->token(264), sg::Error);
}

TEST(AddedTokens, LstripRstripSwallowWhitespace) {
  const auto tok = load(base_tokenizer());
  EXPECT_EQ(tok->encode("a [MASK] b", false), (std::vector<int32_t>{'a', 261, 'b'}));
  EXPECT_EQ(tok->encode("<s>hello<s>", false), (std::vector<int32_t>{260, 259, 260}));
  // Decoding keeps the added token's content; the stripped spaces are gone, as in HF.
  EXPECT_EQ(tok->decode(std::vector<int32_t>{'a', 261, 'b'}), "a[MASK]b");
}

TEST(AddedTokens, SingleWordOnlyMatchesWholeWords) {
  const auto tok = load(base_tokenizer());
  std::vector<int32_t> expected{262};
  for (int32_t id : bytes(" concat ")) expected.push_back(id);
  expected.push_back(262);
  expected.push_back('.');
  EXPECT_EQ(tok->encode("cat concat cat.", false), expected);
}

TEST(AddedTokens, NormalizedTokensMatchAfterNormalization) {
  const auto tok = load(base_tokenizer());
  // "e" + combining acute (NFD) becomes "é" under NFC and then matches token 263.
  EXPECT_EQ(tok->encode("e\xCC\x81", false), (std::vector<int32_t>{263}));
}

TEST(PreTokenizer, SplitBehaviours) {
  auto with_split = [](const std::string& behavior) {
    json j = base_tokenizer();
    j["pre_tokenizer"] = {
        {"type", "Sequence"},
        {"pretokenizers",
         json::array({json{{"type", "Split"}, {"pattern", {{"String", " "}}}, {"behavior", behavior}},
                      json{{"type", "ByteLevel"}, {"add_prefix_space", false}, {"use_regex", false}}})}};
    return load(j, behavior + ".json");
  };
  EXPECT_EQ(with_split("Removed")->encode("he he", false), (std::vector<int32_t>{256, 256}));
  EXPECT_EQ(with_split("Isolated")->encode("he he", false), (std::vector<int32_t>{256, ' ', 256}));
  // Merged pieces are one BPE word: "he " keeps "he" + " ".
  EXPECT_EQ(with_split("MergedWithPrevious")->encode("he he", false), (std::vector<int32_t>{256, ' ', 256}));
  EXPECT_EQ(with_split("MergedWithNext")->encode("he  he", false), (std::vector<int32_t>{256, ' ', ' ', 256}));
}

TEST(PreTokenizer, AddPrefixSpace) {
  json j = base_tokenizer();
  j["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_EQ(load(j, "prefix.json")->encode("hello", false), (std::vector<int32_t>{' ', 259}));
}

TEST(BadInput, InvalidUtf8IsRejectedWithTheOffset) {
  const auto tok = load(base_tokenizer());
  try {
    tok->encode("ok \xC3\x28", false);
    FAIL() << "expected sg::Error";
  } catch (const sg::Error& e) {
    EXPECT_NE(std::string(e.what()).find("offset 3"), std::string::npos) << e.what();
  }
  EXPECT_THROW(tok->encode("\xED\xA0\x80", false), sg::Error);  // a surrogate
  EXPECT_THROW(tok->encode("\xC0\xAF", false), sg::Error);      // overlong
  const auto spm = sg::Tokenizer::load(sg::test::shared_dir() / "tokenizers" / "stories260k");
  EXPECT_THROW(spm->encode("\xFF", false), sg::Error);
}

TEST(BadInput, DecodingACutCharacterGivesReplacementCharacters) {
  const auto gpt2 = sg::Tokenizer::load(sg::test::shared_dir() / "tokenizers" / "gpt2");
  const auto ids = gpt2->encode("\xE4\xBD\xA0", false);  // 你: split over several byte tokens
  ASSERT_GT(ids.size(), 1u);
  // Rust's from_utf8_lossy: the truncated sequence is one U+FFFD.
  EXPECT_EQ(gpt2->decode(std::span(ids).first(1)), "\xEF\xBF\xBD");
  EXPECT_EQ(gpt2->decode(ids), "\xE4\xBD\xA0");
  // Unknown ids are skipped, as HF does.
  EXPECT_EQ(gpt2->decode(std::vector<int32_t>{-5, 15496, 999999}), "Hello");
}

void expect_error(const fs::path& path, const std::string& fragment) {
  try {
    sg::Tokenizer::load(path);
    ADD_FAILURE() << "expected sg::Error for " << path;
  } catch (const sg::Error& e) {
    EXPECT_NE(std::string(e.what()).find(fragment), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(path.filename().string()), std::string::npos) << e.what();
  }
}

TEST(BadInput, FilesAreRejectedWithTheReason) {
  expect_error(write("malformed.json", "{\"model\": {"), "not valid JSON");
  json unigram = base_tokenizer();
  unigram["model"]["type"] = "Unigram";
  expect_error(write("unigram.json", unigram.dump()), "\"Unigram\"");
  json metaspace = base_tokenizer();
  metaspace["pre_tokenizer"] = {{"type", "Metaspace"}};
  expect_error(write("metaspace.json", metaspace.dump()), "\"Metaspace\"");
  json bad_merge = base_tokenizer();
  bad_merge["model"]["merges"].push_back("x yz");
  expect_error(write("bad_merge.json", bad_merge.dump()), "merge 5");
  json wrong_type = base_tokenizer();
  wrong_type["model"]["vocab"]["he"] = "256";
  expect_error(write("wrong_type.json", wrong_type.dump()), "unexpected content");
  expect_error(write("garbage.model", "not a protobuf"), "SentencePiece");
  expect_error(write("notes.txt", "hello"), "not a tokenizer file");
  expect_error(sg::test::shared_dir() / "tokenizers" / "missing-dir", "no such");
  expect_error(sg::test::shared_dir() / "tokenizers", "no tokenizer found");
}

TEST(Discovery, FoundInModelAndTokenizerDirectories) {
  const auto t = sg::test::shared_dir() / "tokenizers";
  EXPECT_TRUE(sg::Tokenizer::found_in(t / "gpt2"));
  EXPECT_TRUE(sg::Tokenizer::found_in(t / "stories260k"));
  EXPECT_FALSE(sg::Tokenizer::found_in(t / "pythia"));  // only a differently named file
  EXPECT_FALSE(sg::Tokenizer::found_in(t));
  // vocab.json named directly stands for its directory.
  EXPECT_EQ(sg::Tokenizer::load(t / "gpt2" / "vocab.json")->vocab_size(), 50257u);
}

TEST(Threads, ConcurrentEncodingGivesTheSameIds) {
  const auto tok = sg::Tokenizer::load(sg::test::shared_dir() / "tokenizers" / "gpt2");
  const std::string text = "Concurrent encoders share one BPE cache; the ids must not change. 並行";
  const auto expected = tok->encode(text, false);
  std::vector<std::thread> threads;
  std::atomic<int> mismatches = 0;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const auto ids = tok->encode(text + std::to_string(t * 1000 + i), false);
        if (!std::equal(expected.begin(), expected.end() - 1, ids.begin())) ++mismatches;
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(mismatches, 0);
}

}  // namespace
