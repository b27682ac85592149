// Forward-pass throughput against the machine's own GEMM rate, measured in the
// same run (the machines are shared and noisy: compare the ratios).
//
// Workload (issue 2): 8 sequences of lengths 16,15,13,17,14,19,14,20 (128
// tokens) through Pythia-410M- and Pythia-1.4B-shaped models with random
// weights, F32 and BF16, all layers, no LM head. The models are generated once
// into $STREAMGAUGE_BENCH_DIR (default ./bench-models) and memory-mapped.
//
// "-fast" runs the BF16 matrix products of `gains --fast`, against the BF16 GEMM rate.
// The GEMM rates (gemm*/SHAPE/PRODUCT/{plain,packed}, oneDNN) are measured first,
// in the same run, then our kernels on the same products (ours*/SHAPE/PRODUCT,
// with vs_oneDNN), then the forwards.
//
//   build/bench/engine_bench --benchmark_min_time=2
//   SG_ISA=avx2 ONEDNN_MAX_CPU_ISA=AVX2 build/bench/engine_bench --benchmark_filter='gemm/|ours/'
//       (both libraries limited to AVX2: the AVX2 comparison on an AVX-512 machine)
//   SG_BENCH_M=512 build/bench/engine_bench --benchmark_filter='gemm/|ours/'
//       (the products at another batch: 512 tokens are the slices a long sequence runs in)
#include <benchmark/benchmark.h>

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <vector>

#include "engine/engine.h"
#include "engine/matmul.h"
#include "io/dtype.h"
#include "model/synthetic.h"

namespace {

const std::vector<int> kLengths{16, 15, 13, 17, 14, 19, 14, 20};

// The products' batch (tokens): 128, the forward's, unless SG_BENCH_M says otherwise.
int64_t product_rows() {
  const char* env = std::getenv("SG_BENCH_M");
  return env ? std::max(1L, std::atol(env)) : 128;
}

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

// GFLOP/s per shape name, of the best reference GEMM measured in this run (see BM_Gemm).
std::map<std::string, double> gemm_rate;       // float32
std::map<std::string, double> gemm_bf16_rate;  // BF16 inputs, float32 accumulation
// GFLOP/s of oneDNN per product ("pythia-410m/up"), plain and packed's best, for
// our kernels' ratio (BM_Ours).
std::map<std::string, double> onednn_rate, onednn_bf16_rate;
std::map<std::string, double> onednn_plain_last, onednn_packed_last;  // this product's dtype, last run

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// GFLOP/s of run(i), a product of shape [M, K] x [K, N] with the i-th of copies
// weight matrices, cycling through them (after one warm-up pass) while state runs.
template <class Run>
double streamed_rate(benchmark::State& state, int64_t M, int64_t N, int64_t K, int copies, Run run) {
  for (int i = 0; i < copies; ++i) run(i);
  int i = 0;
  const auto t0 = std::chrono::steady_clock::now();
  for (auto _ : state) {
    run(i);
    i = (i + 1) % copies;
    benchmark::ClobberMemory();
  }
  return 2e-9 * M * N * K * state.iterations() / seconds_since(t0);
}

// One of a forward's matrix products: y[M, N] = x[M, K] W^T, W stored [N, K], M = product_rows().
struct Product {
  const char* name;
  int64_t N, K;
};
std::vector<Product> products(const Shape& shape) {
  const int64_t d = shape.spec.d_model, m = shape.spec.d_mlp;
  return {{"qkv", 3 * d, d}, {"o", d, d}, {"up", m, d}, {"down", d, m}};
}

// The machine's GEMM rate for a product at M = product_rows(), measured as
// ../shared/PERFORMANCE.md defines its ceilings: weights streamed from memory as
// in a forward pass (the product cycles through distinct weight matrices, far
// more bytes than the last-level cache), in two layouts:
//   plain:  W as the checkpoint stores it, [out, in] (what the forward multiplies)
//   packed: W reordered once into oneDNN's preferred blocked layout (the best rate)
// The floor of a forward uses the better of the two at its largest product (up).
void BM_Gemm(benchmark::State& state, const Shape* shape, Product product, bool bf16, bool packed) {
  using dt = dnnl::memory::data_type;
  const int64_t M = product_rows(), K = product.K, N = product.N;
  const int copies = static_cast<int>(std::max<int64_t>(8, (int64_t{1} << 30) / (N * K * 4)));  // >= 1 GiB
  const dt type = bf16 ? dt::bf16 : dt::f32;
  const size_t esize = bf16 ? 2 : 4;
  dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  dnnl::stream stream(eng);
  const dnnl::memory::desc a_md({M, K}, type, {K, 1}), c_md({M, N}, dt::f32, {N, 1});
  const dnnl::memory::desc plain_md({K, N}, type, {1, K});
  const dnnl::memory::desc w_md = packed ? dnnl::memory::desc({K, N}, type, dnnl::memory::format_tag::any) : plain_md;
  const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(a_md, w_md, c_md), eng);
  const dnnl::matmul prim(pd);
  auto filled = [&](int64_t n, float value) {  // n values of the product's input type
    std::vector<uint8_t> v(n * esize);
    for (int64_t i = 0; i < n; ++i)
      if (bf16)
        reinterpret_cast<uint16_t*>(v.data())[i] = sg::f32_to_bf16(value);
      else
        reinterpret_cast<float*>(v.data())[i] = value;
    return v;
  };
  std::vector<uint8_t> A = filled(M * K, 0.5f), C(M * N * 4);
  std::vector<std::vector<uint8_t>> W(copies);
  for (auto& w : W) {
    std::vector<uint8_t> plain = filled(N * K, 0.25f);
    if (!packed) {
      w = std::move(plain);
      continue;
    }
    w.resize(pd.weights_desc().get_size());
    dnnl::memory from(plain_md, eng, plain.data()), to(pd.weights_desc(), eng, w.data());
    dnnl::reorder(from, to).execute(stream, from, to);
    stream.wait();
  }
  auto run = [&](int i) {
    dnnl::memory a(pd.src_desc(), eng, A.data()), w(pd.weights_desc(), eng, W[i].data()),
        c(pd.dst_desc(), eng, C.data());
    prim.execute(stream, {{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, c}});
    stream.wait();
  };
  const double gflops = streamed_rate(state, M, N, K, copies, run);
  // The rate of the run the benchmark reports (its last), the better layout's:
  // Google Benchmark's short calibration runs would flatter a plain maximum.
  const std::string key = std::string(shape->name) + "/" + product.name;
  (packed ? onednn_packed_last : onednn_plain_last)[key] = gflops;
  (bf16 ? onednn_bf16_rate : onednn_rate)[key] = std::max(onednn_plain_last[key], onednn_packed_last[key]);
  if (std::string(product.name) == "up") {
    double& floor_rate = (bf16 ? gemm_bf16_rate : gemm_rate)[shape->name];
    floor_rate = std::max(floor_rate, gflops);
  }
  state.counters["GFLOP/s"] = gflops;
}

