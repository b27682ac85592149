// The second wave of families (Llama rope scalings, Mistral, Qwen3, Gemma,
// Gemma 2) through every experiment command, end to end: inspect shows the
// per-layer description, gains / residual / weights / align run, and gains
// labels both gains of a post-normed model in JSON, CSV and the terminal.
#include <algorithm>

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
  const std::string type = json::parse(read_file(model / "config.json"))["model_type"];
  EXPECT_NE(r.output.find("(" + type + ")"), std::string::npos) << r.output;
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
  const bool post_normed = name == "gemma2" || name == "olmo2" || name == "gemma3_text";
  EXPECT_EQ(g.contains("module_output_gains"), post_normed);
  EXPECT_EQ(csv.find("attn_module_gain") != std::string::npos, post_normed);
  EXPECT_EQ(r.output.find("Attn (module output)") != std::string::npos, post_normed) << r.output;
  // A mixture of experts: expert usage in gains.json, layers.csv, experts.csv, the terminal and the report.
  const bool moe = name == "qwen2_moe";
  EXPECT_EQ(g.contains("expert_usage"), moe);
  EXPECT_EQ(csv.find("router_entropy") != std::string::npos, moe);
  EXPECT_EQ(fs::exists(dir / "gains/experts.csv"), moe);
  EXPECT_EQ(r.output.find("Router entropy") != std::string::npos, moe) << r.output;
  if (moe) {
    EXPECT_EQ(g["expert_usage"]["layers"].size(), 4u);
    EXPECT_EQ(read_file(dir / "gains/experts.csv").rfind("layer,expert,fraction_of_tokens\n", 0), 0u);
    EXPECT_NE(read_file(dir / "gains/report.html").find("Expert usage"), std::string::npos);
  }
  if (post_normed) {
    EXPECT_EQ(g["module_output_gains"]["attention"].size(), 4u);
    EXPECT_TRUE(g["definitions"].contains("module_output_gains"));
  }

  r = test::run_command(fmt::format("{} residual {} --ids-file {} --out {} --no-figures", cli, q(model),
                                    q(dir / "ids.jsonl"), q(dir / "residual")));
  EXPECT_EQ(r.status, 0) << r.output;
  r = test::run_command(fmt::format("{} weights {}", cli, q(model)));
  EXPECT_EQ(r.status, 0) << r.output;
  if (name == "qwen2_moe") {  // every expert's matrices, and the router's
    for (const char* what : {"expert 3", "shared expert", "router"})
      EXPECT_NE(r.output.find(what), std::string::npos) << what << "\n" << r.output;
  }
  if (name == "qwen2_moe") {  // the router capture points
    r = test::run_command(fmt::format("{} inspect {} --points", cli, q(model)));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_NE(r.output.find("blocks.3.mlp.hook_router_probs\nblocks.3.mlp.hook_router_weights\n"), std::string::npos)
        << r.output;
  }
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
INSTANTIATE_TEST_SUITE_P(ThirdWave, ArchsCli,
                         ::testing::Values("phi3", "phi3_longrope", "olmo2", "gemma3_text", "qwen2_moe", "phi"));

// A bad value of each new config field: one line on stderr naming config.json
// and the field, exit status 2.
TEST(ArchsCli, BadConfigFieldsAreOneLineErrorsNamingFileAndField) {
  const std::string cli = q(test::cli_path());
  struct Case {
    const char* model;
    const char* field;
    json value;
  };
  const std::vector<Case> cases = {
      {"phi3", "partial_rotary_factor", 2.0},
      {"phi3", "sliding_window", -1},
      {"phi3_longrope", "original_max_position_embeddings", -16},
      {"phi3_longrope", "rope_scaling", {{"type", "longrope"}, {"short_factor", {1.0}}, {"long_factor", {1.0}}}},
      {"olmo2", "rms_norm_eps", -1},
      {"gemma3_text", "sliding_window_pattern", 0},
      {"gemma3_text", "rope_local_base_freq", 0},
      {"gemma3_text", "layer_types", {"full_attention"}},
      {"qwen2_moe", "num_experts_per_tok", 9},
      {"qwen2_moe", "decoder_sparse_step", 0},
      {"qwen2_moe", "mlp_only_layers", {7}},
      {"qwen2_moe", "moe_intermediate_size", 0},
      {"phi", "partial_rotary_factor", 0},
      {"phi", "qk_layernorm", "yes"},
  };
  int i = 0;
  for (const Case& c : cases) {
    const fs::path dir =
        test::copy_model(test::shared_dir() / "golden/models" / c.model, "bad_config_" + std::to_string(i++));
    json config = json::parse(read_file(dir / "config.json"));
    config[c.field] = c.value;
    write_file_atomic(dir / "config.json", config.dump(2));
    const auto r = test::run_command(fmt::format("{} inspect {}", cli, q(dir)));
    EXPECT_EQ(r.status, 2) << c.model << " " << c.field << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_NE(r.output.find((dir / "config.json").string()), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(std::string("\"") + c.field), std::string::npos) << r.output;
  }
}

}  // namespace
}  // namespace sg
