// Data parallel under mpirun: 2 and 3 ranks write the same outputs as one
// process (provenance aside), on golden models; a failure ends the job with one
// line and exit 2. Skipped when the build has no MPI (SG_MPI=OFF) or mpirun is
// missing. CI runs as root on 2 cores: Open MPI's documented variables allow
// root, --oversubscribe allows 3 ranks.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>

#include "dist/comm.h"
#include "model/synthetic.h"
#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

namespace fs = std::filesystem;

std::string q(const fs::path& p) { return fmt::format("'{}'", p.string()); }
fs::path golden_model(const std::string& name) { return test::shared_dir() / "golden/models" / name; }

bool have_mpirun() { return dist::built_with_mpi() && test::run_command("command -v mpirun").status == 0; }

// `streamgauge ARGS` on `ranks` ranks (0: without mpirun), one thread each,
// with `more_env` ("NAME=value ...") in the environment.
test::CommandResult run(int ranks, const std::string& args, const std::string& more_env = "") {
  const std::string env = "OMP_NUM_THREADS=1 OMP_WAIT_POLICY=PASSIVE " + more_env + " ";
  if (ranks == 0) return test::run_command(env + q(test::cli_path()) + " " + args);
  return test::run_command(
      env +
      "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
      // containers often forbid the cross-memory attach of Open MPI's shared-memory transport
      "OMPI_MCA_btl_vader_single_copy_mechanism=none "
      "mpirun -q -np " +
      std::to_string(ranks) + " " + q(test::cli_path()) + " " + args);
}

// A JSON result without what names the run (provenance: time, command line, ranks).
nlohmann::json without_provenance(const fs::path& file) {
  nlohmann::json j = nlohmann::json::parse(read_file(file));
  j.erase("provenance");
  j.erase("date");
  return j;
}

// Seven sequences of different lengths inside the golden vocabulary.
fs::path write_ids(const fs::path& dir) {
  std::string text;
  for (int i = 0; i < 7; ++i) {
    std::vector<int> ids;
    for (int t = 0; t < 3 + (i * 5) % 11; ++t) ids.push_back((i * 31 + t * 17 + 5) % 250);
    text += nlohmann::json(ids).dump() + "\n";
  }
  write_file_atomic(dir / "ids.jsonl", text);
  return dir / "ids.jsonl";
}

class MpiCli : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!have_mpirun()) GTEST_SKIP() << "built without MPI or no mpirun";
  }
};

TEST_F(MpiCli, GainsOnTwoAndThreeRanksEqualsOneProcess) {
  const fs::path dir = test::scratch_dir("mpi_gains");
  const fs::path ids = write_ids(dir);
  for (const char* model : {"neox_parallel", "gemma2", "qwen2_moe"}) {
    std::vector<fs::path> outs;
    for (int ranks : {0, 2, 3}) {
      const fs::path out = dir / fmt::format("{}_{}", model, ranks);
      const auto r = run(ranks, fmt::format("gains {} --ids-file {} --out {} --no-figures --bootstrap 50",
                                            q(golden_model(model)), q(ids), q(out)));
      ASSERT_EQ(r.status, 0) << r.output;
      outs.push_back(out);
    }
    for (size_t i = 1; i < outs.size(); ++i) {
      EXPECT_EQ(without_provenance(outs[0] / "gains.json"), without_provenance(outs[i] / "gains.json")) << model;
      EXPECT_EQ(read_file(outs[0] / "layers.csv"), read_file(outs[i] / "layers.csv")) << model;
    }
    EXPECT_EQ(nlohmann::json::parse(read_file(outs[1] / "gains.json"))["provenance"]["mpi_ranks"], 2);
  }
}

