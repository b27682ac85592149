// `streamgauge gains` end to end: the seeds' numbers from the golden reference,
// every seed key in gains.json, figures and report written.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

using nlohmann::json;

std::string q(const std::filesystem::path& p) { return fmt::format("'{}'", p.string()); }

TEST(GainsCli, ReproducesTheGoldenSeedGains) {
  for (const char* name : {"neox_parallel", "gptj", "qwen2_f16", "gpt2_legacy_keys"}) {
    const auto dir = test::scratch_dir(std::string("gains_") + name);
    const json metrics = json::parse(read_file(test::shared_dir() / "golden/expected" / name / "metrics.json"));
    std::string ids;
    for (auto& s : metrics["sequences"]) ids += s.dump() + "\n";
    write_file_atomic(dir / "ids.jsonl", ids);
    const auto r = test::run_command(fmt::format("{} gains {} --ids-file {} --out {} --no-figures", q(test::cli_path()),
                                                 q(test::shared_dir() / "golden/models" / name), q(dir / "ids.jsonl"),
                                                 q(dir / "out")));
    ASSERT_EQ(r.status, 0) << r.output;
    const json g = json::parse(read_file(dir / "out/gains.json"));
    const json& want = metrics["mean_over_sequences"]["seed_gain"];
    for (auto [ours, theirs] : {std::pair{"attention", "attn_gain"}, std::pair{"mlp", "mlp_gain"}}) {
      ASSERT_EQ(g[ours]["gains"].size(), want[theirs].size());
      for (size_t l = 0; l < want[theirs].size(); ++l) {
        const double a = g[ours]["gains"][l], b = want[theirs][l];
        EXPECT_LE(std::fabs(a - b), 1e-5 * std::fabs(b)) << name << " " << ours << " layer " << l;
      }
    }
    EXPECT_EQ(g["attention"]["L_star_min"], want["L_star_attn"]);
    EXPECT_EQ(g["mlp"]["L_star_max"], want["L_star_mlp"]);
    EXPECT_EQ(g["n_prompts"], 3);
    // Every summary key the seeds write.
    for (const char* k :
         {"model", "n_layers", "hidden_dim", "n_prompts", "n_params", "n_params_non_embedding", "provenance"})
      EXPECT_TRUE(g.contains(k)) << k;
    for (const char* k : {"gains", "min_gain", "max_gain", "L_star_min", "n_contracting", "n_expanding"})
      EXPECT_TRUE(g["attention"].contains(k)) << k;
    for (const char* k :
         {"gains", "min_gain", "max_gain", "L_star_max", "n_contracting", "n_expanding", "last_layer_gain"})
      EXPECT_TRUE(g["mlp"].contains(k)) << k;
    for (const char* k : {"gains", "n_net_contracting", "n_net_expanding", "max_gain", "max_gain_layer"})
      EXPECT_TRUE(g["combined"].contains(k)) << k;
    for (const char* k : {"attention_contracts", "mlp_expands", "hypothesis_confirmed"})
      EXPECT_TRUE(g["hypothesis_test"].contains(k)) << k;
    for (const char* k : {"attention_always_contracts", "mlp_mostly_contracts", "last_layer_expands",
                          "last_layer_is_max", "funnel_confirmed"})
      EXPECT_TRUE(g["funnel_test"].contains(k)) << k;
    EXPECT_TRUE(std::filesystem::exists(dir / "out/layers.csv"));
  }
}

std::string head(const std::filesystem::path& p, size_t n) {
  std::ifstream in(p, std::ios::binary);
  std::string s(n, '\0');
  in.read(s.data(), static_cast<std::streamsize>(n));
  return s;
}

