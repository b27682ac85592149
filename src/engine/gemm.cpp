#include "engine/gemm.h"

#include <algorithm>
#include <oneapi/dnnl/dnnl.hpp>

#include "util/error.h"

namespace sg {

struct Gemm::Impl {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  // Primitives keyed by shape and strides; a forward uses a handful.
  // M, N, K, lda, ldc, w_nk, bias, bf16, activation (-1 none), mul, C in bf16
  using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, bool, bool, bool, int, bool, bool>;
  std::map<Key, std::pair<dnnl::matmul::primitive_desc, dnnl::matmul>> cache;
};

Gemm::Gemm() : impl_(std::make_unique<Impl>()) {}
Gemm::~Gemm() = default;

void Gemm::run(int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* W, bool w_nk,
               const float* bias, float* C, int64_t ldc, const Epilogue& epilogue) {
  run_typed(false, M, N, K, A, lda, W, w_nk, bias, C, false, ldc, epilogue);
}

void Gemm::run_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const void* W, bool w_nk,
                    const float* bias, float* C, int64_t ldc, const Epilogue& epilogue) {
  run_typed(true, M, N, K, A, lda, W, w_nk, bias, C, false, ldc, epilogue);
}

void Gemm::run_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* A, int64_t lda, const void* W, bool w_nk,
                    const float* bias, uint16_t* C, int64_t ldc, const Epilogue& epilogue) {
  run_typed(true, M, N, K, A, lda, W, w_nk, bias, C, true, ldc, epilogue);
}

namespace {
dnnl::algorithm eltwise_of(Activation a) {
  switch (a) {
    case Activation::GeluErf: return dnnl::algorithm::eltwise_gelu_erf;
    case Activation::GeluTanh: return dnnl::algorithm::eltwise_gelu_tanh;
    case Activation::Silu: return dnnl::algorithm::eltwise_swish;  // x sigmoid(alpha x), alpha = 1
    case Activation::Relu: return dnnl::algorithm::eltwise_relu;
  }
  fail("internal: unknown activation");
}
}  // namespace

void Gemm::run_typed(bool bf16, int64_t M, int64_t N, int64_t K, const void* A, int64_t lda, const void* W,
                     bool w_nk, const float* bias, void* C, bool c_bf16, int64_t ldc, const Epilogue& epilogue) {
  using dt = dnnl::memory::data_type;
  using md = dnnl::memory::desc;
  if (M == 0 || N == 0) return;
  // A small cache bound: shapes vary with the batch (generation grows M by one per step).
  if (impl_->cache.size() > 512) impl_->cache.clear();
  const int act = epilogue.act ? static_cast<int>(*epilogue.act) : -1;
  const Impl::Key key{M, N, K, lda, ldc, w_nk, bias != nullptr, bf16, act, epilogue.mul != nullptr, c_bf16};
  const md c_md({M, N}, c_bf16 ? dt::bf16 : dt::f32, {ldc, 1});
  const md mul_md({M, N}, dt::f32, {ldc, 1});  // the epilogue's multiplier: float32, C's shape and stride
  auto it = impl_->cache.find(key);
  if (it == impl_->cache.end()) {
    const dt in = bf16 ? dt::bf16 : dt::f32;
    const md a_md({M, K}, in, {lda, 1});
    const md w_md({K, N}, in, w_nk ? dnnl::memory::dims{1, K} : dnnl::memory::dims{N, 1});
    dnnl::post_ops ops;
    if (epilogue.act) ops.append_eltwise(1.0f, eltwise_of(*epilogue.act), *epilogue.act == Activation::Silu ? 1.0f : 0.0f, 0.0f);
    if (epilogue.mul) ops.append_binary(dnnl::algorithm::binary_mul, mul_md);
    dnnl::primitive_attr attr;
    attr.set_post_ops(ops);
    dnnl::matmul::primitive_desc pd;
    if (bias) {
      const md b_md({1, N}, dt::f32, {N, 1});
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, w_md, b_md, c_md), attr, impl_->engine);
    } else {
      pd = dnnl::matmul::primitive_desc(dnnl::matmul::desc(a_md, w_md, c_md), attr, impl_->engine);
    }
    it = impl_->cache.emplace(key, std::make_pair(pd, dnnl::matmul(pd))).first;
  }
  auto& [pd, prim] = it->second;
  auto& eng = impl_->engine;
  dnnl::memory a(pd.src_desc(), eng, const_cast<void*>(A));
  dnnl::memory w(pd.weights_desc(), eng, const_cast<void*>(W));
  dnnl::memory c(pd.dst_desc(), eng, C);
  std::unordered_map<int, dnnl::memory> args{{DNNL_ARG_SRC, a}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_DST, c}};
  if (bias) args.emplace(DNNL_ARG_BIAS, dnnl::memory(pd.bias_desc(), eng, const_cast<float*>(bias)));
  if (epilogue.mul) {
    const int index = epilogue.act ? 1 : 0;  // position of the binary post-op
    args.emplace(DNNL_ARG_ATTR_MULTIPLE_POST_OP(index) | DNNL_ARG_SRC_1,
                 dnnl::memory(mul_md, eng, const_cast<float*>(epilogue.mul)));
  }
  prim.execute(impl_->stream, args);
  impl_->stream.wait();
}

