// The padding-free batch: a sequence's results do not depend on which other
// sequences share the batch, nor on its place in it, nor on the thread count.
#include <fmt/format.h>
#include <gtest/gtest.h>
#include <omp.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <map>
#include <set>
#include <tuple>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "io/safetensors.h"
#include "model/synthetic.h"
#include "support/test_support.h"
#include "util/atomic_file.h"

namespace sg {
namespace {

CaptureStore run_all(Engine& engine, const std::vector<std::vector<int32_t>>& seqs) {
  CaptureStore store({"*"});
  Observer* obs[] = {&store};
  engine.run(Batch::of(seqs), obs);
  return store;
}

class BatchIndependence : public ::testing::TestWithParam<std::string> {};

TEST_P(BatchIndependence, SequenceResultsDoNotDependOnTheirNeighbours) {
  auto model = Model::load(test::shared_dir() / "golden/models" / GetParam());
  Engine engine(*model);
  const std::vector<int32_t> target{17, 5, 99, 3, 42, 8, 150, 23, 77, 1, 64};
  const auto alone = run_all(engine, {target});
  const auto crowd = run_all(engine, {{1, 2, 3},
                                      {200, 100, 50, 25, 12, 6, 3, 1, 0, 4, 9, 16, 25, 36, 49},
                                      target,
                                      {7},
                                      {8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24}});
  int compared = 0;
  for (const auto& [name, t] : alone.tensors()) {
    const auto* other = crowd.find("seq2" + name.substr(name.find('.')));
    ASSERT_NE(other, nullptr) << name;
    ASSERT_EQ(t.shape, other->shape) << name;
    // Bit-identical: every row is computed by the same instructions in the same order.
    EXPECT_EQ(t.data, other->data) << name;
    ++compared;
  }
  EXPECT_GT(compared, 20);
}

INSTANTIATE_TEST_SUITE_P(Architectures, BatchIndependence,
                         ::testing::Values("neox_parallel", "gptj", "qwen2", "llama", "gpt2"));

// ---------------------------------------------------------------------------
// Wide models, long batches, several thread counts: every capture tensor of a
// target sequence must be bit-identical to the target's own run, alone in its
// batch, on one thread. Targets of every length 1..17 sit first, in the middle
// and last of batches of up to 1089 tokens among other sequences of lengths 1
// to 200; the models are 512 wide (real matrix-product shapes, not the golden
// models' 64) in both weight orientations: GPT-2's Conv1D [in, out] (F32) and
// Llama's nn.Linear [out, in] (BF16, grouped-query attention).
// tests/engine/CMakeLists.txt runs these once more with the matrix products
// capped at AVX2 (ctest "avx2.*"): results must not depend on the CPU either.

// Restores the OpenMP thread count on scope exit.
class Threads {
 public:
  explicit Threads(int n) : saved_(omp_get_max_threads()) { omp_set_num_threads(n); }
  ~Threads() { omp_set_num_threads(saved_); }
  Threads(const Threads&) = delete;
  Threads& operator=(const Threads&) = delete;

