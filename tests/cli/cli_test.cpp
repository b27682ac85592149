// The CLI end to end: capture on golden models matches the reference; bad input
// gives one line on stderr, exit code 2 and no output file.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>

#include "io/safetensors.h"
#include "io/safetensors_writer.h"
#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

std::string q(const std::filesystem::path& p) { return fmt::format("'{}'", p.string()); }
std::string sg_cli() { return q(test::cli_path()); }
std::filesystem::path golden_model(const std::string& name) { return test::shared_dir() / "golden/models" / name; }

// The error contract: exit 2, exactly one line, naming what it must name.
void expect_error(const test::CommandResult& r, const std::string& must_contain) {
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("streamgauge: error: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find(must_contain), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(Cli, HelpForEveryCommand) {
  for (const char* c : {"", "inspect", "capture", "generate"}) {
    auto r = test::run_command(sg_cli() + " " + c + " --help");
    EXPECT_EQ(r.status, 0) << c << r.output;
    EXPECT_NE(r.output.find("Usage"), std::string::npos) << c;
  }
}

TEST(Cli, InspectJson) {
  auto r = test::run_command(sg_cli() + " inspect " + q(golden_model("qwen2")) + " --json");
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output);
  EXPECT_EQ(j["n_kv_heads"], 2);
  EXPECT_EQ(j["rho"], 0.25);
  EXPECT_EQ(j["weight_dtype"], "F32");
}

TEST(Cli, CaptureMatchesTheGoldenReference) {
  auto dir = test::scratch_dir("cli_capture");
  for (const char* name : {"neox_parallel", "neox_parallel_bf16", "neox_parallel_sharded", "neox_sequential", "gptj",
                           "qwen2", "qwen2_f16", "llama", "gpt2", "gpt2_legacy_keys"}) {
    SafetensorsFile golden(test::shared_dir() / "golden/expected" / name / "golden.safetensors");
    const auto out = dir / (std::string(name) + ".safetensors");
    auto r = test::run_command(sg_cli() + " capture " + q(golden_model(name)) +
                               " --ids 226 --ids 229,29,129,164,169,254,126 --hooks 'blocks.*,logits' --out " + q(out));
    ASSERT_EQ(r.status, 0) << r.output;
    SafetensorsFile got(out);
    int compared = 0;
    for (int s = 0; s < 2; ++s)
      for (auto [g, c] :
           std::vector<std::pair<std::string, std::string>>{{"layer1.attn_out", "blocks.1.hook_attn_out"},
                                                            {"layer3.mlp_in", "blocks.3.ln2.hook_out"},
                                                            {"layer2.resid_post", "blocks.2.hook_resid_post"},
                                                            {"logits", "logits"}}) {
        const auto pre = "seq" + std::to_string(s) + ".";
        const TensorView* gt = golden.find(pre + g);
        const TensorView* ct = got.find(pre + c);
        ASSERT_TRUE(gt && ct) << name << " " << pre + c;
        ASSERT_EQ(gt->shape, ct->shape);
        std::vector<float> a(gt->numel()), b(ct->numel());
        to_f32(gt->dtype, gt->data, a.data(), a.size());
        to_f32(ct->dtype, ct->data, b.data(), b.size());
        double max_g = 0, max_d = 0;
        for (size_t i = 0; i < a.size(); ++i) {
          max_g = std::max(max_g, std::fabs(double(a[i])));
          max_d = std::max(max_d, std::fabs(double(a[i]) - b[i]));
        }
        EXPECT_LE(max_d, 1e-4 * max_g) << name << " " << c;
        ++compared;
      }
    EXPECT_EQ(compared, 8);
    EXPECT_NE(got.find("seq1.input_ids"), nullptr);
    EXPECT_EQ(got.find("seq0.hook_embed"), nullptr);  // not asked for
  }
}

TEST(Cli, IdsFileAndGenerate) {
  auto dir = test::scratch_dir("cli_gen");
  write_file_atomic(dir / "ids.jsonl", "[1, 403, 407, 261, 378]\n");
  auto r = test::run_command(sg_cli() + " generate " + q(test::shared_dir() / "models/stories260k") + " --ids-file " +
                             q(dir / "ids.jsonl") + " -n 6");
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "432,383,286,261,376,298\n");  // llama2.c's continuation
}

TEST(Cli, GenerateSaysWhenThePositionsRunOut) {
  std::string ids = "1";
  for (int i = 1; i < 60; ++i) ids += ",7";
  auto r = test::run_command(sg_cli() + " generate " + q(golden_model("gpt2")) + " --ids " + ids + " -n 100");
  ASSERT_EQ(r.status, 0) << r.output;
  const auto first_line = r.output.substr(0, r.output.find('\n'));
  EXPECT_EQ(std::count(first_line.begin(), first_line.end(), ','), 4) << r.output;  // 5 tokens: positions 60..64
  EXPECT_NE(r.output.find("stopped after 5 new tokens: the model has 64 positions"), std::string::npos) << r.output;
  r = test::run_command(sg_cli() + " generate --help");
  EXPECT_NE(r.output.find("32"), std::string::npos) << "the default -n is shown";
}

