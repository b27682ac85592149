// What a new user ran into (the results issue's list), each pinned down:
// unknown commands named, bad numbers refused, --json honoured, defaults and
// examples in --help, per-model output folders, and errors that name the
// right file, field or line.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

namespace fs = std::filesystem;

std::string q(const fs::path& p) { return fmt::format("'{}'", p.string()); }
std::string cli() { return q(test::cli_path()); }
fs::path golden_model(const std::string& name) { return test::shared_dir() / "golden/models" / name; }

void expect_error(const test::CommandResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("streamgauge: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(must_contain), std::string::npos) << r.output;
}

TEST(RoughEdges, UnknownCommandIsNamed) {
  const auto r = test::run_command(cli() + " frobnicate");
  expect_error(r, "unknown command \"frobnicate\"");
  EXPECT_NE(r.output.find("gains"), std::string::npos) << "the commands are listed: " << r.output;
}

TEST(RoughEdges, NegativeCountsAreRefused) {
  auto r = test::run_command(cli() + " pairs zh-en-math --n -5");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.output.find("18446744073709551611"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--n"), std::string::npos) << r.output;
  r = test::run_command(cli() + " align " + q(golden_model("qwen2")) + " --n -5");
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(r.output.find("18446744073709551611"), std::string::npos) << r.output;
}

TEST(RoughEdges, InspectPointsHonoursJson) {
  const auto r = test::run_command(cli() + " inspect " + q(golden_model("gemma2")) + " --points --json");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(r.output);
  ASSERT_TRUE(j.is_array());
  EXPECT_NE(std::find(j.begin(), j.end(), "blocks.0.attn.hook_out"), j.end());
}

TEST(RoughEdges, EveryHelpHasAnExampleAndShowsDefaults) {
  for (const char* c : {"inspect", "capture", "generate", "gains", "weights", "pairs", "align", "pull", "tokenize",
                        "compare", "residual"}) {
    const auto r = test::run_command(cli() + " " + c + " --help");
    EXPECT_EQ(r.status, 0) << c;
    EXPECT_NE(r.output.find("xample"), std::string::npos) << c << " --help has no example:\n" << r.output;
  }
  const auto r = test::run_command(cli() + " gains --help");
  for (const char* d : {"]=1000", "--bootstrap-seed UINT=0", "]=8192"})
    EXPECT_NE(r.output.find(d), std::string::npos) << d << "\n" << r.output;
}

TEST(RoughEdges, ResidualWritesToTheModelsOwnFolder) {
  const auto dir = test::scratch_dir("rough_residual");
  write_file_atomic(dir / "ids.jsonl", "[1, 2, 3]\n[4, 5]\n");
  auto r = test::run_command(fmt::format("cd {} && {} residual {} --ids-file ids.jsonl --no-figures", q(dir), cli(),
                                         q(golden_model("llama"))));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "streamgauge-out/llama/residual/residual.json")) << r.output;
  EXPECT_EQ(r.output.find("//"), std::string::npos) << r.output;
  r = test::run_command(fmt::format("cd {} && {} residual {} {} --ids-file ids.jsonl --no-figures", q(dir), cli(),
                                    q(golden_model("llama")), q(golden_model("qwen2"))));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "streamgauge-out/residual/llama+qwen2/residual.json")) << r.output;
}

TEST(RoughEdges, AlignTakesATokenizer) {
  const auto dir = test::scratch_dir("rough_align_tok");
  // stories260k's weights without its tokenizer: --tokenizer brings it back.
  for (const char* f : {"config.json", "model.safetensors"})
    fs::copy(test::shared_dir() / "models/stories260k" / f, dir / f);
  write_file_atomic(dir / "pairs.jsonl",
                    "{\"a\": \"Once upon a time\", \"b\": \"Once upon a day\"}\n"
                    "{\"a\": \"The cat sat\", \"b\": \"The cat ran\"}\n"
                    "{\"a\": \"Lily was happy\", \"b\": \"Lily was sad\"}\n");
  auto r = test::run_command(fmt::format("{} align {} --pairs {} --perms 20 --no-figures --out {}", cli(), q(dir),
                                         q(dir / "pairs.jsonl"), q(dir / "out")));
  expect_error(r, "--tokenizer");
  r = test::run_command(fmt::format("{} align {} --pairs {} --perms 20 --no-figures --out {} --tokenizer {}", cli(),
                                    q(dir), q(dir / "pairs.jsonl"), q(dir / "out"),
                                    q(test::shared_dir() / "models/stories260k")));
  EXPECT_EQ(r.status, 0) << r.output;
}