 private:
  int saved_;
};

RandomModelSpec wide_spec(const std::string& name) {
  RandomModelSpec s;
  s.n_layers = 2;
  s.d_model = 512;
  s.n_heads = 8;
  s.n_kv_heads = 8;
  s.head_dim = 64;
  s.d_mlp = 1024;
  s.vocab_size = 509;  // not a multiple of 16
  s.max_positions = 512;
  if (name == "gpt2_f32") {
    s.model_type = "gpt2";
    s.seed = 512001;
  } else if (name == "llama_bf16") {
    s.model_type = "llama";
    s.n_kv_heads = 2;
    s.dtype = DType::BF16;
    s.seed = 512002;
  } else {
    ADD_FAILURE() << "no wide model " << name;
  }
  return s;
}

// Targets: one sequence of each length 1..17, fixed random tokens.
std::vector<std::vector<int32_t>> targets(int vocab) {
  test::Rng r(1717);
  std::vector<std::vector<int32_t>> out;
  for (int len = 1; len <= 17; ++len) out.push_back(r.tokens(len, vocab));
  return out;
}

// A batch: target t (index into targets()) or, for t < 0, a filler of -t tokens.
struct Layout {
  const char* name;
  std::vector<int> items;
};
const Layout kLayouts[] = {
    // Each target alone (only run with 2 and 3 threads: 1 thread is the reference).
    {"alone", {}},
    // 246 tokens: target of length 5 first, 8 last, 1, 17, 12, 9 in between.
    {"mixed", {4, -40, 0, 16, -3, 11, -150, 8, -1, 7}},
    // 1089 tokens: lengths 1..17 ascending (1 first, 17 last), fillers between.
    {"long_ascending", {0,    -130, 1,   -7, 2,   -64, 3,   -1, 4,  -99, 5,   -33, 6,   -16, 7,    -2, 8,
                        -120, 9,    -48, 10, -15, 11,  -77, 12, -3, 13,  -90, 14,  -31, 15,  -200, 16}},
    // 1089 tokens: lengths 17..1 descending (17 first, 1 last), other fillers.
    {"long_descending", {16,   -5, 15,  -180, 14, -40, 13,   -12, 12,  -1, 11, -95, 10,   -66, 9,   -3, 8,
                         -128, 7,  -21, 6,    -9, 5,   -150, 4,   -60, 3,  -2, 2,   -110, 1,   -54, 0}},
};

using WideCase = std::tuple<std::string, int, int>;  // model, layout index, threads

class WideBatch : public ::testing::TestWithParam<WideCase> {};

// The model of this name, written once per test program.
const std::filesystem::path& wide_model_dir(const std::string& name) {
  static std::map<std::string, std::filesystem::path> dirs;
  auto it = dirs.find(name);
  if (it == dirs.end()) {
    const auto dir = test::scratch_dir("wide_" + name);
    write_random_model(dir, wide_spec(name));
    it = dirs.emplace(name, dir).first;
  }
  return it->second;
}

CaptureStore capture_all(Engine& engine, const std::vector<std::vector<int32_t>>& seqs, int threads) {
  Threads t(threads);
  return run_all(engine, seqs);
}

TEST_P(WideBatch, TargetsAreBitIdenticalToTheirSoloRun) {
  const auto& [model_name, layout_index, threads] = GetParam();
  const Layout& layout = kLayouts[layout_index];
  auto model = Model::load(wide_model_dir(model_name));
  const ArchSpec& a = model->arch();
  ASSERT_EQ(a.d_model, 512);
  Engine engine(*model);
  const auto tgt = targets(a.vocab_size);

  // Each target alone, one thread: the reference.
  std::vector<CaptureStore> solo;
  for (const auto& t : tgt) solo.push_back(capture_all(engine, {t}, 1));

  // The batches to check: seqs, and which of them is which target.
  struct Run {
    std::vector<std::vector<int32_t>> seqs;
    std::vector<std::pair<size_t, int>> targets;  // (sequence index, target index)
  };
  std::vector<Run> runs;
  if (layout.items.empty()) {
    for (int t = 0; t < static_cast<int>(tgt.size()); ++t) runs.push_back({{tgt[t]}, {{0, t}}});
  } else {
    test::Rng r(4242 + static_cast<uint64_t>(layout_index));
    Run run;
    for (int item : layout.items) {
      if (item >= 0) run.targets.push_back({run.seqs.size(), item});
      run.seqs.push_back(item >= 0 ? tgt[item] : r.tokens(-item, a.vocab_size));
    }
    runs.push_back(run);
  }

  const auto points = capture_points(a);
  int compared = 0;
  for (const Run& run : runs) {
    const CaptureStore batch = capture_all(engine, run.seqs, threads);
    const Batch b = Batch::of(run.seqs);
    for (auto [seq, t] : run.targets) {
      // Every capture point in forward order; the first that differs says where
      // the dependence on the batch or the threads enters.
      int differ = 0, n = 0;
      std::string first;
      for (const PointId& p : points) {
        const StoredTensor* want = solo[t].find("seq0." + p.name());
        const StoredTensor* got = batch.find("seq" + std::to_string(seq) + "." + p.name());
        ASSERT_NE(want, nullptr) << p.name();
        ASSERT_NE(got, nullptr) << p.name();
        ASSERT_EQ(want->shape, got->shape) << p.name();
        ++n;
        if (std::memcmp(want->data.data(), got->data.data(), want->data.size() * sizeof(float)) == 0) continue;
        if (differ++ == 0) {
          size_t count = 0;
          double max_diff = 0;
          for (size_t i = 0; i < want->data.size(); ++i) {
            count += std::memcmp(&want->data[i], &got->data[i], sizeof(float)) != 0;
            max_diff = std::max(max_diff, std::fabs(double(want->data[i]) - got->data[i]));
          }
          first = fmt::format("{} ({} of {} values, max |diff| {:.3g})", p.name(), count, want->data.size(), max_diff);
        }
      }
      EXPECT_EQ(differ, 0) << model_name << ", " << layout.name << " batch (" << b.n_tokens() << " tokens, "
                           << run.seqs.size() << " sequences), " << threads << " thread(s): the target of length "
                           << tgt[t].size() << " (sequence " << seq << ", rows " << b.begin(seq) << ".."
                           << b.begin(seq) + b.length(seq) - 1 << ") differs from its solo run in " << differ << " of "
                           << n << " tensors; the first in forward order: " << first;
      compared += n;
    }
  }
  EXPECT_GT(compared, 0);
}

std::vector<WideCase> wide_cases() {
  std::vector<WideCase> out;
  for (const char* model : {"gpt2_f32", "llama_bf16"})
    for (int layout = 0; layout < static_cast<int>(std::size(kLayouts)); ++layout)
      for (int threads : {1, 2, 3})
        if (!(layout == 0 && threads == 1)) out.push_back({model, layout, threads});
  return out;
}

INSTANTIATE_TEST_SUITE_P(Width512, WideBatch, ::testing::ValuesIn(wide_cases()), [](const auto& info) {
  return fmt::format("{}_{}_{}threads", std::get<0>(info.param), kLayouts[std::get<1>(info.param)].name,
                     std::get<2>(info.param));
});

// The layouts are what they claim: up to 1089 tokens, every target length
// first, in the middle and last somewhere.
TEST(WideBatch, LayoutsPlaceTargetsFirstMiddleAndLast) {
  const auto tgt = targets(509);
  int longest = 0;
  std::set<int> first, last, middle;
  for (const Layout& l : kLayouts) {
    if (l.items.empty()) continue;
    int n = 0;
    for (size_t i = 0; i < l.items.size(); ++i) {
      const int item = l.items[i];
      n += item >= 0 ? static_cast<int>(tgt[item].size()) : -item;
      if (item < 0) continue;
      (i == 0 ? first : i + 1 == l.items.size() ? last : middle).insert(item);
    }
    longest = std::max(longest, n);
  }
  EXPECT_EQ(longest, 1089);
  EXPECT_EQ(middle.size(), 17u);  // every length somewhere in the middle
  EXPECT_EQ(first, (std::set<int>{0, 4, 16}));
  EXPECT_EQ(last, (std::set<int>{0, 7, 16}));
}

TEST(Generate, Stories260kMatchesTheIndependentImplementation) {
  const auto dir = test::shared_dir() / "models/stories260k";
  auto model = Model::load(dir);
  Engine engine(*model);
  const auto ref = nlohmann::json::parse(read_file(dir / "reference_generations.json"));
  int n = 0;
  for (const auto& g : ref["generations"]) {
    const auto prompt = g["prompt_ids"].get<std::vector<int32_t>>();
    const auto expected = g["generated_ids"].get<std::vector<int32_t>>();
    const bool by_bos = g["terminated_by_bos"].get<bool>();
    // run.c stops (without printing) when the model emits BOS = 1.
    auto out = engine.generate(prompt, static_cast<int>(expected.size()) + (by_bos ? 1 : 0), {1}).tokens;
    if (by_bos) {
      ASSERT_FALSE(out.empty());
      EXPECT_EQ(out.back(), 1);
      out.pop_back();
    }
    EXPECT_EQ(out, expected) << "prompt \"" << g["prompt"].get<std::string>() << "\"";
    ++n;
  }
  EXPECT_EQ(n, 4);
}

}  // namespace
}  // namespace sg