LinearRunner::LinearRunner(const Model& model, MatmulPrecision precision, int64_t scratch_floats)
    : model_(model), precision_(precision), scratch_floats_(scratch_floats) {}

bool LinearRunner::bf16_products(const Linear& L) const {
  return precision_ == MatmulPrecision::BF16 && L.weight->dtype == DType::BF16 &&
         reinterpret_cast<uintptr_t>(L.weight->data) % alignof(uint16_t) == 0;
}

const uint16_t* LinearRunner::rounded_to_bf16(const float* x, int64_t M, int64_t ldx, int64_t n) {
  x_bf16_.resize(static_cast<size_t>(M * n));
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < M; ++r)
    for (int64_t i = 0; i < n; ++i) x_bf16_[r * n + i] = f32_to_bf16(x[r * ldx + i]);
  return x_bf16_.data();
}

void LinearRunner::mlp(const Linear& up, const Linear* gate, Activation act, const Linear& down, const float* x,
                       int64_t M, float* y) {
  const int64_t m = up.out;
  if (!(bf16_products(up) && (!gate || bf16_products(*gate)) && bf16_products(down))) {
    hidden_.resize(static_cast<size_t>(M * m));
    if (gate) {
      up_.resize(hidden_.size());
      apply(up, x, M, up_.data());
      apply(*gate, x, M, hidden_.data(), {act, up_.data()});
    } else {
      apply(up, x, M, hidden_.data(), {act, nullptr});
    }
    apply(down, hidden_.data(), M, y);
    return;
  }
  const uint16_t* xb = rounded_to_bf16(x, M, up.in, up.in);
  hidden_bf16_.resize(static_cast<size_t>(M * m));
  if (gate) {
    up_.resize(static_cast<size_t>(M * m));
    gemm_.run_bf16(M, m, up.in, xb, up.in, up.weight->data, !up.in_out, model_.vec(up.bias), up_.data(), m);
    gemm_.run_bf16(M, m, gate->in, xb, gate->in, gate->weight->data, !gate->in_out, model_.vec(gate->bias),
                   hidden_bf16_.data(), m, {act, up_.data()});
  } else {
    gemm_.run_bf16(M, m, up.in, xb, up.in, up.weight->data, !up.in_out, model_.vec(up.bias), hidden_bf16_.data(), m,
                   {act, nullptr});
  }
  gemm_.run_bf16(M, down.out, m, hidden_bf16_.data(), m, down.weight->data, !down.in_out, model_.vec(down.bias), y,
                 down.out);
}

void LinearRunner::apply(const Linear& L, const float* x, int64_t M, int64_t ldx, float* y, int64_t ldy,
                         const Epilogue& epilogue) {
  const TensorView& W = *L.weight;
  const float* bias = model_.vec(L.bias);
  if (bf16_products(L)) {
    // Weights straight from the mapping; activations rounded to BF16 (nearest even).
    gemm_.run_bf16(M, L.out, L.in, rounded_to_bf16(x, M, ldx, L.in), L.in, W.data, !L.in_out, bias, y, ldy, epilogue);
    return;
  }
  if (W.dtype == DType::F32 && reinterpret_cast<uintptr_t>(W.data) % alignof(float) == 0) {
    gemm_.run(M, L.out, L.in, x, ldx, reinterpret_cast<const float*>(W.data), !L.in_out, bias, y, ldy, epilogue);
    return;
  }
  // Widen slices of output features [c0, c1) and multiply each into its columns.
  const int64_t chunk = std::clamp<int64_t>(scratch_floats_ / L.in, 1, L.out);
  scratch_.resize(static_cast<size_t>(chunk * L.in));
  const size_t esize = dtype_size(W.dtype);
  for (int64_t c0 = 0; c0 < L.out; c0 += chunk) {
    const int64_t n = std::min(chunk, L.out - c0);
    if (!L.in_out) {  // rows c0..c0+n of [out, in] are contiguous
      to_f32(W.dtype, W.data + c0 * L.in * esize, scratch_.data(), n * L.in);
    } else {  // columns c0..c0+n of [in, out]: one run per input row
      for (int64_t k = 0; k < L.in; ++k)
        to_f32(W.dtype, W.data + (k * L.out + c0) * esize, scratch_.data() + k * n, n);
    }
    const Epilogue part{epilogue.act, epilogue.mul ? epilogue.mul + c0 : nullptr};  // mul shares y's layout
    gemm_.run(M, n, L.in, x, ldx, scratch_.data(), !L.in_out, bias ? bias + c0 : nullptr, y + c0, ldy, part);
  }
}

}  // namespace sg
