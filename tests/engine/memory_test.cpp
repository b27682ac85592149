// 16-bit weights stay 16-bit: a loaded and run BF16 model costs about its file
// size in resident memory, not the twice that a float32 copy would take.
#include <gtest/gtest.h>

#include <omp.h>
#include <unistd.h>

#include <cmath>
#include <fstream>

#include "engine/engine.h"
#include "measure/run_prompts.h"
#include "measure/sublayer_stats.h"
#include "model/synthetic.h"
#include "support/test_support.h"

namespace sg {
namespace {

size_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  size_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
}

class Sink : public Observer {
 public:
  bool wants(const PointId& p) override { return p.point == Point::LnFinalOut; }
};

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

TEST(Memory, Bf16ModelCostsAboutItsFileSize) {
  if (kSanitized) GTEST_SKIP() << "AddressSanitizer's shadow memory and redzones distort resident memory";
  const auto dir = test::scratch_dir("bf16_memory");
  SyntheticSpec spec{6, 768, 12, 3072, 16384, 2048, 0.25, true, DType::BF16, 7};
  write_synthetic_model(dir, spec);
  const double file = static_cast<double>(std::filesystem::file_size(dir / "model.safetensors"));
  const size_t before = resident_bytes();
  {
    auto model = Model::load(dir);
    Engine engine(*model);
    Sink sink;
    Observer* obs[] = {&sink};
    std::vector<int32_t> seq(64);
    for (size_t i = 0; i < seq.size(); ++i) seq[i] = static_cast<int32_t>(i * 37 % spec.vocab_size);
    engine.run(Batch::of(std::vector<std::vector<int32_t>>{seq}), obs);
    const double grown = static_cast<double>(resident_bytes()) - static_cast<double>(before);
    RecordProperty("file_bytes", std::to_string(file));
    RecordProperty("resident_growth_bytes", std::to_string(grown));
    // The bound, term by term: the mapped file (touched by the forward); the
    // widened weights the kernels hold at once (per thread: one block of 12
    // weight rows, or one 32-column panel, of the widest input: 3072 floats);
    // the activations of 64 tokens (under 16 buffers as wide as the MLP); and a
    // fixed allowance for code pages, thread stacks and the allocator. A float32
    // copy of the model would be 3x the file. (The sum stays under the 1.15x of the file
    // this test allowed before the kernels were our own.)
    const double widened = 2.0 * 32 * 3072 * 4 * omp_get_max_threads();
    const double activations = 16.0 * 64 * 3072 * 4;
    const double allowance = 4.0 * 1024 * 1024;  // measured growth: file + 4.7 MB in all
    EXPECT_LT(grown, file + widened + activations + allowance)
        << "file " << file / 1e6 << " MB, resident growth " << grown / 1e6 << " MB";
  }
}

// A long sequence through what `gains` runs (the sublayer statistics, attention
// entropy included) keeps its activations O(T x d): the entropies come from the
// attention kernel's rows, with no [heads, T, T] pattern buffer (which here
// would be 128 MiB, four times the bound's activation term).
TEST(Memory, LongSequenceGainsKeepsNoAttentionPatterns) {
  if (kSanitized) GTEST_SKIP() << "AddressSanitizer's shadow memory and redzones distort resident memory";
  const auto dir = test::scratch_dir("long_context_memory");
  RandomModelSpec spec;
  spec.model_type = "llama";
  spec.n_layers = 2;
  spec.d_model = 128;
  spec.n_heads = 8;
  spec.n_kv_heads = 2;
  spec.head_dim = 16;
  spec.d_mlp = 256;
  spec.vocab_size = 512;
  spec.max_positions = 4096;
  spec.biases = false;
  spec.seed = 18;
  write_random_model(dir, spec);
  const double file = static_cast<double>(std::filesystem::file_size(dir / "model.safetensors"));
  const int64_t T = 2048;
  std::vector<std::vector<int32_t>> seqs(1);
  for (int64_t i = 0; i < T; ++i) seqs[0].push_back(static_cast<int32_t>(i * 37 % spec.vocab_size));
  const size_t before = resident_bytes();
  {
    auto model = Model::load(dir);
    Engine engine(*model);
    SublayerStatsReducer reducer(spec.n_layers, true);
    Reducer* reducers[] = {&reducer};
    run_prompts(engine, seqs, reducers);
    const double grown = static_cast<double>(resident_bytes()) - static_cast<double>(before);
    RecordProperty("resident_growth_bytes", std::to_string(grown));
    const auto& last = reducer.stats().layers.at(1).at(T - 1);
    EXPECT_GT(last.attn_entropy, 0.0);
    EXPECT_LT(last.attn_entropy, std::log(static_cast<double>(T)));
    // The bound, term by term: the file; the activations (under 16 buffers of T
    // rows as wide as the MLP, the statistics' 11 doubles per token and layer
    // and the [T, heads] entropies in double); a fixed allowance for code pages,
    // thread stacks, attention's per-thread O(T x d_head) scratch and the allocator.
    const double activations =
        16.0 * T * spec.d_mlp * 4 + T * spec.n_layers * sizeof(SublayerTokenStats) + T * spec.n_heads * 8.0;
    const double allowance = 8.0 * 1024 * 1024;
    const double patterns = 4.0 * spec.n_heads * T * T;
    ASSERT_LT(file + activations + allowance, patterns / 2) << "the test would not catch a [heads, T, T] buffer";
    EXPECT_LT(grown, file + activations + allowance)
        << "file " << file / 1e6 << " MB, resident growth " << grown / 1e6 << " MB";
  }
}

}  // namespace
}  // namespace sg