namespace sg {
namespace {

// --fast: BF16 products with float32 accumulation. Activations are rounded to
// BF16 (8 significant bits), so the result is close to, not equal to, the
// reference: this checks the path reads the weights right, not its precision.
TEST(FastPath, Bf16ProductsStayCloseToTheReference) {
  const auto shared = test::shared_dir();
  auto model = Model::load(shared / "golden/models/neox_parallel_bf16");
  SafetensorsFile golden(shared / "golden/expected/neox_parallel_bf16/golden.safetensors");
  Engine engine(*model, MatmulPrecision::BF16);
  CaptureStore store({"blocks.*.hook_attn_out", "blocks.*.hook_mlp_out", "logits"});
  Observer* obs[] = {&store};
  const std::vector<int32_t> seq{229, 29, 129, 164, 169, 254, 126};
  engine.run(Batch::of(std::vector<std::vector<int32_t>>{seq}), obs);
  for (auto [g, c] :
       std::vector<std::pair<std::string, std::string>>{{"seq1.layer0.attn_out", "seq0.blocks.0.hook_attn_out"},
                                                        {"seq1.layer3.mlp_out", "seq0.blocks.3.hook_mlp_out"},
                                                        {"seq1.logits", "seq0.logits"}}) {
    const TensorView* gt = golden.find(g);
    ASSERT_NE(gt, nullptr);
    std::vector<float> want(gt->numel());
    to_f32(gt->dtype, gt->data, want.data(), want.size());
    const auto& got = store.find(c)->data;
    ASSERT_EQ(got.size(), want.size());
    double max_w = 0, max_d = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      max_w = std::max(max_w, std::fabs(double(want[i])));
      max_d = std::max(max_d, std::fabs(double(got[i]) - want[i]));
    }
    EXPECT_LT(max_d, 2e-2 * max_w) << c;
    EXPECT_GT(max_d, 0.0) << c << ": the BF16 path is not in use";
  }
}

}  // namespace
}  // namespace sg