// Our kernels (engine/matmul.h, the ISA chosen by SG_ISA or the best the CPU has)
// on the same products, weights streamed the same way from their stored layout;
// vs_oneDNN is the ratio to oneDNN's best rate for that product in this run.
void BM_Ours(benchmark::State& state, const Shape* shape, Product product, bool bf16) {
  const int64_t M = product_rows(), K = product.K, N = product.N;
  const int copies = static_cast<int>(std::max<int64_t>(8, (int64_t{1} << 30) / (N * K * 4)));
  std::vector<float> A(M * K, 0.5f), C(M * N);
  std::vector<uint16_t> Ab(M * K, sg::f32_to_bf16(0.5f));
  std::vector<std::vector<float>> W(bf16 ? 0 : copies, std::vector<float>(N * K, 0.25f));
  std::vector<std::vector<uint16_t>> Wb(bf16 ? copies : 0, std::vector<uint16_t>(N * K, sg::f32_to_bf16(0.25f)));
  auto run = [&](int i) {
    if (bf16)
      sg::matmul::matmul_bf16(M, N, K, Ab.data(), K, {Wb[i].data(), sg::DType::BF16, false}, nullptr, C.data(), N);
    else
      sg::matmul::matmul_f32(M, N, K, A.data(), K, {W[i].data(), sg::DType::F32, false}, nullptr, C.data(), N);
  };
  const double gflops = streamed_rate(state, M, N, K, copies, run);
  state.counters["GFLOP/s"] = gflops;
  const double ref = (bf16 ? onednn_bf16_rate : onednn_rate)[std::string(shape->name) + "/" + product.name];
  if (ref > 0) state.counters["vs_oneDNN"] = gflops / ref;
  state.SetLabel(sg::matmul::to_string(sg::matmul::active_isa()));
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
  // oneDNN 2.6 has BF16 products only from AVX-512 on (avx512_core).
  const bool bf16_gemm = sg::matmul::supported(sg::matmul::Isa::Avx512);
  for (const Shape& shape : kShapes) {
    for (const Product& product : products(shape))
      for (bool bf16 : {false, true}) {
        if (bf16 && !bf16_gemm) continue;
        const std::string suffix = std::string(shape.name) + "/" + product.name;
        for (bool packed : {false, true})
          benchmark::RegisterBenchmark(
              (std::string(bf16 ? "gemm_bf16/" : "gemm/") + suffix + (packed ? "/packed" : "/plain")).c_str(), BM_Gemm,
              &shape, product, bf16, packed)
              ->Unit(benchmark::kMillisecond)
              ->UseRealTime();
        benchmark::RegisterBenchmark((std::string(bf16 ? "ours_bf16/" : "ours/") + suffix).c_str(), BM_Ours, &shape,
                                     product, bf16)
            ->Unit(benchmark::kMillisecond)
            ->UseRealTime();
      }
    for (auto [dt, fast] : {std::pair{sg::DType::F32, false}, {sg::DType::BF16, false}, {sg::DType::BF16, true}})
      benchmark::RegisterBenchmark(
          (std::string("forward/") + shape.name + "/" + std::string(sg::dtype_name(dt)) + (fast ? "-fast" : ""))
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
