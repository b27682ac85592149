// `streamgauge align` end to end: golden models (no tokenizer) with token-id
// pairs, the zh-en-math preset through a real tokenizer (stories260k), every
// output the issue names, deterministic bytes, and bad input as one line + exit 2.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

namespace fs = std::filesystem;

std::string q(const fs::path& p) { return fmt::format("'{}'", p.string()); }
std::string sg_cli() { return q(test::cli_path()); }
fs::path golden_model(const std::string& name) { return test::shared_dir() / "golden/models" / name; }

// Six token-id pairs inside the golden models' 288-token vocabulary; the b side
// shares a prefix with its a side, so matched pairs are closer than scrambled.
fs::path write_id_pairs(const fs::path& dir) {
  std::string text;
  for (int i = 0; i < 6; ++i) {
    std::vector<int> a, b;
    for (int t = 0; t < 2 + i % 4; ++t) a.push_back((i * 13 + t * 7 + 3) % 280);
    for (int t = 0; t < 1 + i % 3; ++t) b.push_back((i * 13 + t * 7 + 3) % 280);
    b.push_back(250 + i);
    text += nlohmann::json{{"a_ids", a}, {"b_ids", b}}.dump() + "\n";
  }
  const auto path = dir / "pairs.jsonl";
  write_file_atomic(path, text);
  return path;
}