// The same prompts give the same numbers, bit for bit, with 1 or 3 threads,
// with the AVX2 or the widest kernels, and in one chunk or several:
// everything but the provenance block.
TEST(GainsCli, NumbersDoNotDependOnThreadsKernelsOrChunks) {
  const auto dir = test::scratch_dir("gains_invariance");
  write_file_atomic(dir / "ids.jsonl", "[1,2,3,4,5,6,7,8,9]\n[10,20,30,40,50,60,70,80,90,100,110,120,130,140]\n[7]\n");
  const auto model = test::shared_dir() / "golden/models/neox_parallel";
  auto run = [&](const std::string& env, const std::string& extra, const std::string& out) {
    const auto r =
        test::run_command(fmt::format("{} {} gains {} --ids-file {} --out {} --no-figures {}", env, q(test::cli_path()),
                                      q(model), q(dir / "ids.jsonl"), q(dir / out), extra));
    EXPECT_EQ(r.status, 0) << r.output;
    json g = json::parse(read_file(dir / out / "gains.json"));
    g.erase("provenance");
    return std::pair{g, read_file(dir / out / "layers.csv")};
  };
  const auto base = run("OMP_NUM_THREADS=1 SG_ISA=avx2", "", "a");
  for (auto [env, extra] :
       {std::pair<std::string, std::string>{"OMP_NUM_THREADS=3", ""}, {"OMP_NUM_THREADS=2", "--chunk-tokens 10"}}) {
    const auto other = run(env, extra, "b");
    EXPECT_EQ(base.first, other.first) << env << " " << extra;
    EXPECT_EQ(base.second, other.second) << env << " " << extra;
  }
}

TEST(GainsCli, DemoWritesFiguresAndAReportAndSaysItIsRandom) {
  const auto dir = test::scratch_dir("gains_demo");
  const auto r = test::run_command(
      fmt::format("cd {} && XDG_CACHE_HOME={} {} gains --bootstrap 50", q(dir), q(dir / "cache"), q(test::cli_path())));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("RANDOM WEIGHTS"), std::string::npos);
  EXPECT_NE(r.output.find("FUNNEL MODEL CONFIRMED"), std::string::npos);
  const auto out = dir / "streamgauge-out/demo-pythia/gains";
  for (const char* png : {"gains.png", "funnel.png"}) EXPECT_EQ(head(out / png, 8), "\x89PNG\r\n\x1a\n") << png;
  for (const char* svg : {"gains.svg", "funnel.svg"}) {
    const std::string text = read_file(out / svg);
    EXPECT_NE(text.find("<svg"), std::string::npos) << svg;
    EXPECT_NE(text.find("</svg>"), std::string::npos) << svg;
  }
  const std::string html = read_file(out / "report.html");
  EXPECT_NE(html.find("<html"), std::string::npos);
  EXPECT_NE(html.find("</html>"), std::string::npos);
  EXPECT_NE(html.find("RANDOM WEIGHTS"), std::string::npos);
  const json g = json::parse(read_file(out / "gains.json"));
  EXPECT_TRUE(g["random_weights"].get<bool>());
  EXPECT_EQ(g["n_prompts"], 8);
  // The CSV has a header and one row per layer.
  const std::string csv = read_file(out / "layers.csv");
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + g["n_layers"].get<int>());
}

TEST(GainsCli, PromptsFromATextFileAndBadPrompts) {
  const auto dir = test::scratch_dir("gains_prompts");
  const auto model = test::shared_dir() / "models/stories260k";
  write_file_atomic(dir / "p.txt", "Once upon a time\n\nThe sun was shining\n");
  auto r = test::run_command(fmt::format("{} gains {} --prompts {} --out {} --no-figures --no-weights",
                                         q(test::cli_path()), q(model), q(dir / "p.txt"), q(dir / "out")));
  ASSERT_EQ(r.status, 0) << r.output;
  const json g = json::parse(read_file(dir / "out/gains.json"));
  EXPECT_EQ(g["n_prompts"], 2);
  EXPECT_EQ(g["provenance"]["prompts"][0]["ids"], json::parse("[1, 403, 407, 261, 378]"));  // BOS added, as HF
  r = test::run_command(
      fmt::format("{} gains {} --prompts no-such-preset --out {}", q(test::cli_path()), q(model), q(dir / "bad")));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("no-such-preset"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(dir / "bad"));
  // A golden model has no tokenizer: text prompts need --tokenizer or ids.
  r = test::run_command(fmt::format("{} gains {} --out {}", q(test::cli_path()),
                                    q(test::shared_dir() / "golden/models/llama"), q(dir / "bad")));
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("no tokenizer"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sg
