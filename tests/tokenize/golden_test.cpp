// Every golden tokenization of ../shared/tokenizers (made by HuggingFace's own
// Rust tokenizers and by SentencePiece) must come out exactly, and decoding
// must give the text back wherever the reference does.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "tokenize/tokenizer.h"

namespace {

using nlohmann::json;

json read_json(const std::filesystem::path& p) {
  std::ifstream in(p);
  return json::parse(in);
}

struct GoldenCase {
  std::string name;
  std::string load_path;  // relative to shared/tokenizers
};

class Golden : public ::testing::TestWithParam<GoldenCase> {};

TEST_P(Golden, EveryCaseMatches) {
  const auto dir = sg::test::shared_dir() / "tokenizers" / GetParam().name;
  const auto tok = sg::Tokenizer::load(sg::test::shared_dir() / "tokenizers" / GetParam().load_path);
  const json golden = read_json(dir / "golden.json");
  ASSERT_GT(golden["cases"].size(), 50u);
  for (const json& c : golden["cases"]) {
    const std::string text = c["text"];
    const auto expected = c["ids"].get<std::vector<int32_t>>();
    SCOPED_TRACE(c["id"].get<std::string>() + ": " + text);
    EXPECT_EQ(tok->encode(text, false), expected);
    const auto tokens = c["tokens"].get<std::vector<std::string>>();
    ASSERT_EQ(tokens.size(), expected.size());
    for (size_t i = 0; i < expected.size(); ++i) EXPECT_EQ(tok->token(expected[i]), tokens[i]);
    if (c["decodes_to_text"].get<bool>()) {
      EXPECT_EQ(tok->decode(expected), text);
    }
  }
}

TEST_P(Golden, DefaultSpecialTokensFollowHf) {
  const auto tok = sg::Tokenizer::load(sg::test::shared_dir() / "tokenizers" / GetParam().load_path);
  const auto plain = tok->encode("The quick brown fox", false);
  auto with_special = tok->encode("The quick brown fox", true);
  if (GetParam().name == "stories260k") {
    // HF LlamaTokenizer adds BOS 1; the goldens (plain SentencePiece) have none.
    ASSERT_FALSE(with_special.empty());
    EXPECT_EQ(with_special.front(), 1);
    with_special.erase(with_special.begin());
    EXPECT_EQ(tok->special_tokens_note(), "adds BOS <s> (id 1)");
  } else {
    EXPECT_EQ(tok->special_tokens_note(), "adds no special tokens");
  }
  EXPECT_EQ(with_special, plain);
}

INSTANTIATE_TEST_SUITE_P(Tokenizers, Golden,
                         ::testing::Values(GoldenCase{"pythia", "pythia/20B_tokenizer.json"},
                                           GoldenCase{"gpt2", "gpt2"}, GoldenCase{"qwen2.5", "qwen2.5"},
                                           GoldenCase{"stories260k", "stories260k"}),
                         [](const auto& info) {
                           std::string n = info.param.name;
                           for (char& ch : n)
                             if (!isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n;
                         });

// stories260k's reference generations (llama2.c): the text is the decode of
// the ids after BOS, and the prompt encodes (with BOS) to the recorded prompt ids.
TEST(Stories260k, ReferenceGenerations) {
  const auto model_dir = sg::test::shared_dir() / "models" / "stories260k";
  ASSERT_TRUE(sg::Tokenizer::found_in(model_dir));
  const auto tok = sg::Tokenizer::load(model_dir);
  const json ref = read_json(model_dir / "reference_generations.json");
  ASSERT_FALSE(ref["generations"].empty());
  for (const json& g : ref["generations"]) {
    const auto ids = g["ids"].get<std::vector<int32_t>>();
    SCOPED_TRACE(g["prompt"].get<std::string>());
    EXPECT_EQ(tok->decode(std::span(ids).subspan(1)), g["text"].get<std::string>());
    EXPECT_EQ(tok->encode(g["prompt"].get<std::string>(), true), g["prompt_ids"].get<std::vector<int32_t>>());
  }
  EXPECT_EQ(tok->bos_id(), 1);
  EXPECT_EQ(tok->eos_id(), 2);
  EXPECT_EQ(tok->vocab_size(), 512u);
}

TEST(Vocabulary, SizesAndSpecialIds) {
  const auto tokenizers = sg::test::shared_dir() / "tokenizers";
  const auto pythia = sg::Tokenizer::load(tokenizers / "pythia" / "20B_tokenizer.json");
  EXPECT_EQ(pythia->vocab_size(), 50277u);
  EXPECT_EQ(pythia->eos_id(), 0);
  const auto gpt2 = sg::Tokenizer::load(tokenizers / "gpt2");
  EXPECT_EQ(gpt2->vocab_size(), 50257u);
  EXPECT_EQ(gpt2->eos_id(), 50256);
  EXPECT_EQ(gpt2->bos_id(), 50256);
  const auto qwen = sg::Tokenizer::load(tokenizers / "qwen2.5");
  EXPECT_EQ(qwen->vocab_size(), 151665u);
  EXPECT_EQ(qwen->eos_id(), 151643);
  EXPECT_EQ(qwen->bos_id(), std::nullopt);
}

}  // namespace
