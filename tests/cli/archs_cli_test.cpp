// The second wave of families (Llama rope scalings, Mistral, Qwen3, Gemma,
// Gemma 2) through every experiment command, end to end: inspect shows the
// per-layer description, gains / residual / weights / align run, and gains
// labels both gains of a post-normed model in JSON, CSV and the terminal.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string q(const fs::path& p) { return fmt::format("'{}'", p.string()); }

class ArchsCli : public ::testing::TestWithParam<const char*> {};

TEST_P(ArchsCli, EveryExperimentRuns) {
  const std::string name = GetParam();
  const fs::path model = test::shared_dir() / "golden/models" / name;
  const fs::path dir = test::scratch_dir("archs_cli_" + name);
  const std::string cli = q(test::cli_path());
  const json metrics = json::parse(read_file(test::shared_dir() / "golden/expected" / name / "metrics.json"));
  std::string ids, pairs;
  for (auto& s : metrics["sequences"]) ids += s.dump() + "\n";
  write_file_atomic(dir / "ids.jsonl", ids);
  for (int i = 0; i < 6; ++i)
    pairs += json{{"a_ids", {3 + i, 40 + i, 7}}, {"b_ids", {3 + i, 40 + i, 90 + i}}}.dump() + "\n";
  write_file_atomic(dir / "pairs.jsonl", pairs);

  auto r = test::run_command(fmt::format("{} inspect {}", cli, q(model)));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(name.rfind("llama", 0) == 0 ? "(llama)" : "(" + name + ")"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("layers 0"), std::string::npos) << r.output;  // the per-layer description
  r = test::run_command(fmt::format("{} inspect {} --json", cli, q(model)));
  ASSERT_EQ(r.status, 0) << r.output;
  const json spec = json::parse(r.output);
  EXPECT_EQ(spec["layers"].size(), 4u);

  r = test::run_command(fmt::format("{} gains {} --ids-file {} --out {} --no-figures", cli, q(model),
                                    q(dir / "ids.jsonl"), q(dir / "gains")));
  ASSERT_EQ(r.status, 0) << r.output;
  const json g = json::parse(read_file(dir / "gains/gains.json"));
  const std::string csv = read_file(dir / "gains/layers.csv");
  const bool post_normed = name == "gemma2";
  EXPECT_EQ(g.contains("module_output_gains"), post_normed);
  EXPECT_EQ(csv.find("attn_module_gain") != std::string::npos, post_normed);
  EXPECT_EQ(r.output.find("Attn (module output)") != std::string::npos, post_normed) << r.output;
  if (post_normed) {
    EXPECT_EQ(g["module_output_gains"]["attention"].size(), 4u);
    EXPECT_TRUE(g["definitions"].contains("module_output_gains"));
  }

  r = test::run_command(fmt::format("{} residual {} --ids-file {} --out {} --no-figures", cli, q(model),
                                    q(dir / "ids.jsonl"), q(dir / "residual")));
  EXPECT_EQ(r.status, 0) << r.output;
  r = test::run_command(fmt::format("{} weights {}", cli, q(model)));
  EXPECT_EQ(r.status, 0) << r.output;
  r = test::run_command(fmt::format("{} align {} --pairs {} --perms 50 --out {} --no-figures", cli, q(model),
                                    q(dir / "pairs.jsonl"), q(dir / "align")));
  EXPECT_EQ(r.status, 0) << r.output;
  r = test::run_command(fmt::format("{} capture {} --ids-file {} --hooks 'blocks.0.*' --out {}", cli, q(model),
                                    q(dir / "ids.jsonl"), q(dir / "capture.safetensors")));
  EXPECT_EQ(r.status, 0) << r.output;
}

INSTANTIATE_TEST_SUITE_P(SecondWave, ArchsCli,
                         ::testing::Values("llama_rope_llama3", "llama_rope_linear", "llama_rope_yarn", "mistral",
                                           "qwen3", "gemma", "gemma2"));

}  // namespace
}  // namespace sg
