#include "engine/matmul.h"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <string_view>

#include "engine/matmul_kernels.h"
#include "util/error.h"

namespace sg::matmul {

namespace detail {
void f32_avx2(const Problem& p);
void bf16_avx2(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias, float* y,
               int64_t ldy);
#ifdef SG_HAVE_AVX512
void f32_avx512(const Problem& p);
void bf16_avx512(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
                 float* y, int64_t ldy);
void bf16_avx512bf16(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
                     float* y, int64_t ldy);
#endif
}  // namespace detail

const char* to_string(Isa isa) {
  switch (isa) {
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
    case Isa::Avx512Bf16: return "avx512_bf16";
  }
  return "?";
}

bool supported(Isa isa) {
  switch (isa) {
    case Isa::Avx2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    case Isa::Avx512:
    case Isa::Avx512Bf16:
#ifdef SG_HAVE_AVX512
      return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
             __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
             (isa == Isa::Avx512 || __builtin_cpu_supports("avx512bf16"));
#else
      return false;
#endif
  }
  return false;
}

namespace {
std::atomic<int> g_isa{-1};

Isa choose() {
  Isa best = Isa::Avx2;
  for (Isa i : {Isa::Avx512, Isa::Avx512Bf16})
    if (supported(i)) best = i;
  const char* env = std::getenv("SG_ISA");
  if (!env || !*env) return best;
  for (Isa i : {Isa::Avx2, Isa::Avx512, Isa::Avx512Bf16})
    if (std::string_view(env) == to_string(i)) {
      if (!supported(i))
        fail("SG_ISA={}: this CPU or build has no {} kernels (the widest here: {})", env, env, to_string(best));
      return i;
    }
  fail("SG_ISA={}: expected avx2, avx512 or avx512_bf16", env);
}
}  // namespace

Isa active_isa() {
  int v = g_isa.load(std::memory_order_relaxed);
  if (v < 0) {
    v = static_cast<int>(choose());
    g_isa.store(v, std::memory_order_relaxed);
  }
  return static_cast<Isa>(v);
}

void set_isa(Isa isa) {
  if (!supported(isa)) fail("internal: {} kernels are not available on this CPU or build", to_string(isa));
  g_isa.store(static_cast<int>(isa), std::memory_order_relaxed);
}

std::string describe(bool bf16) {
  const Isa isa = active_isa();
  std::string s = std::string(to_string(isa)) + " kernels, ";
  if (!bf16) return s + "float32 FMA chains (k ascending)";
  if (isa == Isa::Avx512Bf16) return s + "BF16 products on vdpbf16ps (native)";
  return s + "BF16 products emulated with float32 FMAs in vdpbf16ps's order (this CPU or build has no AVX512-BF16)";
}

namespace {
// Tokens per call of the blocked kernels. Each call keeps x's depth block (256
// depths x its tokens) in L2 while the weights stream past once; beyond about
// 512 tokens that block outgrows L2 and every weight block re-reads it from
// further out, so longer batches run in slices of this many tokens (the weights
// are then read once per slice). A row's outputs never depend on the slicing.
constexpr int64_t kTokenBlock = 512;

// kernel(m, x rows, y rows) over the batch's consecutive slices of kTokenBlock tokens.
template <class X, class Kernel>
void in_slices(int64_t M, const X* x, int64_t ldx, float* y, int64_t ldy, Kernel&& kernel) {
  for (int64_t m0 = 0; m0 < M; m0 += kTokenBlock) kernel(std::min(kTokenBlock, M - m0), x + m0 * ldx, y + m0 * ldy);
}

// Weights read in place as float must be aligned to a float.
void check_weights(Weights w) {
  const size_t align = w.dtype == DType::F32 ? alignof(float) : alignof(uint16_t);
  if (reinterpret_cast<uintptr_t>(w.data) % align != 0) fail("internal: misaligned weight tensor");
}
}  // namespace

void matmul_f32(int64_t M, int64_t N, int64_t K, const float* x, int64_t ldx, Weights w, const float* bias, float* y,
                int64_t ldy) {
  check_weights(w);
  void (*kernel)(const detail::Problem&) = detail::f32_avx2;
#ifdef SG_HAVE_AVX512
  if (active_isa() != Isa::Avx2) kernel = detail::f32_avx512;
#endif
  in_slices(M, x, ldx, y, ldy, [&](int64_t m, const float* xs, float* ys) {
    kernel({m, N, K, xs, ldx, w, bias, ys, ldy});
  });
}

void matmul_bf16(int64_t M, int64_t N, int64_t K, const uint16_t* x, int64_t ldx, Weights w, const float* bias,
                 float* y, int64_t ldy) {
  if (w.dtype != DType::BF16) fail("internal: matmul_bf16 needs BF16 weights");
  check_weights(w);
  auto kernel = detail::bf16_avx2;
#ifdef SG_HAVE_AVX512
  if (active_isa() == Isa::Avx512Bf16) kernel = detail::bf16_avx512bf16;
  if (active_isa() == Isa::Avx512) kernel = detail::bf16_avx512;
#endif
  in_slices(M, x, ldx, y, ldy,
            [&](int64_t m, const uint16_t* xs, float* ys) { kernel(m, N, K, xs, ldx, w, bias, ys, ldy); });
}

}  // namespace sg::matmul
