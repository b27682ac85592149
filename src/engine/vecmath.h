#pragma once
// Deterministic vector arithmetic for the kernels outside the matrix products:
// element-wise functions (exp, tanh, erf, sigmoid, log and the MLP activations)
// and fixed-order sums, written once on sixteen-lane GCC/Clang vector types.
//
// Why the bits are the same on every x86-64 CPU (AVX2 up to AVX-512):
//  * every function is a fixed sequence of lane-wise IEEE operations (+, -, *, /,
//    float <-> double conversions, each correctly rounded to nearest) and integer
//    bit manipulation (masks, selects, exponent bits). The compiler lowers a
//    sixteen-lane vector to whatever registers the target has (two 8-lane halves
//    on AVX2, one register on AVX-512); a lane's result does not depend on that
//    or on its neighbours. Nothing calls libm, whose code may differ per CPU.
//  * no FMA: the build compiles everything with -ffp-contract=off, so a * b + c
//    stays two roundings wherever it is written (do not include this header from
//    code compiled otherwise), and no std::fma is used here.
//  * round-to-nearest integers come from adding and subtracting 1.5 * 2^23; 2^n
//    is built in the exponent bits. MXCSR is assumed in its default state
//    (round to nearest, no flush-to-zero / denormals-are-zero).
//  * sums over a row (fixed_sum) use sixteen partial sums and one fixed tree,
//    whatever the vector width; see fixed_sum.
// A scalar is one lane of the same code (scalar()); spans (map_span) run a
// partial last vector through the same code, padded, so an element's result
// never depends on its position, the span's length or its alignment. (A NaN
// result is some NaN: which operand's NaN an x86 operation passes on depends on
// the operand order the compiler picks, so its sign and payload are not fixed.)
//
// Accuracy: each float function was checked against double-precision libm on
// every float; the worst error, in ulps of the float result, is in its comment
// (correct rounding would be 0.5). The parts that decide it are finished in
// double lanes and rounded once. tests/engine/vecmath_test.cpp keeps the bounds
// on sweeps of every binade. Polynomial coefficients are Chebyshev fits made
// with mpmath (chebyfit, 50 digits) of the function named in each comment, on
// the interval named there, then rounded to the working precision.
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>

// The functions are inline; a translation unit built for another instruction set
// (a run-time dispatched AVX-512 kernel, say) gets its own copies under another
// inline namespace, so the linker can never hand AVX-512 code to an AVX2 caller.
#if defined(__AVX512F__)
#define SG_VEC_ISA isa_avx512
#elif defined(__AVX2__)
#define SG_VEC_ISA isa_avx2
#elif defined(__AVX__)
#define SG_VEC_ISA isa_avx
#else
#define SG_VEC_ISA isa_sse
#endif
// Every function here is forced inline, and so must be the lambdas handed to
// map_span and fixed_sum (write them `[...](const F16& x) SG_VEC_LAMBDA {...}`):
// a sixteen-lane vector then never crosses a call. Vector parameters are taken
// by const reference: GCC prints a note about the by-value ABI of 64-byte
// vectors that no pragma silences.
#define SG_VEC_FN [[gnu::always_inline]] inline
#define SG_VEC_LAMBDA __attribute__((always_inline))
// GCC and Clang note at each by-value use of a 64-byte vector that its calling
// convention depends on AVX-512 (-Wpsabi). No such call exists (above), so the
// note is off from here to the end of the including translation unit (a
// push/pop would leave it on for the caller's lambdas).
#pragma GCC diagnostic ignored "-Wpsabi"