TEST(RoughEdges, ErrorsNameTheRightThing) {
  const auto dir = test::scratch_dir("rough_errors");
  // config.json that is a directory.
  const auto m = test::copy_model(golden_model("qwen2"), "rough_config_dir");
  fs::remove(m / "config.json");
  fs::create_directory(m / "config.json");
  expect_error(test::run_command(cli() + " inspect " + q(m)), "is a directory");
  // A dimension too large for the engine, and a bad epsilon named by its own field.
  const auto c = test::copy_model(golden_model("qwen2"), "rough_config_fields");
  auto cfg = nlohmann::json::parse(read_file(golden_model("qwen2") / "config.json"));
  cfg["hidden_size"] = 1e12;
  write_file_atomic(c / "config.json", cfg.dump());
  expect_error(test::run_command(cli() + " inspect " + q(c)), "\"hidden_size\" is 1000000000000, implausibly large");
  cfg = nlohmann::json::parse(read_file(golden_model("qwen2") / "config.json"));
  cfg["rms_norm_eps"] = -1;
  write_file_atomic(c / "config.json", cfg.dump());
  expect_error(test::run_command(cli() + " inspect " + q(c)), "\"rms_norm_eps\"");
  // --ids-file naming a directory, in every command that reads one.
  fs::create_directory(dir / "ids_dir");
  expect_error(test::run_command(cli() + " capture " + q(golden_model("qwen2")) + " --ids-file " + q(dir / "ids_dir") +
                                 " --out " + q(dir / "x.safetensors")),
               "--ids-file");
  expect_error(test::run_command(cli() + " generate " + q(golden_model("qwen2")) + " --ids-file " + q(dir / "ids_dir")),
               "--ids-file");
  // A prompts file that is not UTF-8: the file and the line.
  write_file_atomic(dir / "prompts.txt", "fine\nbad \xff\xfe here\n");
  expect_error(test::run_command(cli() + " gains " + q(test::shared_dir() / "models/stories260k") + " --prompts " +
                                 q(dir / "prompts.txt") + " --no-figures --out " + q(dir / "g")),
               "prompts.txt:2: not valid UTF-8");
}

TEST(RoughEdges, MessagesCountWhatTheyWrite) {
  const auto dir = test::scratch_dir("rough_capture");
  const auto r = test::run_command(cli() + " capture " + q(golden_model("llama")) +
                                   " --ids 1,2,3 --hooks 'blocks.0.hook_attn_out' --out " + q(dir / "a.safetensors"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("wrote 2 tensors (1 captured, 1 input_ids) for 1 sequence to"), std::string::npos)
      << r.output;
}

TEST(RoughEdges, CompareWarnsOnceAboutRandomWeights) {
  const auto dir = test::scratch_dir("rough_compare");
  auto r = test::run_command(fmt::format("cd {} && XDG_CACHE_HOME={} {} gains --bootstrap 10 --no-figures --out g",
                                         q(dir), q(dir / "cache"), cli()));
  ASSERT_EQ(r.status, 0) << r.output;
  r = test::run_command(fmt::format("cd {} && {} compare g/gains.json pythia-1.4b --no-figures", q(dir), cli()));
  ASSERT_EQ(r.status, 0) << r.output;
  size_t n = 0;
  for (size_t pos = 0; (pos = r.output.find("random", pos)) != std::string::npos; ++pos) ++n;
  EXPECT_EQ(n, 1u) << r.output;
  EXPECT_TRUE(fs::exists(dir / "streamgauge-out/compare/compare.json"));
  EXPECT_NE(r.output.find("(1 segment)"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

TEST(RoughEdges, DecodeRefusesIdsOutsideTheVocabulary) {
  const auto model = test::shared_dir() / "models/stories260k";
  expect_error(test::run_command(cli() + " tokenize " + q(model) + " --decode 1,99999,5"), "token id 99999");
  const auto r = test::run_command(cli() + " tokenize " + q(model) + " --decode 403,407");
  EXPECT_EQ(r.status, 0) << r.output;
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

TEST(RoughEdges, MissingGnuplotSuggestsNoFigures) {
  const auto dir = test::scratch_dir("rough_gnuplot");
  write_file_atomic(dir / "ids.jsonl", "[1, 2, 3]\n");
  const auto r = test::run_command(
      fmt::format("STREAMGAUGE_GNUPLOT={} {} gains {} --ids-file {} --bootstrap 5 --out {}", q(dir / "no-such-gnuplot"),
                  cli(), q(golden_model("llama")), q(dir / "ids.jsonl"), q(dir / "out")));
  expect_error(r, "--no-figures");
}

}  // namespace
}  // namespace sg
