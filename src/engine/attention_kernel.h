#pragma once
// The attention kernel, the vecmath spans it calls (softmax, soft-cap,
// entropy) and the MLP activations' spans, written once and compiled once per
// instruction set: kernels.cpp (AVX2 + FMA, every x86-64-v3 CPU) and
// kernels_avx512.cpp. The two give the same bits (each element sees the same
// operations; vecmath.h says why for its functions). Included by those two
// files only; kernels.cpp calls this set's copies through `table` (the end).
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "engine/kernels.h"
#include "engine/vecmath.h"
#include "util/error.h"

namespace sg::kernels::detail {

// The kernels of one instruction set's build of this file (`table`, at the end).
struct Table {
  void (*activate)(Activation, float*, int64_t);
  void (*gated_activate)(Activation, float*, const float*, int64_t);
  void (*attention)(const Batch&, Heads, Heads, Heads, int, int, int, const Rotary&, const ScoreRule&, float*, float*,
                    int64_t, double*);
};
// The AVX-512 build's (kernels_avx512.cpp).
const Table& avx512_table();

inline namespace SG_VEC_ISA {

// The largest of n >= 1 values. A maximum is exact, so its value does not
// depend on the vector width or the order (a +0 or -0 maximum gives the same
// exp(s - max); a row holding a NaN gives NaN probabilities either way).
inline float max_of(const float* s, int64_t n) {
#if defined(__AVX512F__)
  constexpr int64_t kW = 16;
  using R = __m512;
  auto ld = [](const float* p) { return _mm512_loadu_ps(p); };
  auto mx = [](R a, R b) { return _mm512_maskz_max_ps(0xffff, a, b); };  // (GCC 12 warns on the unmasked form)
#else
  constexpr int64_t kW = 8;
  using R = __m256;
  auto ld = [](const float* p) { return _mm256_loadu_ps(p); };
  auto mx = [](R a, R b) { return _mm256_max_ps(a, b); };
#endif
  float m = s[0];
  int64_t j = 0;
  if (n >= 4 * kW) {  // four registers of running maxima (the maxps latency)
    R a0 = ld(s), a1 = ld(s + kW), a2 = ld(s + 2 * kW), a3 = ld(s + 3 * kW);
    for (j = 4 * kW; j + 4 * kW <= n; j += 4 * kW) {
      a0 = mx(a0, ld(s + j));
      a1 = mx(a1, ld(s + j + kW));
      a2 = mx(a2, ld(s + j + 2 * kW));
      a3 = mx(a3, ld(s + j + 3 * kW));
    }
    const R top = mx(mx(a0, a1), mx(a2, a3));
    float lanes[kW];
    std::memcpy(lanes, &top, sizeof lanes);
    for (const float v : lanes) m = std::max(m, v);
  }
  for (; j < n; ++j) m = std::max(m, s[j]);
  return m;
}

// softmax of n values in place: exp(s_j - max) and their sums in double in one
// pass (in the fixed order of vec::fixed_sum), then each times 1/sum. Returns the
// entropy of the probabilities, in nats: the one definition of the attention
// entropy (per query row; gains averages it over heads) whose minimum seed 000
// §7 compares as L_star_entropy (the seed names the layer, not a formula: this is
// Shannon's, -sum_j p_j ln p_j). With x_j = s_j - max, e_j = exp(x_j), S = sum_j
// e_j and p_j = e_j / S: ln p_j = x_j - ln S, so the entropy is
// ln S - (1/S) sum_j e_j x_j, two non-negative terms (x_j <= 0, S >= 1): no
// cancellation, and one log per row instead of one per probability.
inline double softmax_span(float* s, int64_t n) {
  const float mx = max_of(s, n);
  const auto [sum, weighted] = vec::fixed_sums<2>(n, [s, mx](int64_t j, int k) SG_VEC_LAMBDA {
    const vec::F16 x = vec::load_first(s + j, k) - mx;
    const vec::F16 e = vec::exp(x);
    vec::store_first(s + j, e, k);
    const vec::D16 ed = vec::widen(e);
    // e_j x_j, and 0 where e_j underflowed to 0 (x_j may be -inf there).
    return std::array<vec::D16, 2>{ed, vec::select(vec::widen(vec::positive_mask(e)), ed * vec::widen(x), vec::D16{})};
  });
  const float inv = static_cast<float>(1.0 / sum);
  for (int64_t j = 0; j < n; ++j) s[j] *= inv;
  return vec::scalar([](const vec::D16& y) SG_VEC_LAMBDA { return vec::log(y); }, sum) - weighted / sum;
}

// f(g), g the vecmath function of the activation act (one lambda per activation).
template <class F>
inline void with_activation(Activation act, F&& f) {
  switch (act) {
    case Activation::GeluErf: return f([](const vec::F16& v) SG_VEC_LAMBDA { return vec::gelu_erf(v); });
    case Activation::GeluTanh: return f([](const vec::F16& v) SG_VEC_LAMBDA { return vec::gelu_tanh(v); });
    case Activation::Silu: return f([](const vec::F16& v) SG_VEC_LAMBDA { return vec::silu(v); });
    case Activation::Relu: return f([](const vec::F16& v) SG_VEC_LAMBDA { return vec::relu(v); });
  }
}

// kernels::activate_span.
inline void activate_of(Activation act, float* x, int64_t n) {
  with_activation(act, [&](auto g) SG_VEC_LAMBDA { vec::map_span(x, n, g); });
}

// kernels::gated_activate_span.
inline void gated_activate_of(Activation act, float* gate, const float* up, int64_t n) {
  with_activation(act, [&](auto g) SG_VEC_LAMBDA { vec::gated_map_span(gate, up, n, g); });
}

// kernels::softcap_span.
inline void softcap_of(float* x, int64_t n, float cap) {
  const vec::F16 c = vec::splat(cap);
  vec::map_span(x, n, [c](const vec::F16& v) SG_VEC_LAMBDA { return vec::tanh(v / c) * c; });
}

// The arithmetic runs on registers of float lanes (GCC/Clang vector extension):
// eight on AVX2, sixteen on AVX-512. A block of eight queries keeps one row of
// kVecs registers of accumulators per query: one register on AVX2 (eight
// accumulators: the sixteen AVX2 registers hold no more), two on AVX-512
// (sixteen, so each broadcast value feeds two FMAs). Every product is one FMA
// into its accumulator, the same operations per element whatever the width:
// the same bits.
constexpr int kLanes = 16;  // floats per 64-byte line
#if defined(__AVX512F__)
constexpr int kHalf = 16, kVecs = 2;
using Half = float __attribute__((vector_size(64)));
inline Half splat(float a) { return reinterpret_cast<Half>(_mm512_set1_ps(a)); }
inline Half fmadd(const Half& a, const Half& b, const Half& c) {
  return reinterpret_cast<Half>(
      _mm512_fmadd_ps(reinterpret_cast<__m512>(a), reinterpret_cast<__m512>(b), reinterpret_cast<__m512>(c)));
}
#else
constexpr int kHalf = 8, kVecs = 1;
using Half = float __attribute__((vector_size(32)));
inline Half splat(float a) { return reinterpret_cast<Half>(_mm256_set1_ps(a)); }
inline Half fmadd(const Half& a, const Half& b, const Half& c) {
  return reinterpret_cast<Half>(
      _mm256_fmadd_ps(reinterpret_cast<__m256>(a), reinterpret_cast<__m256>(b), reinterpret_cast<__m256>(c)));
}
#endif
constexpr int kKeys = kHalf * kVecs;  // keys per pass of the score loop (8 or 32)
constexpr int kStride = 32;           // score rows and transposed keys: T rounded up to this
constexpr int kQueryBlock = 8;        // queries whose products share each key/value load

// Unaligned loads and stores; by reference, so no vector crosses a call ABI.
inline void load(Half& v, const float* p) { std::memcpy(&v, p, sizeof v); }
inline void store(float* p, const Half& v) { std::memcpy(p, &v, sizeof v); }

// Per-thread scratch of attention: one head's queries, keys and values copied out
// of the projection rows, the keys transposed, one block's scores.
struct AttentionScratch {
  std::vector<float> rows;    // [3][T][hd]: q_i, k_j and v_j of the head, contiguous
  std::vector<float> keys_t;  // [hd][stride]: keys_t[e * stride + j] = k_j[e]
  std::vector<float> scores;  // [kQueryBlock][stride]
  int64_t stride = 0;         // T rounded up to kStride
};

// Where one (sequence, head) job's vectors are: the keys and values of
// positions 0..T-1 at rows kv_base + j, the queries of positions past..T-1 at
// rows q_base + i - past (their outputs at the same rows of z). past > 0: a
// continuation of `past` cached positions.
struct JobRows {
  int64_t q_base, kv_base, past, T;
};

// One (sequence, head) job, query head h, kv head kvh. Every score q_i . k_j
// and every output sum_j p_ij v_j is accumulated in a fixed order (e, then j
// ascending), so results never depend on the batch, on how queries are blocked,
// or on whether earlier positions come from a cache. Query i sees keys
// first_key(i) <= j <= i.
inline void attention_head(const Heads& q, const Heads& k, const Heads& v, const JobRows& rows, int h, int kvh, int hd,
                           const Rotary& rotary, const ScoreRule& rule, float* z, int64_t z_stride, float* pat,
                           double* ent, int64_t ent_stride, AttentionScratch& w) {
  const int64_t T = rows.T, past = rows.past;  // queries are positions past..T-1
  const float scale = static_cast<float>(rule.scale);
  const int64_t W = rule.window > 0 ? rule.window : T;  // a window of T or more sees every key
  auto first_key = [W](int64_t i) { return std::max<int64_t>(0, i - W + 1); };
  w.stride = (T + kStride - 1) / kStride * kStride;
  w.keys_t.assign(static_cast<size_t>(hd * w.stride), 0.0f);
  w.scores.resize(static_cast<size_t>(kQueryBlock * w.stride));
  // A head's vectors are short runs one projection row apart; that row stride is
  // often a multiple of 4 KiB (3072 floats, say), which puts them all in the same
  // few L1 sets, where reading them column-wise evicts them before their reuse.
  // Each is copied once, whole, into contiguous scratch (queries and keys rotated
  // there), and used from there.
  w.rows.resize(static_cast<size_t>(3 * T * hd));
  float* qs = w.rows.data();
  float* ks = qs + T * hd;
  float* vs = ks + T * hd;
  constexpr int64_t kAhead = 8;  // rows requested ahead: hardware prefetchers miss this pattern
  auto query = [&](int64_t i) { return q.at(rows.q_base + i - past, h); };
  auto prefetch_row = [&](int64_t j) {
    for (int e = 0; e < hd; e += kLanes) {  // sixteen floats: one 64-byte line
      if (j >= past) __builtin_prefetch(query(j) + e);
      __builtin_prefetch(k.at(rows.kv_base + j, kvh) + e);
      __builtin_prefetch(v.at(rows.kv_base + j, kvh) + e);
    }
  };
  for (int64_t j = 0; j < std::min(kAhead, T); ++j) prefetch_row(j);
  for (int64_t j = 0; j < T; ++j) {
    if (j + kAhead < T) prefetch_row(j + kAhead);
    if (j >= past) {
      std::memcpy(qs + j * hd, query(j), sizeof(float) * hd);
      rotary.apply(qs + j * hd, j);
    }
    std::memcpy(ks + j * hd, k.at(rows.kv_base + j, kvh), sizeof(float) * hd);
    std::memcpy(vs + j * hd, v.at(rows.kv_base + j, kvh), sizeof(float) * hd);
    rotary.apply(ks + j * hd, j);
  }
  auto zrow = [&](int64_t i) { return z + (rows.q_base + i - past) * z_stride; };
  for (int e = 0; e < hd; ++e)  // e outer: contiguous stores (scattered ones stall the loads)
    for (int64_t j = 0; j < T; ++j) w.keys_t[e * w.stride + j] = ks[j * hd + e];
  const int full = hd / kLanes * kLanes;  // dims done in whole lanes; the rest one by one

  for (int64_t i0 = past; i0 < T; i0 += kQueryBlock) {
    const int nb = static_cast<int>(std::min<int64_t>(kQueryBlock, T - i0));
    const int64_t n_keys = i0 + nb;    // causal: the block's last query sees keys up to i0+nb-1
    const int64_t lo = first_key(i0);  // ... and its first query none before this one
    const float* qr[kQueryBlock];
    for (int r = 0; r < kQueryBlock; ++r) qr[r] = qs + (i0 + std::min(r, nb - 1)) * hd;  // spare rows repeat

    // Scores, kKeys keys per pass: s[r][j] = sum_e q_r[e] k_j[e]; blocks of keys
    // no query of the block sees are skipped.
    for (int64_t j0 = lo / kKeys * kKeys; j0 < n_keys; j0 += kKeys) {
      Half acc[kQueryBlock][kVecs] = {};
      for (int e = 0; e < hd; ++e) {
        Half kt[kVecs];
        for (int u = 0; u < kVecs; ++u) load(kt[u], w.keys_t.data() + e * w.stride + j0 + u * kHalf);
        for (int r = 0; r < kQueryBlock; ++r) {
          const Half qe = splat(qr[r][e]);
          for (int u = 0; u < kVecs; ++u) acc[r][u] = fmadd(qe, kt[u], acc[r][u]);
        }
      }
      for (int r = 0; r < nb; ++r)
        for (int u = 0; u < kVecs; ++u) {
          const Half scaled = acc[r][u] * scale;
          store(w.scores.data() + r * w.stride + j0 + u * kHalf, scaled);
        }
    }
    // Softmax of each row over its keys first..i (soft-capped first if the
    // layer caps); probabilities outside are zero.
    for (int r = 0; r < nb; ++r) {
      const int64_t i = i0 + r, first = first_key(i), n = i + 1 - first;
      float* row = w.scores.data() + r * w.stride;
      float* s = row + first;
      if (rule.softcap > 0) softcap_of(s, n, static_cast<float>(rule.softcap));
      const double entropy = softmax_span(s, n);
      std::fill(row, s, 0.0f);
      std::fill(s + n, row + w.stride, 0.0f);
      if (pat) std::copy(row, row + T, pat + (i - past) * T);
      if (ent) ent[(rows.q_base + i - past) * ent_stride] = entropy;
    }
    // Outputs, kVecs registers of dims at a time: z_r = sum_{first(i) <= j <= i} p[r][j] v_j,
    // j ascending. Row r sees key j iff j - W < i0 + r and i0 + r >= j: keys in
    // [i0 + nb - W, i0) are seen by every row of the block (the common case, with
    // no per-row bounds); the others by rows [max(0, j - i0), min(nb, j - i0 + W)).
    auto p = [&](int r, int64_t j) { return w.scores[r * w.stride + j]; };
    const int64_t shared_begin = std::max<int64_t>(lo, i0 + nb - W);
    auto rows_seeing = [&](int64_t j) {
      return std::pair<int, int>(static_cast<int>(std::max<int64_t>(0, j - i0)),
                                 static_cast<int>(std::min<int64_t>(nb, j - i0 + W)));
    };
    // kV registers of dims from e0 (kV = kVecs while they fit, then one). The
    // rows are indexed by constants only (the loops over r unroll), so the
    // accumulators stay in registers; keys go in three runs, in ascending order:
    // before the shared ones (a window's edge), the shared ones, the block's own.
    auto outputs = [&]<int kV>(int e0) {
      Half acc[kQueryBlock][kV] = {};
      const float* prow[kQueryBlock];  // spare rows repeat the last
      for (int r = 0; r < kQueryBlock; ++r) prow[r] = w.scores.data() + std::min(r, nb - 1) * w.stride;
      auto key = [&](int64_t j, std::pair<int, int> seen) __attribute__((always_inline)) {
        const auto [r0, r1] = seen;
        Half vj[kV];
        for (int u = 0; u < kV; ++u) load(vj[u], (vs + j * hd) + e0 + u * kHalf);
#pragma GCC unroll 8
        for (int r = 0; r < kQueryBlock; ++r)
          if (r >= r0 && r < r1) {
            const Half pj = splat(prow[r][j]);
            for (int u = 0; u < kV; ++u) acc[r][u] = fmadd(pj, vj[u], acc[r][u]);
          }
      };
      for (int64_t j = lo; j < std::min(shared_begin, i0); ++j) key(j, rows_seeing(j));
      for (int64_t j = shared_begin; j < i0; ++j) key(j, {0, kQueryBlock});
      for (int64_t j = i0; j < n_keys; ++j) key(j, rows_seeing(j));
      for (int r = 0; r < nb; ++r)
        for (int u = 0; u < kV; ++u) store(zrow(i0 + r) + e0 + u * kHalf, acc[r][u]);
    };
    int e0 = 0;
    for (; e0 + kVecs * kHalf <= full; e0 += kVecs * kHalf) outputs.template operator()<kVecs>(e0);
    for (; e0 < full; e0 += kHalf) outputs.template operator()<1>(e0);
    for (int r = 0; r < nb; ++r)
      for (int e = full; e < hd; ++e) {
        float acc = 0;
        for (int64_t j = first_key(i0 + r); j <= i0 + r; ++j) acc = std::fma(p(r, j), (vs + j * hd)[e], acc);
        zrow(i0 + r)[e] = acc;
      }
  }
}

// kernels::attention (kernels.h), on this file's instruction set.
inline void attention_all(const Batch& batch, Heads q, Heads k, Heads v, int H, int KV, int hd, const Rotary& rotary,
                          const ScoreRule& rule, float* z, float* patterns, int64_t past, double* entropies) {
  const int group = H / KV;
  const int64_t n_seq = static_cast<int64_t>(batch.n_sequences());
  if (past > 0 && (n_seq != 1 || patterns)) fail("internal: attention over cached positions takes one sequence");
  const std::vector<int64_t> poff = patterns ? pattern_offsets(batch, H) : std::vector<int64_t>{};

#pragma omp parallel
  {
    AttentionScratch scratch;
#pragma omp for schedule(dynamic)
    for (int64_t job = 0; job < n_seq * H; ++job) {
      const int64_t s = job / H;
      const int h = static_cast<int>(job % H);
      const int64_t T = batch.length(s);
      const JobRows rows = past > 0 ? JobRows{0, 0, past, past + T} : JobRows{batch.begin(s), batch.begin(s), 0, T};
      attention_head(q, k, v, rows, h, h / group, hd, rotary.for_length(rows.T), rule, z + int64_t{h} * hd,
                     int64_t{H} * hd, patterns ? patterns + poff[s] + h * T * T : nullptr,
                     entropies ? entropies + h : nullptr, H, scratch);
    }
  }
}

// This instruction set's kernels, for kernels.cpp's run-time choice.
inline constexpr Table table{&activate_of, &gated_activate_of, &attention_all};

}  // namespace SG_VEC_ISA
}  // namespace sg::kernels::detail