namespace sg::vec {
inline namespace SG_VEC_ISA {

inline constexpr int kLanes = 16;
using F16 = float __attribute__((vector_size(64)));
using I16 = std::int32_t __attribute__((vector_size(64)));
using U16 = std::uint32_t __attribute__((vector_size(64)));
using D16 = double __attribute__((vector_size(128)));
using L16 = std::int64_t __attribute__((vector_size(128)));
using UL16 = std::uint64_t __attribute__((vector_size(128)));

// ---- loads, stores, lanes -------------------------------------------------------

namespace detail {
// The same vector type at float alignment and allowed to alias floats: loads and
// stores at any address, straight into registers. (A typedef: Clang lowers the
// alignment of a typedef, not of a type named by `using`.)
typedef float F16u __attribute__((vector_size(64), aligned(4), may_alias));
}  // namespace detail

SG_VEC_FN F16 load(const float* p) { return *reinterpret_cast<const detail::F16u*>(p); }
SG_VEC_FN void store(float* p, const F16& v) { *reinterpret_cast<detail::F16u*>(p) = v; }
// The first k (1..16) floats at p, zeros in the other lanes.
SG_VEC_FN F16 load_first(const float* p, int k) {
  if (k == kLanes) return load(p);
  float buf[kLanes] = {};
  std::memcpy(buf, p, sizeof(float) * static_cast<unsigned>(k));
  return load(buf);
}
// Lanes 0..k-1 (k = 1..16) of v to p[0..k-1].
SG_VEC_FN void store_first(float* p, const F16& v, int k) {
  if (k == kLanes) return store(p, v);
  float buf[kLanes];
  store(buf, v);
  std::memcpy(p, buf, sizeof(float) * static_cast<unsigned>(k));
}

SG_VEC_FN F16 splat(float x) { return F16{} + x; }
SG_VEC_FN D16 splat(double x) { return D16{} + x; }
SG_VEC_FN D16 widen(const F16& v) { return __builtin_convertvector(v, D16); }
SG_VEC_FN F16 narrow(const D16& v) { return __builtin_convertvector(v, F16); }  // rounded to nearest

// Lane-wise m ? a : b, m from a comparison (all bits set or clear per lane).
SG_VEC_FN F16 select(const I16& m, const F16& a, const F16& b) { return (F16)((m & (I16)a) | (~m & (I16)b)); }
SG_VEC_FN D16 select(const L16& m, const D16& a, const D16& b) { return (D16)((m & (L16)a) | (~m & (L16)b)); }

SG_VEC_FN F16 abs(const F16& x) { return (F16)((U16)x & 0x7fffffffu); }
SG_VEC_FN D16 abs(const D16& x) { return (D16)((UL16)x & 0x7fffffffffffffffu); }
// |x| with the sign of s.
SG_VEC_FN F16 copysign(const F16& x, const F16& s) { return (F16)(((U16)x & 0x7fffffffu) | ((U16)s & 0x80000000u)); }

// ---- comparisons ---------------------------------------------------------------
// Masks: all bits set in the lanes where the condition holds. They come from
// integer arithmetic on the bits, not from vector comparisons: GCC turns a
// comparison of 64-byte vectors into scalar code when the target's registers are
// narrower (AVX2), but lowers these well. Each gives the IEEE comparison's answer
// (tests/engine/vecmath_test.cpp checks them on every kind of value); the bound c
// is a constant >= 0.

SG_VEC_FN I16 magnitude_bits(const F16& x) { return (I16)x & 0x7fffffff; }
// The sign bit (so -0 and negative NaNs included).
SG_VEC_FN I16 sign_mask(const F16& x) { return (I16)x >> 31; }
SG_VEC_FN I16 nan_mask(const F16& x) { return (0x7f800000 - magnitude_bits(x)) >> 31; }
// |x| < c (false for NaN): non-negative floats are ordered as their bits.
SG_VEC_FN I16 abs_less(const F16& x, float c) { return (magnitude_bits(x) - std::bit_cast<std::int32_t>(c)) >> 31; }
// |x| > c (false for NaN).
SG_VEC_FN I16 abs_greater(const F16& x, float c) {
  return ((std::bit_cast<std::int32_t>(c) - magnitude_bits(x)) >> 31) & ~nan_mask(x);
}
// x > 0 (false for +-0 and NaN).
SG_VEC_FN I16 positive_mask(const F16& x) { return ~sign_mask(x) & ((0 - magnitude_bits(x)) >> 31) & ~nan_mask(x); }
// A float lane mask as a double lane mask.
SG_VEC_FN L16 widen(const I16& m) { return __builtin_convertvector(m, L16); }

// All bits set in the lanes where v < 0, as 64-bit integers (arithmetic only).
SG_VEC_FN L16 negative_mask(const L16& v) { return L16{} - (L16)((UL16)v >> 63); }

// Small integers (|k| < 2^51) to double, exactly: k + 1.5 * 2^52 in the bits,
// minus 1.5 * 2^52 (no packed int64 conversion below AVX-512).
SG_VEC_FN D16 to_double(const L16& k) { return (D16)((UL16)k + 0x4338000000000000u) - 0x1.8p52; }

// ---- exp -------------------------------------------------------------------------

namespace detail {
// e^(hi + lo) in double lanes, before any rounding to float; lo is a correction
// of hi below about one of its ulps (an argument held to more than float
// precision), 0 for a plain exp. n = round(hi / ln 2); r1 = hi - n ln2_hi is
// exact (ln2_hi has 16 significant bits, |n| <= 159), r2 = lo - n ln2_lo is tiny;
// with r = r1 + r2, e^r = 1 + r1 + (r2 + r^2 q(r)), q a degree-5 fit of
// (e^r - 1 - r) / r^2 on [-0.35, 0.35]; the last parenthesis (below 0.07) in
// float, the sum and the scaling by 2^n in double. Relative error below 1.6e-8
// (2^-25.9, found over every 7th float), so one rounding to float gives exp
// within 0.65 ulp, subnormals and the overflow to inf included. Exactly 0 below
// -110 (e^-110 < 2^-158: 0 in float even after a product with any float < 2^8).
SG_VEC_FN D16 exp_hl(const F16& x_hi, const F16& lo) {
  const I16 under = sign_mask(x_hi) & abs_greater(x_hi, 110.0f);                   // x < -110: 0 in the end
  const I16 over = ~sign_mask(x_hi) & abs_greater(x_hi, 89.0f);                    // x > 89: inf in float
  const F16 hi = select(under, splat(-110.0f), select(over, splat(89.0f), x_hi));  // NaN stays
  const F16 shifter = splat(0x1.8p23f);
  const F16 t = hi * 0x1.715476p+0f + shifter;  // 1/ln2; the low mantissa bits of t hold n
  const F16 n = t - shifter;
  const F16 r1 = hi - n * 0x1.62e4p-1f;
  const F16 r2 = lo - n * 0x1.7f7d1cp-20f;
  const F16 r = r1 + r2;
  F16 q = splat(0.000198919704f);
  q = q * r + 0.00139345322f;
  q = q * r + 0.00833331048f;
  q = q * r + 0.0416664556f;
  q = q * r + 0.166666672f;
  q = q * r + 0.5f;
  const D16 p = (1.0 + widen(r1)) + widen(r2 + (r * r) * q);
  const L16 ni = __builtin_convertvector((I16)t - (I16)shifter, L16);  // n in [-159, 128]
  const D16 e = p * (D16)(((UL16)ni + 1023u) << 52);                   // times 2^n
  return select(widen(under), D16{}, e);
}

// e^-|v| for v = hi + lo, in double lanes.
SG_VEC_FN D16 exp_neg_abs(const F16& hi, const F16& lo) { return exp_hl(-abs(hi), select(sign_mask(hi), lo, -lo)); }
}  // namespace detail

// e^x: within 0.69 ulp; inf above 88.72, 0 below -103.98, exp(+-inf) = inf, 0.
SG_VEC_FN F16 exp(const F16& x) { return narrow(detail::exp_hl(x, F16{})); }

// ---- sigmoid, SiLU, tanh ---------------------------------------------------------

namespace detail {
// 1 / (1 + e^-v) for v = hi + lo, in double lanes (rounded once by the caller):
// e^-|v| / (1 + e^-|v|) for v < 0, so nothing overflows.
SG_VEC_FN D16 sigmoid_hl(const F16& hi, const F16& lo) {
  const D16 e = exp_neg_abs(hi, lo);
  return select(widen(sign_mask(hi)), e, splat(1.0)) / (1.0 + e);
}
}  // namespace detail

// 1 / (1 + e^-x): within 0.68 ulp.
SG_VEC_FN F16 sigmoid(const F16& x) { return narrow(detail::sigmoid_hl(x, F16{})); }

// x * sigmoid(x), rounded once: within 0.73 ulp. silu(-inf) = NaN (-inf * 0).
SG_VEC_FN F16 silu(const F16& x) { return narrow(widen(x) * detail::sigmoid_hl(x, F16{})); }

// tanh x: for |x| < 0.625, x + x s Q(s), s = x^2, Q a degree-5 fit of
// (tanh(x) / x - 1) / x^2 on s in [0, 0.625^2]; above, (1 - e) / (1 + e) with
// e = e^-2|x| (no cancellation: e <= 0.29); both finished in double and rounded
// once, with the sign of x: within 0.76 ulp. tanh(-0) = -0.
SG_VEC_FN F16 tanh(const F16& x) {
  const F16 s = x * x;
  F16 q = splat(0.00229274482f);
  q = q * s + -0.00834394526f;
  q = q * s + 0.0217689183f;
  q = q * s + -0.0539592579f;
  q = q * s + 0.133333042f;
  q = q * s + -0.333333343f;
  const F16 a = abs(x);
  const D16 ad = widen(a);
  const D16 small = ad + ad * widen(s * q);
  const D16 e = detail::exp_hl(-2.0f * a, F16{});
  const D16 big = (1.0 - e) / (1.0 + e);
  return copysign(narrow(select(widen(abs_less(x, 0.625f)), small, big)), x);
}

// ---- erf, GELU -------------------------------------------------------------------

namespace detail {
// erf(a) for 0 <= a < 0.75, in double lanes: a + a P(a^2), P a degree-5 fit of
// erf(a) / a - 1 on a^2 in [0, 0.75^2], evaluated in float (|P| < 0.13).
SG_VEC_FN D16 erf_small(const F16& a) {
  const F16 s = a * a;
  F16 q = splat(-0.000675647985f);
  q = q * s + 0.00511533208f;
  q = q * s + -0.0268351138f;
  q = q * s + 0.112833865f;
  q = q * s + -0.3761262f;
  q = q * s + 0.128379166f;
  const D16 ad = widen(a);
  return ad + ad * widen(q);
}

// erfc(a) for 0 <= a <= 10.61 (callers clamp: erfc(10.6) < 2^-150), in double
// lanes, from a (double) and a2 = a^2 held exactly:
// e^-a2 (exp_hl of a2 split into float hi + lo, so no error from rounding a^2)
// times erfcx(a) = e^(a^2) erfc(a), which is (1 - w) P(w) with w = (a - 3) /
// (a + 3) and P a degree-11 fit on w in [-1, 0.56] (a <= 10.6), evaluated in
// double. Relative error about that of exp_hl.
SG_VEC_FN D16 erfc_large(const D16& a, const D16& a2) {
  const F16 hi = narrow(a2);
  const F16 lo = narrow(a2 - widen(hi));
  const D16 e = exp_hl(-hi, -lo);
  const D16 w = (a - 3.0) / (a + 3.0);
  D16 p = splat(6.737133070549629e-06);
  p = p * w + 1.6308760007817422e-05;
  p = p * w + -4.7792149729489935e-05;
  p = p * w + -9.118939379271581e-05;
  p = p * w + 0.0005061855750452578;
  p = p * w + -0.0002020388634315108;
  p = p * w + -0.0044712689192810155;
  p = p * w + 0.019921287085097758;
  p = p * w + -0.051744540876878395;
  p = p * w + 0.09837139309567695;
  p = p * w + -0.14723240887913308;
  p = p * w + 0.17900115118036847;
  return e * ((1.0 - w) * p);
}
}  // namespace detail

// erf x: erf_small below |x| = 0.75, 1 - erfc above (erfc < 0.29 there, with a
// relative error near 2^-26: no cancellation to speak of), rounded once, with the
// sign of x: within 0.81 ulp. erf(-0) = -0, erf(+-inf) = +-1.
SG_VEC_FN F16 erf(const F16& x) {
  const F16 a = abs(x);
  const D16 ad = widen(select(abs_greater(a, 10.5f), splat(10.5f), a));
  const D16 y = select(widen(abs_less(a, 0.75f)), detail::erf_small(a), 1.0 - detail::erfc_large(ad, ad * ad));
  return copysign(narrow(y), x);
}

// GELU, exact form: x/2 (1 + erf(x / sqrt 2)). With z = |x| / sqrt 2: for x >= 0,
// x/2 (1 + erf z) (erf z from erf_small below z = 0.75, else 2 - erfc z); x < 0:
// x/2 erfc z, so the negative side keeps full relative accuracy instead of the
// cancellation of 1 + erf. z^2 = x^2 / 2 is exact in double; the result is
// rounded once from double: within 0.80 ulp everywhere. gelu_erf(-inf) = NaN (as
// -inf * 0 in the formula).
SG_VEC_FN F16 gelu_erf(const F16& x) {
  const D16 xd = widen(x);
  const D16 xc = widen(select(abs_greater(x, 15.0f), splat(15.0f), abs(x)));  // z <= 10.61
  const D16 ad = xc * 0.7071067811865476;
  const F16 a = narrow(ad);
  const D16 c = detail::erfc_large(ad, (xc * xc) * 0.5);
  const D16 positive = select(widen(abs_less(a, 0.75f)), 1.0 + detail::erf_small(a), 2.0 - c);
  return narrow((0.5 * xd) * select(widen(sign_mask(x)), c, positive));
}

// GELU, tanh form (gelu_new / gelu_pytorch_tanh): x/2 (1 + tanh u), u =
// sqrt(2/pi) (x + 0.044715 x^3), computed as the identical x sigmoid(2u) (no
// cancellation for x < 0), with 2u in double and handed to exp as hi + lo; the
// product is rounded once from double: within 0.73 ulp everywhere.
// gelu_tanh(-inf) = NaN.
SG_VEC_FN F16 gelu_tanh(const F16& x) {
  // |x| <= 1e4 keeps 2u finite in float; beyond, sigmoid(2u) is 0 or 1 anyway.
  const D16 xc = widen(copysign(select(abs_greater(x, 1e4f), splat(1e4f), abs(x)), x));
  const D16 v = xc * (1.5957691216057308 + 0.07135481627260025 * (xc * xc));  // 2u
  const F16 hi = narrow(v);
  return narrow(widen(x) * detail::sigmoid_hl(hi, narrow(v - widen(hi))));
}

// max(x, 0), with NaN -> 0 and -0 -> 0 (x > 0 ? x : 0).
SG_VEC_FN F16 relu(const F16& x) { return select(positive_mask(x), x, F16{}); }

// ---- log (double) ----------------------------------------------------------------

// Natural log in double lanes: x = 2^k m, m in [sqrt(1/2), sqrt(2)), f = m - 1,
// s = f / (2 + f), log m = f - (f^2/2 - s (f^2/2 + R)), R = sum_{j=1..9} 2 s^(2j)
// / (2j + 1) (the atanh series, |s| < 0.172: the rest is below 2^-55 of the
// result), plus k ln 2 in two parts. Within 1.13 ulp of a double (against long
// double logl, 2e7 random doubles and every 5th positive float). log 0 = -inf,
// log x<0 = NaN, log inf = inf.
SG_VEC_FN D16 log(const D16& x) {
  const UL16 u = (UL16)x;
  const L16 mag = (L16)(u & 0x7fffffffffffffffu);
  const L16 sub = negative_mask(((L16)(u >> 52) & 0x7ff) - 1);  // exponent field 0: subnormal (or 0)
  const D16 y = select(sub, x * 0x1p54, x);
  const L16 mant = (L16)((UL16)y & 0x000fffffffffffffu);
  const L16 big = negative_mask(0x6a09e667f3bcdLL - mant);  // m > sqrt 2 (its mantissa bits)
  const D16 m = (D16)((UL16)mant | (UL16)(0x3ff0000000000000LL - (big & 0x0010000000000000LL)));
  const L16 k = ((L16)((UL16)y >> 52) & 0x7ff) - 1023 - (sub & 54) - big;  // big is -1 where set
  const D16 f = m - 1.0;
  const D16 s = f / (2.0 + f);
  const D16 z = s * s;
  D16 r = splat(2.0 / 19);
  r = r * z + 2.0 / 17;
  r = r * z + 2.0 / 15;
  r = r * z + 2.0 / 13;
  r = r * z + 2.0 / 11;
  r = r * z + 2.0 / 9;
  r = r * z + 2.0 / 7;
  r = r * z + 2.0 / 5;
  r = r * z + 2.0 / 3;
  r = r * z;
  const D16 hf = 0.5 * (f * f);
  const D16 lm = f - (hf - s * (hf + r));
  const D16 kd = to_double(k);
  D16 out = kd * 0x1.62e42fefa2000p-1 + (lm + kd * 0x1.9ef35793c7673p-41);
  constexpr long long kInfBits = 0x7ff0000000000000LL;
  out = select(negative_mask((mag ^ kInfBits) - 1), splat(__builtin_inf()), out);  // +-inf (-inf: below)
  out = select(negative_mask((L16)u) | negative_mask(kInfBits - mag), splat(__builtin_nan("")), out);  // < 0, NaN
  return select(negative_mask(mag - 1), splat(-__builtin_inf()), out);                                 // +-0
}

// ---- spans and scalars -----------------------------------------------------------

// x[i] = f(x[i]) for i < n, sixteen at a time; a last partial vector is padded
// with zeros and goes through the same f. (Whole vectors and the tail are two
// inlined copies of f: one shared copy would keep its vector in memory.)
template <class F>
SG_VEC_FN void map_span(float* x, int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(x + i, f(load(x + i)));
  if (i < n) {
    const int k = static_cast<int>(n - i);
    store_first(x + i, f(load_first(x + i, k)), k);
  }
}

// gate[i] = f(gate[i]) * up[i] for i < n, as map_span.
template <class F>
SG_VEC_FN void gated_map_span(float* gate, const float* up, int64_t n, F&& f) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) store(gate + i, f(load(gate + i)) * load(up + i));
  if (i < n) {
    const int k = static_cast<int>(n - i);
    store_first(gate + i, f(load_first(gate + i, k)) * load_first(up + i, k), k);
  }
}

