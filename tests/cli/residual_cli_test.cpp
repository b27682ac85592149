// streamgauge residual end to end on two golden models: the seed's table, the
// true table and the H25 verdicts on the terminal; residual.json's seed numbers
// against metrics.json; layers.csv, the figure and report.html written; bad
// input gives one line, exit 2 and no output directory.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

std::string q(const std::filesystem::path& p) { return fmt::format("'{}'", p.string()); }
std::string sg_cli() { return q(test::cli_path()); }
std::filesystem::path golden_model(const std::string& name) { return test::shared_dir() / "golden/models" / name; }

nlohmann::json golden_metrics(const std::string& name) {
  return nlohmann::json::parse(read_file(test::shared_dir() / "golden/expected" / name / "metrics.json"));
}

// The golden sequences as an --ids-file.
std::filesystem::path golden_ids_file(const std::filesystem::path& dir) {
  const auto metrics = golden_metrics("gpt2");  // sequences are the same for every model
  std::string text;
  for (const auto& s : metrics["sequences"]) text += s.dump() + "\n";
  write_file_atomic(dir / "ids.jsonl", text);
  return dir / "ids.jsonl";
}

void expect_rel(double got, double want, const std::string& what) {
  EXPECT_LE(std::fabs(got - want), 1e-5 * std::fabs(want)) << what << ": got " << got << ", want " << want;
}

TEST(CliResidual, TwoGoldenModelsEndToEnd) {
  const auto dir = test::scratch_dir("cli_residual");
  const auto out = dir / "out";
  auto r = test::run_command(sg_cli() + " residual " + q(golden_model("gpt2")) + " " + q(golden_model("qwen2")) +
                             " --ids-file " + q(golden_ids_file(dir)) + " --out " + q(out));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* s : {"Gain+LN", "Status-LN", "True G(L-1)", "FinalNorm G", "gain of block 2 (L-2)",
                        "H25 accuracy (seed metric gain_no_ln)", "H25 accuracy (true last-block gain)"})
    EXPECT_NE(r.output.find(s), std::string::npos) << s << "\n" << r.output;

  const auto doc = nlohmann::json::parse(read_file(out / "residual.json"));
  for (const char* k :
       {"experiment", "prompts", "precision", "methodology", "h25_verdict", "h25_accuracy", "results", "provenance"})
    EXPECT_TRUE(doc.contains(k)) << k;
  EXPECT_EQ(doc["prompts"].size(), 3u);
  EXPECT_NE(doc["precision"].get<std::string>().find("float32"), std::string::npos);
  for (const char* name : {"gpt2", "qwen2"}) {
    ASSERT_TRUE(doc["results"].contains(name)) << name;
    const auto& m = doc["results"][name];
    for (const char* k : {"gain_with_ln_mean", "gain_with_ln_std", "gain_no_ln_mean", "gain_no_ln_std",
                          "all_layer_gains", "is_dampening_with_ln", "is_dampening_no_ln", "n_hidden_states", "n_heads",
                          "d_model", "d_head", "n_layers", "rho"})
      EXPECT_TRUE(m.contains(k)) << name << " " << k;
    const auto golden = golden_metrics(name)["mean_over_sequences"];
    expect_rel(m["gain_with_ln_mean"], golden["hf_hidden_states"]["gain_with_ln"], std::string(name) + " with_ln");
    expect_rel(m["gain_no_ln_mean"], golden["hf_hidden_states"]["gain_no_ln"], std::string(name) + " no_ln");
    expect_rel(m["true_points"]["last_token"]["last_block_gain_mean"], golden["true_block_outputs"]["gain_no_ln"],
               std::string(name) + " true last block");
    EXPECT_EQ(m["n_hidden_states"], 5);
    EXPECT_EQ(m["rho"], 0.25);
  }
  // Both models have rho 0.25 (H25 predicts dampening) and expand in block L-2.
  EXPECT_EQ(doc["h25_verdict"], "FALSIFIED");
  EXPECT_EQ(doc["h25_accuracy"], 0.0);

  // layers.csv: a header, then (3 prompts + the mean) x 6 points per model.
  const std::string csv = read_file(out / "layers.csv");
  EXPECT_EQ(csv.rfind("model,prompt,point,capture_point,", 0), 0u);
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 2 * 4 * 6);
  for (const char* f : {"residual.png", "residual.svg", "report.html"})
    EXPECT_GT(std::filesystem::file_size(out / f), 1000u) << f;
  EXPECT_NE(read_file(out / "report.html").find("H25"), std::string::npos);
}

TEST(CliResidual, SameModelTwiceGetsTwoKeys) {
  const auto dir = test::scratch_dir("cli_residual_twice");
  auto r = test::run_command(sg_cli() + " residual " + q(golden_model("gptj")) + " " + q(golden_model("gptj")) +
                             " --ids-file " + q(golden_ids_file(dir)) + " --no-figures --out " + q(dir / "out"));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto doc = nlohmann::json::parse(read_file(dir / "out/residual.json"));
  EXPECT_TRUE(doc["results"].contains("gptj"));
  EXPECT_TRUE(doc["results"].contains("gptj (2)"));
  EXPECT_FALSE(std::filesystem::exists(dir / "out/residual.png"));
}

TEST(CliResidual, BadInputGivesOneLineExitTwoAndNoOutput) {
  const auto dir = test::scratch_dir("cli_residual_bad");
  const auto out = dir / "out";
  const std::string ids = " --ids-file " + q(golden_ids_file(dir));
  const std::vector<std::pair<std::string, std::string>> cases = {
      {q(dir / "missing") + ids, "missing"},
      {q(golden_model("gpt2")), "no tokenizer"},  // canonical prompts need one
      {q(golden_model("gpt2")) + " --prompts nope", "nope"},
      {q(golden_model("gpt2")) + " --prompts canonical" + ids, "not both"},
  };
  for (const auto& [args, must] : cases) {
    auto r = test::run_command(sg_cli() + " residual " + args + " --out " + q(out));
    EXPECT_EQ(r.status, 2) << args << "\n" << r.output;
    EXPECT_NE(r.output.find("streamgauge: error: "), std::string::npos) << r.output;
    EXPECT_NE(r.output.find(must), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_FALSE(std::filesystem::exists(out)) << args;
  }
}

}  // namespace
}  // namespace sg
