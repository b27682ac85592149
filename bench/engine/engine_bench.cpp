// Forward-pass throughput against the machine's own GEMM rate, measured in the
// same run (the machines are shared and noisy: compare the ratios).
//
// Workload (issue 2): 8 sequences of lengths 16,15,13,17,14,19,14,20 (128
// tokens) through Pythia-410M- and Pythia-1.4B-shaped models with random
// weights, F32 and BF16, all layers, no LM head. The models are generated once
// into $STREAMGAUGE_BENCH_DIR (default ./bench-models) and memory-mapped.
//
// "-fast" runs the BF16 matrix products of `gains --fast`, against the BF16 GEMM rate.
//
//   build/bench/engine_bench --benchmark_min_time=2
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include "engine/engine.h"
#include "engine/gemm.h"
#include "model/synthetic.h"

namespace {

const std::vector<int> kLengths{16, 15, 13, 17, 14, 19, 14, 20};

std::filesystem::path bench_dir() {
  const char* env = std::getenv("STREAMGAUGE_BENCH_DIR");
  return env ? env : "bench-models";
}

struct Shape {
  const char* name;
  sg::SyntheticSpec spec;
};
const Shape kShapes[] = {{"pythia-410m", sg::SyntheticSpec::pythia_410m()},
                         {"pythia-1.4b", sg::SyntheticSpec::pythia_1_4b()}};

std::filesystem::path model_dir(const Shape& shape, sg::DType dtype) {
  auto dir = bench_dir() / (std::string(shape.name) + "-" + std::string(sg::dtype_name(dtype)));
  if (!std::filesystem::exists(dir / "model.safetensors")) {
    auto spec = shape.spec;
    spec.dtype = dtype;
    sg::write_synthetic_model(dir, spec);
  }
  return dir;
}

sg::Batch workload(int vocab) {
  sg::Batch b;
  uint32_t x = 12345;
  for (int len : kLengths) {
    std::vector<int32_t> s(len);
    for (auto& t : s) t = static_cast<int32_t>((x = x * 1664525u + 1013904223u) >> 8) % vocab;
    b.add(s);
  }
  return b;
}

// Matrix-product and attention FLOPs of the forward without the LM head.
double forward_flops(const sg::ArchSpec& a, const sg::Batch& b) {
  const double N = static_cast<double>(b.n_tokens()), d = a.d_model, m = a.d_mlp;
  double attn = 0;
  for (size_t s = 0; s < b.n_sequences(); ++s) {
    const double T = static_cast<double>(b.length(s));
    attn += 2.0 * 2.0 * T * (T + 1) / 2 * d;  // q.k and p.v over the causal triangle
  }
  return a.n_layers * (2.0 * N * (3 * d * d + d * d + 2 * d * m) + attn);
}

// Observes the final norm: forces every layer to run, like an experiment would.
class Sink : public sg::Observer {
 public:
  bool wants(const sg::PointId& p) override { return p.point == sg::Point::LnFinalOut; }
};

std::map<std::string, double> gemm_rate;       // GFLOP/s per shape, measured by BM_Gemm in this run
std::map<std::string, double> gemm_bf16_rate;  // the same for BM_GemmBf16

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// The machine's single-GEMM rate at the forward's shape: [128, d] x [d, 4d] in float32.
void BM_Gemm(benchmark::State& state, const Shape* shape) {
  const int64_t M = 128, K = shape->spec.d_model, N = shape->spec.d_mlp;
  std::vector<float> A(M * K, 0.5f), W(N * K, 0.25f), C(M * N);
  sg::Gemm gemm;
  gemm.run(M, N, K, A.data(), K, W.data(), true, nullptr, C.data(), N);  // warm-up, primitive creation
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    gemm.run(M, N, K, A.data(), K, W.data(), true, nullptr, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  const double gflops = 2e-9 * M * N * K * state.iterations() / seconds_since(t0);
  gemm_rate[shape->name] = gflops;
  state.counters["GFLOP/s"] = gflops;
}

// The same product with BF16 inputs and float32 accumulation (the --fast path).
void BM_GemmBf16(benchmark::State& state, const Shape* shape) {
  const int64_t M = 128, K = shape->spec.d_model, N = shape->spec.d_mlp;
  std::vector<uint16_t> A(M * K, sg::f32_to_bf16(0.5f)), W(N * K, sg::f32_to_bf16(0.25f));
  std::vector<float> C(M * N);
  sg::Gemm gemm;
  gemm.run_bf16(M, N, K, A.data(), K, W.data(), true, nullptr, C.data(), N);
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    gemm.run_bf16(M, N, K, A.data(), K, W.data(), true, nullptr, C.data(), N);
    benchmark::DoNotOptimize(C.data());
  }
  const double gflops = 2e-9 * M * N * K * state.iterations() / seconds_since(t0);
  gemm_bf16_rate[shape->name] = gflops;
  state.counters["GFLOP/s"] = gflops;
}

void BM_Forward(benchmark::State& state, const Shape* shape, sg::DType dtype, bool fast) {
  auto model = sg::Model::load(model_dir(*shape, dtype));
  sg::Engine engine(*model, fast ? sg::MatmulPrecision::BF16 : sg::MatmulPrecision::F32);
  const sg::Batch batch = workload(model->arch().vocab_size);
  Sink sink;
  sg::Observer* obs[] = {&sink};
  engine.run(batch, obs);  // warm-up: pages the weights in, creates the primitives
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) engine.run(batch, obs);
  const double secs = seconds_since(t0) / state.iterations();
  const double gflops = forward_flops(model->arch(), batch) * 1e-9 / secs;
  state.counters["tokens/s"] = batch.n_tokens() / secs;
  state.counters["GFLOP/s"] = gflops;
  // The floor: these FLOPs at the GEMM rate measured in this run (BF16 rate for --fast).
  const double rate = (fast ? gemm_bf16_rate : gemm_rate)[shape->name];
  if (rate > 0) {
    state.counters["vs_GEMM"] = gflops / rate;
    state.counters["floor_s"] = forward_flops(model->arch(), batch) * 1e-9 / rate;
  }
}

}  // namespace

int main(int argc, char** argv) {
  for (const Shape& shape : kShapes) {
    benchmark::RegisterBenchmark((std::string("gemm/") + shape.name).c_str(), BM_Gemm, &shape)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    benchmark::RegisterBenchmark((std::string("gemm_bf16/") + shape.name).c_str(), BM_GemmBf16, &shape)
        ->Unit(benchmark::kMillisecond)
        ->UseRealTime();
    for (auto [dt, fast] : {std::pair{sg::DType::F32, false}, {sg::DType::BF16, false}, {sg::DType::BF16, true}})
      benchmark::RegisterBenchmark((std::string("forward/") + shape.name + "/" + std::string(sg::dtype_name(dt)) +
                                    (fast ? "-fast" : ""))
                                       .c_str(),
                                   BM_Forward, &shape, dt, fast)
          ->Unit(benchmark::kMillisecond)
          ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