// f applied to one value: lane 0 of the vector code (the other lanes hold 0).
template <class F>
SG_VEC_FN float scalar(F&& f, float x) {
  F16 v = {};
  v[0] = x;
  return f(v)[0];
}
template <class F>
SG_VEC_FN double scalar(F&& f, double x) {
  D16 v = {};
  v[0] = x;
  return f(v)[0];
}

// ---- fixed-order sums ------------------------------------------------------------

// The sixteen lane sums v[0..15] combined by one fixed tree: v[l] + v[l + 8]
// (l < 8), then l + 4 (l < 4), then l + 2 (l < 2), then [0] + [1]. That is
// (((v0+v8) + (v4+v12)) + ((v2+v10) + (v6+v14)))
//   + (((v1+v9) + (v5+v13)) + ((v3+v11) + (v7+v15))).
SG_VEC_FN double tree_sum(const D16& v) {
  double h[kLanes];
  for (int l = 0; l < kLanes; ++l) h[l] = v[l];  // (a memcpy would keep v in memory all along)
  for (int w = kLanes / 2; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) h[l] = h[l] + h[l + w];
  return h[0];
}

namespace detail {
// Four-lane pieces of the sixteen lane sums, so that GCC keeps them in registers
// across the loop (it keeps a loop-carried 128-byte vector in memory).
using D4 = double __attribute__((vector_size(32)));
struct LaneSums {
  D4 q[4] = {};
  SG_VEC_FN void add(const D16& t) {
    q[0] += D4{t[0], t[1], t[2], t[3]};
    q[1] += D4{t[4], t[5], t[6], t[7]};
    q[2] += D4{t[8], t[9], t[10], t[11]};
    q[3] += D4{t[12], t[13], t[14], t[15]};
  }
  SG_VEC_FN D16 lanes() const {
    return D16{q[0][0], q[0][1], q[0][2], q[0][3], q[1][0], q[1][1], q[1][2], q[1][3],
               q[2][0], q[2][1], q[2][2], q[2][3], q[3][0], q[3][1], q[3][2], q[3][3]};
  }
};
}  // namespace detail

