// End-to-end checks of the smaller commands: tokenize, compare, and models
// named ORG/NAME through a HuggingFace cache.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

using nlohmann::json;

std::string q(const std::filesystem::path& p) { return fmt::format("'{}'", p.string()); }
std::string cli() { return q(test::cli_path()); }

TEST(TokenizeCli, JsonNoSpecialAndDecode) {
  const auto stories = test::shared_dir() / "models/stories260k";
  auto r = test::run_command(cli() + " tokenize " + q(stories) + " --text 'Once upon a time' --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = json::parse(r.output);
  EXPECT_EQ(j["ids"], json::parse("[1, 403, 407, 261, 378]"));  // HF LlamaTokenizer adds BOS
  EXPECT_EQ(j["tokens"][1], "▁Once");
  r = test::run_command(cli() + " tokenize " + q(stories) + " --text 'Once upon a time' --json --no-special");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json::parse(r.output)["ids"], json::parse("[403, 407, 261, 378]"));
  r = test::run_command(cli() + " tokenize " + q(test::shared_dir() / "tokenizers/gpt2") + " --decode 15496,995");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "Hello world\n");
  r = test::run_command(cli() + " tokenize " + q(test::shared_dir() / "golden/models/gpt2") + " --text x");
  EXPECT_EQ(r.status, 2) << r.output;
}

TEST(CompareCli, SeedPresetsReprintTheSeedsNumbers) {
  const auto dir = test::scratch_dir("compare_cli");
  auto r = test::run_command(cli() + " compare pythia-1.4b pythia-6.9b --no-figures --out " + q(dir / "out"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("0.3448"), std::string::npos) << r.output;  // seed 002: log(6.24/3.60)/log(6.9/1.4)
  EXPECT_NE(r.output.find("3.604"), std::string::npos);               // seed 001's table
  const json j = json::parse(read_file(dir / "out/compare.json"));
  EXPECT_TRUE(j.contains("provenance"));
  EXPECT_TRUE(std::filesystem::exists(dir / "out/compare.csv"));
  // A malformed input is named.
  write_file_atomic(dir / "bad.json", "{\"model\": 1");
  r = test::run_command(cli() + " compare pythia-1.4b " + q(dir / "bad.json") + " --out " + q(dir / "out2"));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("bad.json"), std::string::npos) << r.output;
}

TEST(CompareCli, ReadsGainsJsonWrittenByGains) {
  const auto dir = test::scratch_dir("compare_gains");
  const auto model = test::shared_dir() / "models/stories260k";
  for (const char* preset : {"ffn-1.4b", "canonical"}) {
    auto r = test::run_command(fmt::format("{} gains {} --prompts {} --no-figures --no-weights --bootstrap 0 --out {}",
                                           cli(), q(model), preset, q(dir / preset)));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  auto r =
      test::run_command(fmt::format("{} compare {} {} pythia-1.4b --no-figures --out {}", cli(),
                                    q(dir / "ffn-1.4b/gains.json"), q(dir / "canonical/gains.json"), q(dir / "cmp")));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("stories260k"), std::string::npos) << r.output;
}

// A cache laid out as huggingface_hub writes it, found by name with no network.
TEST(ModelsByName, GainsFindsAModelInTheHuggingFaceCache) {
  const auto cache = test::scratch_dir("hf_cache");
  const auto repo = cache / "models--Test--tiny-neox";
  const std::string commit = "0123456789abcdef0123456789abcdef01234567";
  std::filesystem::create_directories(repo / "refs");
  std::filesystem::create_directories(repo / "snapshots" / commit);
  std::filesystem::create_directories(repo / "blobs");
  write_file_atomic(repo / "refs/main", commit);
  for (const char* f : {"config.json", "model.safetensors"}) {
    const auto blob = repo / "blobs" / (std::string("blob-") + f);
    std::filesystem::copy_file(test::shared_dir() / "golden/models/neox_parallel" / f, blob);
    std::filesystem::create_symlink(std::filesystem::path("../../blobs") / blob.filename(),
                                    repo / "snapshots" / commit / f);
  }
  write_file_atomic(cache / "ids.jsonl", "[1, 2, 3]\n[4, 5]\n");
  auto r =
      test::run_command(fmt::format("HF_HUB_CACHE={} HF_HUB_OFFLINE=1 {} gains Test/tiny-neox --ids-file {} "
                                    "--no-figures --bootstrap 0 --out {}",
                                    q(cache), cli(), q(cache / "ids.jsonl"), q(cache / "out")));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(json::parse(read_file(cache / "out/gains.json"))["model"], "Test/tiny-neox");
  r = test::run_command(fmt::format("HF_HUB_CACHE={} HF_HUB_OFFLINE=1 {} inspect Test/not-there", q(cache), cli()));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("streamgauge pull"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sg