TEST(Cli, GenerateTextMatchesLlama2c) {
  const auto dir = test::shared_dir() / "models/stories260k";
  const auto ref = nlohmann::json::parse(read_file(dir / "reference_generations.json"));
  for (const auto& g : ref["generations"]) {
    const auto prompt = g["prompt"].get<std::string>();
    if (prompt.empty()) continue;  // llama2.c's empty prompt is BOS alone; ours needs text
    // run.c ran 256 positions or stopped at BOS (ours stops there too).
    const int n = g["n_generated"].get<int>() + (g["terminated_by_bos"].get<bool>() ? 1 : 0);
    auto r = test::run_command(sg_cli() + " generate " + q(dir) + " --prompt '" + prompt + "' -n " + std::to_string(n));
    ASSERT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, g["text"].get<std::string>() + "\n");
  }
}

TEST(Cli, BadInputGivesOneLineExitTwoAndNoOutput) {
  auto dir = test::scratch_dir("cli_bad");
  const auto out = dir / "out.safetensors";
  auto capture = [&](const std::filesystem::path& model, const std::string& args) {
    return test::run_command(sg_cli() + " capture " + q(model) + " " + args + " --out " + q(out));
  };

  expect_error(capture(golden_model("gpt2"), "--ids 1,2,300"), "token id 300");
  expect_error(capture(
                   golden_model("gpt2"), "--ids " +
                                             [] {
                                               std::string s = "1";
                                               for (int i = 0; i < 64; ++i) s += ",1";
                                               return s;
                                             }()),
               "more than the model's 64 positions");
  expect_error(capture(golden_model("gpt2"), "--ids 1,x"), "--ids");
  expect_error(capture(golden_model("gpt2"), "--ids 1 --hooks 'blocks.*.hook_nothing'"), "matches no capture point");
  expect_error(capture(dir / "nonexistent", "--ids 1"), "nonexistent");

  // Unknown model_type.
  auto m = test::copy_model(golden_model("gpt2"), "cli_unknown_type");
  auto cfg = nlohmann::json::parse(read_file(m / "config.json"));
  cfg["model_type"] = "rwkv";
  write_file_atomic(m / "config.json", cfg.dump());
  expect_error(capture(m, "--ids 1"), "model_type");

  // Qwen2 with use_sliding_window true is refused, naming the field.
  auto w = test::copy_model(golden_model("qwen2"), "cli_sliding");
  cfg = nlohmann::json::parse(read_file(w / "config.json"));
  cfg["use_sliding_window"] = true;
  cfg["sliding_window"] = 4;
  cfg["max_window_layers"] = 0;
  write_file_atomic(w / "config.json", cfg.dump());
  expect_error(capture(w, "--ids 1,2,3,4,5"), "sliding_window");

  // Truncated weights.
  auto t = test::copy_model(golden_model("llama"), "cli_truncated");
  auto bytes = read_file(t / "model.safetensors");
  write_file_atomic(t / "model.safetensors", bytes.substr(0, bytes.size() / 2));
  expect_error(capture(t, "--ids 1"), "model.safetensors");

  EXPECT_FALSE(std::filesystem::exists(out));
  for (auto& e : std::filesystem::directory_iterator(dir)) ADD_FAILURE() << "left behind: " << e.path();
}

TEST(Cli, NonFiniteWeightsAreNamedInAWarning) {
  auto m = test::copy_model(golden_model("neox_parallel"), "cli_nan");
  const auto orig = m / "orig.bin";
  std::filesystem::rename(m / "model.safetensors", orig);
  {
    SafetensorsFile f(orig);
    SafetensorsWriter w;
    for (auto& t : f.tensors()) {
      std::vector<char> bytes(reinterpret_cast<const char*>(t.data), reinterpret_cast<const char*>(t.data) + t.nbytes);
      if (t.name == "gpt_neox.layers.1.mlp.dense_4h_to_h.weight") {
        const float nan = NAN;
        std::memcpy(bytes.data() + 40, &nan, 4);
      }
      w.add(t.name, t.dtype, t.shape, bytes.data(), bytes.size());
    }
    w.write(m / "model.safetensors");
  }
  std::filesystem::remove(orig);
  auto r = test::run_command(sg_cli() + " inspect " + q(m));
  EXPECT_EQ(r.status, 0);
  EXPECT_NE(r.output.find("warning: "), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("gpt_neox.layers.1.mlp.dense_4h_to_h.weight has 1 non-finite"), std::string::npos)
      << r.output;
}

}  // namespace
}  // namespace sg