// fixed_sum of N rows of terms in one pass over the elements: terms(i, k)
// returns a std::array of N D16s, and each row is summed exactly as fixed_sum
// sums one (the same bits as N separate fixed_sums).
template <int N, class Terms>
SG_VEC_FN std::array<double, N> fixed_sums(int64_t n, Terms&& terms) {
  detail::LaneSums acc[N];
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const std::array<D16, N> t = terms(i, kLanes);
    for (int c = 0; c < N; ++c) acc[c].add(t[c]);
  }
  if (i < n) {
    constexpr L16 lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    const int k = static_cast<int>(n - i);
    const L16 first = negative_mask(lane - k);
    const std::array<D16, N> t = terms(i, k);
    for (int c = 0; c < N; ++c) acc[c].add(select(first, t[c], D16{}));
  }
  std::array<double, N> sums;
  for (int c = 0; c < N; ++c) sums[c] = tree_sum(acc[c].lanes());
  return sums;
}

// The sum over i in [0, n) of a row's terms, in one fixed order whatever the
// vector width: lane l (0..15) starts from +0 and adds the terms of elements
// l, l + 16, l + 32, ... in increasing order (past n: +0, so every lane takes
// ceil(n / 16) additions), then tree_sum combines the lanes. terms(i, k) returns
// the terms of elements i .. i + 15 as doubles; only its first k lanes are used
// (k < 16 for the last, partial block, whose other lanes may hold anything): read
// them with load_first(p + i, k), a plain load when k is 16.
template <class Terms>
SG_VEC_FN double fixed_sum(int64_t n, Terms&& terms) {
  return fixed_sums<1>(n, [&terms](int64_t i, int k) SG_VEC_LAMBDA { return std::array<D16, 1>{terms(i, k)}; })[0];
}

// Common rows sums, in the fixed order of fixed_sum: sum x_i^2 and sum a_i b_i
// accumulated in double.
SG_VEC_FN double sum_squares(const float* x, int64_t n) {
  return fixed_sum(n, [x](int64_t i, int k) SG_VEC_LAMBDA {
    const D16 v = widen(load_first(x + i, k));
    return v * v;
  });
}
SG_VEC_FN double dot(const float* a, const float* b, int64_t n) {
  return fixed_sum(
      n, [a, b](int64_t i, int k) SG_VEC_LAMBDA { return widen(load_first(a + i, k)) * widen(load_first(b + i, k)); });
}

}  // namespace SG_VEC_ISA
}  // namespace sg::vec