TEST_F(MpiCli, ResidualOfTwoModelsOnThreeRanksEqualsOneProcess) {
  const fs::path dir = test::scratch_dir("mpi_residual");
  const fs::path ids = write_ids(dir);
  const std::string models = q(golden_model("llama")) + " " + q(golden_model("gpt2"));
  for (int ranks : {0, 3}) {
    const auto r = run(ranks, fmt::format("residual {} --ids-file {} --out {} --no-figures", models, q(ids),
                                          q(dir / std::to_string(ranks))));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(without_provenance(dir / "0/residual.json"), without_provenance(dir / "3/residual.json"));
  EXPECT_EQ(read_file(dir / "0/layers.csv"), read_file(dir / "3/layers.csv"));
}

// Six pairs inside the golden vocabulary, of several lengths.
fs::path write_pairs(const fs::path& dir) {
  std::string text;
  for (int i = 0; i < 6; ++i) {
    std::vector<int> a, b;
    for (int t = 0; t < 2 + i % 4; ++t) a.push_back((i * 13 + t * 7 + 3) % 280);
    for (int t = 0; t < 1 + i % 3; ++t) b.push_back((i * 13 + t * 7 + 3) % 280);
    b.push_back(250 + i);
    text += nlohmann::json{{"a_ids", a}, {"b_ids", b}}.dump() + "\n";
  }
  write_file_atomic(dir / "pairs.jsonl", text);
  return dir / "pairs.jsonl";
}

TEST_F(MpiCli, AlignOnTwoRanksEqualsOneProcessDeltasIncluded) {
  const fs::path dir = test::scratch_dir("mpi_align");
  const fs::path pairs = write_pairs(dir);
  for (int ranks : {0, 2}) {
    const auto r = run(ranks, fmt::format("align {} --pairs {} --perms 50 --save-deltas --out {} --no-figures",
                                          q(golden_model("qwen2")), q(pairs), q(dir / std::to_string(ranks))));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(without_provenance(dir / "0/align.json"), without_provenance(dir / "2/align.json"));
  EXPECT_EQ(read_file(dir / "0/layers.csv"), read_file(dir / "2/layers.csv"));
  EXPECT_EQ(read_file(dir / "0/attn_mlp_deltas.npz"), read_file(dir / "2/attn_mlp_deltas.npz"));
}

TEST_F(MpiCli, MoreRanksThanSequencesStillAgree) {
  const fs::path dir = test::scratch_dir("mpi_few");
  write_file_atomic(dir / "ids.jsonl", "[1, 2, 3]\n[4, 5]\n");
  for (int ranks : {0, 3}) {
    const auto r =
        run(ranks, fmt::format("gains {} --ids-file {} --out {} --no-figures --no-weights", q(golden_model("llama")),
                               q(dir / "ids.jsonl"), q(dir / std::to_string(ranks))));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  EXPECT_EQ(without_provenance(dir / "0/gains.json"), without_provenance(dir / "3/gains.json"));
}

TEST_F(MpiCli, CaptureOnTwoAndThreeRanksWritesTheSameFile) {
  const fs::path dir = test::scratch_dir("mpi_capture");
  const fs::path ids = write_ids(dir);
  for (int ranks : {0, 2, 3}) {
    const auto r = run(ranks, fmt::format("capture {} --ids-file {} --hooks '*' --out {}", q(golden_model("qwen2")),
                                          q(ids), q(dir / fmt::format("{}.safetensors", ranks))));
    ASSERT_EQ(r.status, 0) << r.output;
  }
  const std::string one = read_file(dir / "0.safetensors");
  EXPECT_GT(one.size(), 1000u);
  EXPECT_EQ(one, read_file(dir / "2.safetensors"));
  EXPECT_EQ(one, read_file(dir / "3.safetensors"));
}

// Three golden models, the middle one a corrupted copy.
std::string sweep_models(const fs::path& dir) {
  const fs::path bad = test::copy_model(golden_model("gpt2"), "sweep_bad_gpt2");
  {
    std::string bytes = read_file(bad / "model.safetensors");
    bytes.replace(8, 12, "xxxxxxxxxxxx");  // the header's JSON
    write_file_atomic(bad / "model.safetensors", bytes);
  }
  (void)dir;
  return q(golden_model("llama")) + " " + q(bad) + " " + q(golden_model("qwen2"));
}

std::vector<std::string> statuses(const fs::path& sweep_json) {
  std::vector<std::string> out;
  const nlohmann::json doc = nlohmann::json::parse(read_file(sweep_json));
  for (const auto& t : doc["tasks"]) out.push_back(t["status"]);
  return out;
}

void check_sweep(int ranks, const std::string& tag) {
  const fs::path dir = test::scratch_dir("sweep_" + tag);
  const fs::path ids = write_ids(dir);
  const std::string args = fmt::format("sweep gains {} --out {} --ids-file {} --no-figures --no-weights",
                                       sweep_models(dir), q(dir / "out"), q(ids));
  auto r = run(ranks, args);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("1 of 3 tasks failed: sweep_bad_gpt2"), std::string::npos) << r.output;
  EXPECT_TRUE(fs::exists(dir / "out/llama/gains.json"));
  EXPECT_TRUE(fs::exists(dir / "out/qwen2/gains.json"));
  EXPECT_FALSE(fs::exists(dir / "out/sweep_bad_gpt2"));
  EXPECT_TRUE(fs::exists(dir / "out/compare/compare.json"));
  EXPECT_EQ(statuses(dir / "out/sweep.json"), (std::vector<std::string>{"done", "failed", "done"}));
  // Each task's result is the experiment's own: the same as running it alone.
  const auto alone = run(0, fmt::format("gains {} --ids-file {} --out {} --no-figures --no-weights",
                                        q(golden_model("qwen2")), q(ids), q(dir / "alone")));
  ASSERT_EQ(alone.status, 0) << alone.output;
  EXPECT_EQ(without_provenance(dir / "alone/gains.json"), without_provenance(dir / "out/qwen2/gains.json"));
  // A rerun skips what is complete.
  r = run(ranks, args);
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_EQ(statuses(dir / "out/sweep.json"), (std::vector<std::string>{"skipped", "failed", "skipped"}));
}

TEST(SweepCli, FinishesTheTasksThatWorkReportsTheOtherAndResumes) { check_sweep(0, "solo"); }

TEST_F(MpiCli, SweepOverTwoRanks) { check_sweep(2, "mpi"); }

// Two revisions of one hub model (a fake HuggingFace cache: refs/step1, refs/step2
// name snapshots of two golden Llama models): the training table and heat map.
TEST(SweepCli, RevisionsOfOneModelGiveTheGainsOverTraining) {
  const fs::path dir = test::scratch_dir("sweep_training");
  const fs::path repo = dir / "hub/models--Test--tiny";
  const std::pair<const char*, const char*> revs[] = {{"step1", "llama"}, {"step2", "llama_rope_linear"}};
  for (size_t i = 0; i < 2; ++i) {
    const std::string commit(40, "ab"[i]);
    fs::create_directories(repo / "snapshots" / commit);
    fs::copy(golden_model(revs[i].second), repo / "snapshots" / commit, fs::copy_options::recursive);
    fs::create_directories(repo / "refs");
    write_file_atomic(repo / "refs" / revs[i].first, commit);
  }
  const fs::path ids = write_ids(dir);
  const auto r = test::run_command(fmt::format(
      "HF_HUB_CACHE={} HF_HUB_OFFLINE=1 OMP_NUM_THREADS=1 {} sweep gains Test/tiny --revisions step1,step2 --out {} "
      "--ids-file {} --no-weights",
      q(dir / "hub"), q(test::cli_path()), q(dir / "out"), q(ids)));
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_TRUE(fs::exists(dir / "out/tiny@step1/gains.json"));
  EXPECT_TRUE(fs::exists(dir / "out/tiny@step2/gains.json"));
  const std::string csv = read_file(dir / "out/training.csv");
  EXPECT_EQ(csv.substr(0, csv.find('\n')), "model,revision,checkpoint,layer,attention_gain,mlp_gain,combined_gain");
  const int layers = nlohmann::json::parse(read_file(golden_model("llama") / "config.json"))["num_hidden_layers"];
  EXPECT_EQ(std::count(csv.begin(), csv.end(), '\n'), 1 + 2 * layers);
  EXPECT_NE(csv.find("Test/tiny,step2,1,0,"), std::string::npos) << csv;
  EXPECT_GT(fs::file_size(dir / "out/training.svg"), 1000u);
  EXPECT_NE(read_file(dir / "out/training.svg").find("step2"), std::string::npos);
}

// --- the layer pipeline ---

// The golden README's three sequences (the fingerprints' input) as an ids file.
fs::path write_golden_ids(const fs::path& dir) {
  std::string text;
  for (const auto& s : test::golden_readme_sequences()) text += nlohmann::json(s).dump() + "\n";
  write_file_atomic(dir / "golden_ids.jsonl", text);
  return dir / "golden_ids.jsonl";
}

// Capture with 2 and 3 stages (and 2 replicas of 2 stages) writes the file one
// process writes, byte for byte: every tensor is the golden-checked one
// (tests/fingerprints.json pins the single process's bytes on these inputs).
TEST_F(MpiCli, PipelineCaptureWritesTheSameFileAsOneProcess) {
  const fs::path dir = test::scratch_dir("mpi_pipeline_capture");
  const fs::path ids = write_golden_ids(dir);
  for (const char* model : {"llama", "gpt2", "gemma2", "qwen2_moe"}) {
    const auto file = [&](const std::string& tag) { return dir / fmt::format("{}_{}.safetensors", model, tag); };
    const std::string args = fmt::format("capture {} --ids-file {} --hooks '*' --out ", q(golden_model(model)), q(ids));
    auto r = run(0, args + q(file("one")));
    ASSERT_EQ(r.status, 0) << r.output;
    const std::string one = read_file(file("one"));
    for (const auto& [ranks, option] :
         std::vector<std::pair<int, std::string>>{{2, "--pipeline"}, {3, "--pipeline"}, {4, "--pipeline-stages 2"}}) {
      const std::string tag = fmt::format("{}{}", ranks, option.size() > 10 ? "x2" : "");
      r = run(ranks, args + q(file(tag)) + " " + option);
      ASSERT_EQ(r.status, 0) << r.output;
      EXPECT_EQ(one, read_file(file(tag))) << model << " on " << ranks << " ranks, " << option;
    }
  }
}

TEST_F(MpiCli, PipelineGainsResidualAndAlignEqualOneProcess) {
  const fs::path dir = test::scratch_dir("mpi_pipeline_experiments");
  const std::string ids = "--ids-file " + q(write_ids(dir));
  const std::string model = q(golden_model("neox_parallel"));
  struct Experiment {
    std::string name, input, json;
  };
  const std::vector<Experiment> experiments = {{"gains", ids, "gains.json"},
                                               {"residual", ids, "residual.json"},
                                               {"align", "--perms 50 --pairs " + q(write_pairs(dir)), "align.json"}};
  const std::vector<std::pair<int, std::string>> layouts = {
      {0, ""}, {2, "--pipeline"}, {3, "--pipeline"}, {4, "--pipeline-stages 2"}};
  for (const auto& e : experiments) {
    std::vector<fs::path> outs;
    for (const auto& [ranks, option] : layouts) {
      const fs::path out = dir / fmt::format("{}_{}_{}", e.name, ranks, option.size());
      // (no weight-norm cache: every layout computes its own)
      const auto r =
          run(ranks, fmt::format("{} {} {} --out {} --no-figures {}", e.name, model, e.input, q(out), option),
              "STREAMGAUGE_WEIGHT_CACHE=off");
      ASSERT_EQ(r.status, 0) << r.output;
      if (ranks > 0) {
        EXPECT_NE(r.output.find("pipeline stage 2/"), std::string::npos) << r.output;
      }
      outs.push_back(out);
    }
    for (size_t i = 1; i < outs.size(); ++i) {
      EXPECT_EQ(without_provenance(outs[0] / e.json), without_provenance(outs[i] / e.json)) << outs[i];
      EXPECT_EQ(read_file(outs[0] / "layers.csv"), read_file(outs[i] / "layers.csv")) << outs[i];
    }
    EXPECT_EQ(nlohmann::json::parse(read_file(outs[1] / e.json))["provenance"]["pipeline_stages"], 2);
  }
}

// A model large enough to see it: each of two stages holds about half the
// weight files in memory (the line each rank prints says how much).
TEST_F(MpiCli, EachPipelineStageHoldsOnlyItsOwnLayers) {
  const fs::path dir = test::scratch_dir("mpi_pipeline_memory");
  SyntheticSpec spec;
  spec.n_layers = 8;
  spec.d_model = 256;
  spec.d_mlp = 1024;
  write_synthetic_model(dir / "model", spec);
  const fs::path ids = write_ids(dir);
  const auto r = run(2, fmt::format("gains {} --ids-file {} --out {} --no-figures --pipeline", q(dir / "model"), q(ids),
                                    q(dir / "out")));
  ASSERT_EQ(r.status, 0) << r.output;
  for (const char* stage : {"pipeline stage 1/2", "pipeline stage 2/2"}) {
    const size_t at = r.output.find(stage);
    ASSERT_NE(at, std::string::npos) << r.output;
    double resident = 0, file = 0;
    const std::string line = r.output.substr(at, r.output.find('\n', at) - at);
    ASSERT_EQ(std::sscanf(line.substr(line.find(", ", line.find("layers")) + 2).c_str(),
                          "%lf MB of the %lf MB weight files resident", &resident, &file),
              2)
        << line;
    EXPECT_GT(file, 20.0) << line;
    EXPECT_LT(resident, 0.6 * file) << line;  // half the layers, plus an embedding or head
    EXPECT_GT(resident, 0.3 * file) << line;
  }
}

// A failure on one rank only (stage 2 holds a layer whose weights overflow the
// residual stream) ends the job: one line naming that rank and the cause, exit 2,
// no output.
TEST_F(MpiCli, AFailureOnOneRankEndsTheJobNamingTheRank) {
  const fs::path dir = test::scratch_dir("mpi_pipeline_failure");
  SyntheticSpec spec;
  write_synthetic_model(dir / "model", spec);
  {  // layer 3's attention output projection: every weight infinite
    std::string bytes = read_file(dir / "model/model.safetensors");
    uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    const auto header = nlohmann::json::parse(bytes.substr(8, n));
    const auto range = header.at("gpt_neox.layers.3.attention.dense.weight").at("data_offsets");
    const float huge = std::numeric_limits<float>::infinity();
    for (uint64_t at = 8 + n + range[0].get<uint64_t>(); at < 8 + n + range[1].get<uint64_t>(); at += 4)
      std::memcpy(bytes.data() + at, &huge, 4);
    write_file_atomic(dir / "model/model.safetensors", bytes);
  }
  const fs::path ids = write_ids(dir);
  const auto r = run(2, fmt::format("gains {} --ids-file {} --out {} --no-figures --pipeline", q(dir / "model"), q(ids),
                                    q(dir / "out")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("streamgauge: error: layer 3: non-finite activations"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("(MPI rank 1 of 2)"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("MPI rank 0 of 2"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(MpiCli, PipelineStagesMustDivideTheRanks) {
  const fs::path dir = test::scratch_dir("mpi_pipeline_usage");
  const fs::path ids = write_ids(dir);
  auto r = run(3, fmt::format("gains {} --ids-file {} --out {} --pipeline-stages 2", q(golden_model("llama")), q(ids),
                              q(dir / "out")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--pipeline-stages: 2 stages need a multiple of 2 MPI ranks"), std::string::npos) << r.output;
  r = run(0, fmt::format("gains {} --ids-file {} --out {} --pipeline-stages 2", q(golden_model("llama")), q(ids),
                         q(dir / "out")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("(launch with mpirun or srun)"), std::string::npos) << r.output;
  EXPECT_FALSE(fs::exists(dir / "out"));
}

TEST_F(MpiCli, AnErrorOnEveryRankIsOneLineAndExitTwo) {
  const fs::path dir = test::scratch_dir("mpi_error");
  const auto r = run(2, fmt::format("gains {} --ids-file {} --out {}", q(golden_model("llama")),
                                    q(dir / "missing.jsonl"), q(dir / "out")));
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("streamgauge: error: --ids-file"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("rank 1 of 2"), std::string::npos) << r.output;  // reported once, by rank 0
  EXPECT_FALSE(fs::exists(dir / "out"));
}

}  // namespace
}  // namespace sg
