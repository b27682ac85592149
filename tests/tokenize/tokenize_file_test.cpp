// `streamgauge tokenize --file`: every text of a JSONL or plain-lines file,
// one {"ids": [...]} line per text, readable by --ids-file.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "io/ids_file.h"
#include "support/test_support.h"
#include "tokenize/tokenizer.h"
#include "util/atomic_file.h"
#include "util/lines.h"

namespace {

using nlohmann::json;
namespace fs = std::filesystem;

std::string q(const fs::path& p) { return fmt::format("'{}'", p.string()); }

TEST(TokenizeFile, JsonlAndPlainLinesGiveTheIdsOfEachText) {
  const auto dir = sg::test::scratch_dir("tokenize-file");
  const auto gpt2_dir = sg::test::shared_dir() / "tokenizers" / "gpt2";
  const auto gpt2 = sg::Tokenizer::load(gpt2_dir);
  const std::vector<std::string> texts = {"Hello world", "x \u1C89's", "tab\tand \"quotes\"\nnewline", "中文"};

  std::string jsonl;
  for (const auto& t : texts) jsonl += json{{"text", t}, {"source", "test"}}.dump() + "\n\n";
  sg::write_file_atomic(dir / "texts.jsonl", jsonl);
  auto r = sg::test::run_command(fmt::format("{} tokenize {} --no-special --file {} > {}", q(sg::test::cli_path()),
                                             q(gpt2_dir), q(dir / "texts.jsonl"), q(dir / "ids.jsonl")));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto ids = sg::read_ids_file(dir / "ids.jsonl");
  ASSERT_EQ(ids.size(), texts.size());
  for (size_t i = 0; i < texts.size(); ++i) EXPECT_EQ(ids[i], gpt2->encode(texts[i], false)) << texts[i];
  EXPECT_EQ(sg::split_lines(sg::read_file(dir / "ids.jsonl"))[1], "{\"ids\":[87,28053,110,231,338]}");

  // Plain lines (no JSON object on the first line): one text per line, CRLF accepted.
  sg::write_file_atomic(dir / "texts.txt", "Hello world\r\n\n{not json} it's\n");
  r = sg::test::run_command(
      fmt::format("{} tokenize {} --no-special --file {}", q(sg::test::cli_path()), q(gpt2_dir), q(dir / "texts.txt")));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto lines = sg::split_lines(r.output);
  ASSERT_GE(lines.size(), 2u);
  EXPECT_EQ(json::parse(lines[0])["ids"].get<std::vector<int32_t>>(), gpt2->encode("Hello world", false));
  EXPECT_EQ(json::parse(lines[1])["ids"].get<std::vector<int32_t>>(), gpt2->encode("{not json} it's", false));
}

TEST(TokenizeFile, BadLinesAreNamed) {
  const auto dir = sg::test::scratch_dir("tokenize-file-bad");
  const auto gpt2_dir = sg::test::shared_dir() / "tokenizers" / "gpt2";
  sg::write_file_atomic(dir / "bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  auto r = sg::test::run_command(
      fmt::format("{} tokenize {} --file {}", q(sg::test::cli_path()), q(gpt2_dir), q(dir / "bad.jsonl")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("bad.jsonl:2"), std::string::npos) << r.output;
  sg::write_file_atomic(dir / "invalid.txt", "ok\n\xC3\x28\n");
  r = sg::test::run_command(
      fmt::format("{} tokenize {} --file {}", q(sg::test::cli_path()), q(gpt2_dir), q(dir / "invalid.txt")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("text 2"), std::string::npos) << r.output;
  r = sg::test::run_command(
      fmt::format("{} tokenize {} --file {} --text hi", q(sg::test::cli_path()), q(gpt2_dir), q(dir / "invalid.txt")));
  EXPECT_NE(r.status, 0) << r.output;
}

}  // namespace