void expect_error(const test::CommandResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("streamgauge: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(must_contain), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

bool have_numpy() {
  return fs::exists("/usr/bin/python3") && test::run_command("/usr/bin/python3 -c 'import numpy'").status == 0;
}

TEST(AlignCli, Help) {
  auto r = test::run_command(sg_cli() + " align --help");
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* opt : {"--pairs", "--preset", "--perms", "--drop-top-dims", "--save-deltas", "--out"})
    EXPECT_NE(r.output.find(opt), std::string::npos) << opt;
}

TEST(AlignCli, GoldenModelWithIdPairsWritesEveryOutput) {
  const auto dir = test::scratch_dir("align_cli");
  const auto pairs = write_id_pairs(dir);
  const auto out = dir / "out";
  auto r = test::run_command(sg_cli() + " align " + q(golden_model("qwen2")) + " --pairs " + q(pairs) +
                             " --perms 50 --drop-top-dims 3 --save-deltas --out " + q(out));
  ASSERT_EQ(r.status, 0) << r.output;
  // The seed's terminal lines, one per layer, and its summary.
  for (int l = 0; l < 4; ++l)
    EXPECT_NE(r.output.find(fmt::format(" L{:2d}: z_pre=", l)), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Total Δz from attention:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Layers with cross-lingual MLP corrections (z>3):"), std::string::npos);

  const auto j = nlohmann::json::parse(read_file(out / "align.json"));
  EXPECT_EQ(j["model"], "qwen2");
  EXPECT_EQ(j["n_problems"], 6);
  EXPECT_EQ(j["n_layers"], 4);
  EXPECT_EQ(j["hidden_size"], 64);
  EXPECT_EQ(j["methodology"], "Unit-normalized matched-vs-scrambled z-score on cumulative residual stream");
  ASSERT_EQ(j["layer_results"].size(), 4u);
  const std::set<std::string> seed_layer_keys = {"layer",
                                                 "z_pre",
                                                 "z_post_attn",
                                                 "z_post_mlp",
                                                 "dz_attn",
                                                 "dz_mlp",
                                                 "z_attn_correction_alone",
                                                 "z_mlp_correction_alone",
                                                 "norm_h_pre",
                                                 "norm_attn_delta",
                                                 "norm_mlp_delta",
                                                 "matched_cos_pre",
                                                 "matched_cos_post_attn",
                                                 "matched_cos_post_mlp"};
  for (const auto& l : j["layer_results"]) {
    std::set<std::string> keys;
    for (const auto& [k, v] : l.items()) keys.insert(k);
    EXPECT_EQ(keys, seed_layer_keys);
    EXPECT_NEAR(l["dz_attn"].get<double>(), l["z_post_attn"].get<double>() - l["z_pre"].get<double>(), 1e-12);
  }
  for (const char* k : {"total_dz_attn", "total_dz_mlp", "attn_dominant_layers", "mlp_dominant_layers",
                        "attn_aligned_layers", "mlp_aligned_layers"})
    EXPECT_TRUE(j["summary"].contains(k)) << k;
  EXPECT_EQ(j["provenance"]["command"], "align");
  EXPECT_EQ(j["provenance"]["n_perms"], 50);
  EXPECT_EQ(j["provenance"]["pairs"]["form"], "ids");
  EXPECT_EQ(j["residual_topology"]["post_attn_is_model_state"], true);
  EXPECT_EQ(j["standardized"]["layer_results"].size(), 4u);
  EXPECT_EQ(j["top_dims_removed"]["k"], 3);
  EXPECT_EQ(j["top_dims_removed"]["layer_results"][0]["dropped_dims"]["pre"].size(), 3u);

  const std::string csv = read_file(out / "layers.csv");
  EXPECT_EQ(csv.rfind("layer,z_pre,z_post_attn,", 0), 0u) << csv;
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 5);
  EXPECT_EQ(read_file(out / "align.png").substr(0, 8), "\x89PNG\r\n\x1a\n");
  EXPECT_NE(read_file(out / "align.svg").find("<svg"), std::string::npos);
  const std::string html = read_file(out / "report.html");
  EXPECT_NE(html.find("data:image/svg+xml;base64,"), std::string::npos);
  EXPECT_NE(html.find("Total Δz from attention"), std::string::npos);

  // The npz: the seed's 4 x n_layers arrays, float32 [N, d]; each side's mean
  // attention-delta norm is the seed's norm_attn_delta (zh = a side).
  ASSERT_TRUE(fs::exists(out / "attn_mlp_deltas.npz"));
  if (!have_numpy()) GTEST_SKIP() << "/usr/bin/python3 with numpy is not installed (Debian: python3-numpy)";
  write_file_atomic(dir / "check.py", R"PY(
import sys, json, numpy as np
d = np.load(sys.argv[1]); j = json.load(open(sys.argv[2]))
names = [f'{s}_{w}_delta_L{l}' for l in range(4) for s in ('zh', 'en') for w in ('attn', 'mlp')]
assert sorted(d.files) == sorted(names), d.files
for n in names:
    assert d[n].dtype == np.float32 and d[n].shape == (6, 64), (n, d[n].dtype, d[n].shape)
for l, r in enumerate(j['layer_results']):
    for w in ('attn', 'mlp'):
        got = float(np.linalg.norm(d[f'zh_{w}_delta_L{l}'].astype(np.float64), axis=1).mean())
        assert abs(got - r[f'norm_{w}_delta']) <= 1e-9 * abs(got), (l, w, got, r[f'norm_{w}_delta'])
print('ok')
)PY");
  auto py = test::run_command(fmt::format("/usr/bin/python3 {} {} {}", q(dir / "check.py"),
                                          q(out / "attn_mlp_deltas.npz"), q(out / "align.json")));
  EXPECT_EQ(py.status, 0) << py.output;
  EXPECT_EQ(py.output, "ok\n");
}

TEST(AlignCli, SameInputsGiveTheSameBytes) {
  const auto dir = test::scratch_dir("align_cli_bytes");
  const auto pairs = write_id_pairs(dir);
  for (const char* o : {"a", "b"}) {
    auto r = test::run_command(sg_cli() + " align " + q(golden_model("gpt2")) + " --pairs " + q(pairs) +
                               " --perms 20 --save-deltas --no-figures --out " + q(dir / o));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(read_file(dir / "a/layers.csv"), read_file(dir / "b/layers.csv"));
  EXPECT_EQ(read_file(dir / "a/attn_mlp_deltas.npz"), read_file(dir / "b/attn_mlp_deltas.npz"));
  auto a = nlohmann::json::parse(read_file(dir / "a/align.json"));
  auto b = nlohmann::json::parse(read_file(dir / "b/align.json"));
  a.erase("provenance");
  b.erase("provenance");
  EXPECT_EQ(a, b);
}

TEST(AlignCli, ParallelResidualModelIsLabelled) {
  const auto dir = test::scratch_dir("align_cli_parallel");
  auto r = test::run_command(sg_cli() + " align " + q(golden_model("neox_parallel")) + " --pairs " +
                             q(write_id_pairs(dir)) + " --perms 20 --no-figures --out " + q(dir / "out"));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find("not a state the model ever has"), std::string::npos) << r.output;
  const auto j = nlohmann::json::parse(read_file(dir / "out/align.json"));
  EXPECT_EQ(j["residual_topology"]["parallel_residual"], true);
  EXPECT_EQ(j["residual_topology"]["post_attn_is_model_state"], false);
}

// The seed's own problem set through a real tokenizer (a 512-piece SentencePiece
// model: Chinese falls back to bytes, which is fine).
TEST(AlignCli, PresetThroughTheTokenizer) {
  const auto dir = test::scratch_dir("align_cli_preset");
  auto r = test::run_command(sg_cli() + " align " + q(test::shared_dir() / "models/stories260k") +
                             " --preset zh-en-math --n 20 --perms 20 --no-figures --out " + q(dir));
  ASSERT_EQ(r.status, 0) << r.output;
  const auto j = nlohmann::json::parse(read_file(dir / "align.json"));
  EXPECT_EQ(j["n_problems"], 20);
  EXPECT_EQ(j["n_layers"], 5);
  EXPECT_EQ(j["provenance"]["pairs"]["preset"], "zh-en-math");
  EXPECT_TRUE(j["provenance"].contains("tokenizer"));
}

TEST(AlignCli, BadInputIsOneLineAndWritesNothing) {
  const auto dir = test::scratch_dir("align_cli_bad");
  const auto model = q(golden_model("qwen2"));
  auto run = [&](const std::string& jsonl, const std::string& extra = "") {
    write_file_atomic(dir / "p.jsonl", jsonl);
    return test::run_command(sg_cli() + " align " + model + " --pairs " + q(dir / "p.jsonl") + extra +
                             " --no-figures --out " + q(dir / "out"));
  };
  expect_error(run("{\"a_ids\": [1, 2], \"b_ids\": [3]}\n{\"a_ids\": [4], \"b_ids\": [5, 288]}\n"),
               "pair 2 side b: token id 288 is outside the model's vocabulary (0..287)");
  expect_error(run("{\"a_ids\": [1, 2], \"b_ids\": [3]}\n"), "needs at least 2");
  expect_error(run("{\"a\": \"x\", \"b\": \"y\"}\n{\"a\": \"z\", \"b\": \"w\"}\n"), "no tokenizer");
  expect_error(run("{\"a_ids\": [1], \"b_ids\": [3]}\n{\"a_ids\": [4], \"b_ids\": [5]}\n", " --drop-top-dims 64"),
               "--drop-top-dims 64 must be smaller than the model's hidden size (64)");
  expect_error(run("{\"a_ids\": [1], \"b_ids\": [3]}\n{\"a_ids\": [4], \"b_ids\": [5]}\n", " --perms 0"),
               "--perms must be at least 1");
  EXPECT_FALSE(fs::exists(dir / "out"));
}

}  // namespace
}  // namespace sg
