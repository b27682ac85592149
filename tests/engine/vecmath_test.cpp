// engine/vecmath.h: accuracy of each function against double-precision libm over
// sweeps of every binade (plus a dense sweep where the approximations switch),
// special values, the masks made from the bits, and the summation order of
// fixed_sum against a scalar emulation of its documented lanes and tree.
#include "engine/vecmath.h"
#include "mixed_values.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace sg {
namespace {

using vec::F16;

constexpr float kInf = std::numeric_limits<float>::infinity();
constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();

// |got - want| in units of the last place of a float at want (subnormal spacing
// 2^-149 below 2^-126). A want that rounds to +-inf must give that inf.
double ulps(float got, double want) {
  if (std::isnan(want)) return std::isnan(got) ? 0 : INFINITY;
  const float rounded = static_cast<float>(want);
  if (std::isinf(rounded)) return got == rounded ? 0 : INFINITY;
  if (!std::isfinite(got)) return INFINITY;
  int e = 0;
  std::frexp(std::fabs(want), &e);
  return std::fabs(static_cast<double>(got) - want) / std::ldexp(1.0, std::max(e - 24, -149));
}

uint32_t bits(float x) {
  uint32_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
float from_bits(uint32_t u) {
  float x;
  std::memcpy(&x, &u, sizeof x);
  return x;
}

// Test inputs: every 2053rd float of each sign from 0 to the largest (all
// binades, about 2.1 million values), and 2^18 evenly spaced values in [-16, 16].
const std::vector<float>& sweep() {
  static const std::vector<float> xs = [] {
    std::vector<float> v;
    for (uint32_t b = 0; b < 0x7f800000u; b += 2053) {
      v.push_back(from_bits(b));
      v.push_back(from_bits(b | 0x80000000u));
    }
    for (int i = 0; i <= (1 << 18); ++i) v.push_back(-16.0f + 32.0f * static_cast<float>(i) / (1 << 18));
    return v;
  }();
  return xs;
}

struct Worst {
  double ulps = 0;
  float at = 0;
  float got = 0;
  double want = 0;
};

// The function under test applied to the whole sweep (as one span), against the
// reference.
template <class F, class R>
Worst worst_error(F f, R reference) {
  const std::vector<float>& xs = sweep();
  std::vector<float> ys = xs;
  vec::map_span(ys.data(), static_cast<int64_t>(ys.size()), f);
  Worst w;
  for (size_t i = 0; i < xs.size(); ++i) {
    const double want = reference(static_cast<double>(xs[i]));
    const double e = ulps(ys[i], want);
    if (e > w.ulps) w = {e, xs[i], ys[i], want};
  }
  return w;
}

std::string describe(const Worst& w) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "max %.3f ulp at x = %.9g: got %.9g, want %.12g", w.ulps, w.at, w.got, w.want);
  return buf;
}

// The bounds: the worst error over every float (vecmath.h), rounded up.
TEST(VecMath, ExpAccuracy) {
  const Worst w =
      worst_error([](const F16& x) SG_VEC_LAMBDA { return vec::exp(x); }, [](double x) { return std::exp(x); });
  EXPECT_LE(w.ulps, 0.7) << describe(w);
}

TEST(VecMath, SigmoidAccuracy) {
  const Worst w = worst_error([](const F16& x) SG_VEC_LAMBDA { return vec::sigmoid(x); },
                              [](double x) { return 1 / (1 + std::exp(-x)); });
  EXPECT_LE(w.ulps, 0.7) << describe(w);
}

TEST(VecMath, TanhAccuracy) {
  const Worst w =
      worst_error([](const F16& x) SG_VEC_LAMBDA { return vec::tanh(x); }, [](double x) { return std::tanh(x); });
  EXPECT_LE(w.ulps, 0.8) << describe(w);
}

TEST(VecMath, ErfAccuracy) {
  const Worst w =
      worst_error([](const F16& x) SG_VEC_LAMBDA { return vec::erf(x); }, [](double x) { return std::erf(x); });
  EXPECT_LE(w.ulps, 0.85) << describe(w);
}

double silu_ref(double x) { return x / (1 + std::exp(-x)); }
double gelu_tanh_ref(double x) { return x / (1 + std::exp(-2 * std::sqrt(2 / M_PI) * (x + 0.044715 * x * x * x))); }
double gelu_erf_ref(double x) { return 0.5 * x * std::erfc(-x * M_SQRT1_2); }

TEST(VecMath, SiluAccuracy) {
  const Worst w = worst_error([](const F16& x) SG_VEC_LAMBDA { return vec::silu(x); }, silu_ref);
  EXPECT_LE(w.ulps, 0.75) << describe(w);
}

TEST(VecMath, GeluErfAccuracy) {
  const Worst w = worst_error([](const F16& x) SG_VEC_LAMBDA { return vec::gelu_erf(x); }, gelu_erf_ref);
  EXPECT_LE(w.ulps, 0.85) << describe(w);
}

TEST(VecMath, GeluTanhAccuracy) {
  const Worst w = worst_error([](const F16& x) SG_VEC_LAMBDA { return vec::gelu_tanh(x); }, gelu_tanh_ref);
  EXPECT_LE(w.ulps, 0.75) << describe(w);
}

// The two GELUs differ by up to ~2e-4 around |x| = 2: each must be its own
// (a 1e-6 tolerance tells them apart two hundred times over).
TEST(VecMath, GeluVariantsAreNotConfused) {
  for (float x : {-3.0f, -2.0f, -1.0f, 1.0f, 2.0f, 3.0f}) {
    EXPECT_NEAR(vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::gelu_erf(v); }, x), gelu_erf_ref(x), 1e-6);
    EXPECT_NEAR(vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::gelu_tanh(v); }, x), gelu_tanh_ref(x), 1e-6);
  }
}

TEST(VecMath, LogAccuracy) {
  // Against long double logl, in ulps of a double.
  auto err = [](double got, double x) {
    const long double want = logl(static_cast<long double>(x));
    int e = 0;
    std::frexp(static_cast<double>(want), &e);
    return static_cast<double>(fabsl(static_cast<long double>(got) - want) / std::ldexp(1.0L, e - 53));
  };
  std::vector<double> xs;
  for (uint64_t b = 1; b < 0x7ff0000000000000u; b += 0x7ff0000000000000u / 600000 + 7) {
    double x;
    std::memcpy(&x, &b, sizeof x);
    xs.push_back(x);
  }
  for (const float p : sweep())
    if (p > 0) xs.push_back(p);                                   // the entropy's inputs: probabilities held in float
  for (int i = 0; i < 100000; ++i) xs.push_back(0.5 + i * 1e-5);  // around 1, where log is small
  double worst = 0, at = 0;
  for (size_t i = 0; i < xs.size(); i += vec::kLanes) {
    vec::D16 v = {};
    for (int l = 0; l < vec::kLanes; ++l) v[l] = xs[std::min(i + l, xs.size() - 1)];
    const vec::D16 y = vec::log(v);
    for (int l = 0; l < vec::kLanes; ++l) {
      const double e = err(y[l], v[l]);
      if (e > worst) worst = e, at = v[l];
    }
  }
  EXPECT_LE(worst, 1.15) << "at " << at;
}

TEST(VecMath, LogSpecialValues) {
  const double inf = std::numeric_limits<double>::infinity();
  const vec::D16 x = {
      0.0, -0.0,          -1.0,   inf,   -inf, std::nan(""), 1.0, 2.0, 0x1p-1074, 0x1p-1022, 0x1.fffffffffffffp1023,
      0.5, std::exp(1.0), 1e-300, 1e300, 3.0};
  const vec::D16 y = vec::log(x);
  EXPECT_EQ(y[0], -inf);
  EXPECT_EQ(y[1], -inf);
  EXPECT_TRUE(std::isnan(y[2]));
  EXPECT_EQ(y[3], inf);
  EXPECT_TRUE(std::isnan(y[4]));
  EXPECT_TRUE(std::isnan(y[5]));
  EXPECT_EQ(y[6], 0.0);
  for (int l = 7; l < vec::kLanes; ++l) EXPECT_NEAR(y[l], std::log(x[l]), 4e-16 * std::fabs(std::log(x[l]))) << x[l];
}

// Saturation, overflow, underflow, signed zeros, infinities and NaN.
TEST(VecMath, SpecialValues) {
  auto exp = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::exp(v); }, x); };
  auto tanh = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::tanh(v); }, x); };
  auto erf = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::erf(v); }, x); };
  auto sigmoid = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::sigmoid(v); }, x); };
  auto silu = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::silu(v); }, x); };
  auto gelu = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::gelu_erf(v); }, x); };
  auto gelu_t = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::gelu_tanh(v); }, x); };
  auto relu = [](float x) { return vec::scalar([](const F16& v) SG_VEC_LAMBDA { return vec::relu(v); }, x); };

  EXPECT_EQ(exp(0.0f), 1.0f);
  EXPECT_EQ(exp(-0.0f), 1.0f);
  EXPECT_EQ(exp(kInf), kInf);
  EXPECT_EQ(exp(-kInf), 0.0f);
  EXPECT_TRUE(std::isnan(exp(kNaN)));
  EXPECT_LE(ulps(exp(88.7228f), std::exp(static_cast<double>(88.7228f))), 1.0);  // near the last finite one
  EXPECT_EQ(exp(88.723f), kInf);
  EXPECT_EQ(exp(1000.0f), kInf);
  EXPECT_EQ(exp(-103.9f), 0x1p-149f);  // 1.07 * 2^-150: rounds up to the smallest subnormal
  EXPECT_EQ(exp(-104.0f), 0.0f);
  EXPECT_EQ(exp(-1000.0f), 0.0f);
  EXPECT_EQ(exp(1e-30f), 1.0f);

  EXPECT_EQ(tanh(kInf), 1.0f);
  EXPECT_EQ(tanh(-kInf), -1.0f);
  EXPECT_EQ(tanh(20.0f), 1.0f);
  EXPECT_EQ(bits(tanh(-0.0f)), bits(-0.0f));
  EXPECT_EQ(tanh(1e-30f), 1e-30f);
  EXPECT_EQ(tanh(0x1p-149f), 0x1p-149f);
  EXPECT_TRUE(std::isnan(tanh(kNaN)));

  EXPECT_EQ(erf(kInf), 1.0f);
  EXPECT_EQ(erf(-kInf), -1.0f);
  EXPECT_EQ(erf(5.0f), 1.0f);
  EXPECT_EQ(bits(erf(-0.0f)), bits(-0.0f));
  EXPECT_TRUE(std::isnan(erf(kNaN)));

  EXPECT_EQ(sigmoid(kInf), 1.0f);
  EXPECT_EQ(sigmoid(-kInf), 0.0f);
  EXPECT_EQ(sigmoid(0.0f), 0.5f);
  EXPECT_EQ(sigmoid(-0.0f), 0.5f);
  EXPECT_GT(sigmoid(-100.0f), 0.0f);  // e^-100: subnormal, not 0
  EXPECT_EQ(sigmoid(-105.0f), 0.0f);
  EXPECT_TRUE(std::isnan(sigmoid(kNaN)));

  // The activations: f(+inf) = +inf, f(-inf) = NaN as in the formulas (-inf * 0),
  // large negative x gives -0.
  for (auto f : {+silu, +gelu, +gelu_t}) {
    EXPECT_EQ(f(kInf), kInf);
    EXPECT_TRUE(std::isnan(f(-kInf)));
    EXPECT_TRUE(std::isnan(f(kNaN)));
    EXPECT_EQ(f(0.0f), 0.0f);
    EXPECT_EQ(f(-200.0f), 0.0f);
    EXPECT_EQ(f(1e30f), 1e30f);
    EXPECT_EQ(f(3e38f), 3e38f);
  }
  EXPECT_EQ(relu(-1.0f), 0.0f);
  EXPECT_EQ(relu(2.5f), 2.5f);
  EXPECT_EQ(bits(relu(-0.0f)), bits(0.0f));
  EXPECT_EQ(relu(kNaN), 0.0f);  // x > 0 ? x : 0
  EXPECT_EQ(relu(kInf), kInf);
}

using test::mixed_values;

// The masks made from the bits answer as the IEEE comparisons do, for zeros of
// both signs, subnormals, infinities and NaNs of both signs.
TEST(VecMath, BitMasksMatchTheIeeeComparisons) {
  std::vector<float> xs = {0.0f,
                           -0.0f,
                           1e-45f,
                           -1e-45f,
                           1e-39f,
                           -1e-39f,
                           kInf,
                           -kInf,
                           kNaN,
                           -kNaN,
                           from_bits(0x7f800001u),
                           from_bits(0xff800001u),
                           std::numeric_limits<float>::max()};
  for (float c : {0.625f, 0.75f, 10.5f, 15.0f, 89.0f, 110.0f, 1e4f})
    for (float x : {c, std::nextafter(c, 0.0f), std::nextafter(c, kInf)}) {
      xs.push_back(x);
      xs.push_back(-x);
    }
  for (float x : mixed_values(200, 4)) xs.push_back(x);
  while (xs.size() % vec::kLanes) xs.push_back(1.0f);
  for (size_t i = 0; i < xs.size(); i += vec::kLanes) {
    const F16 v = vec::load(xs.data() + i);
    for (float c : {0.0f, 0.625f, 0.75f, 10.5f, 15.0f, 89.0f, 110.0f, 1e4f}) {
      const vec::I16 lt = vec::abs_less(v, c), gt = vec::abs_greater(v, c);
      for (int l = 0; l < vec::kLanes; ++l) {
        const float x = xs[i + l];
        ASSERT_EQ(lt[l], std::fabs(x) < c ? -1 : 0) << x << " < " << c;
        ASSERT_EQ(gt[l], std::fabs(x) > c ? -1 : 0) << x << " > " << c;
      }
    }
    const vec::I16 pos = vec::positive_mask(v), sign = vec::sign_mask(v), nan = vec::nan_mask(v);
    for (int l = 0; l < vec::kLanes; ++l) {
      const float x = xs[i + l];
      ASSERT_EQ(pos[l], x > 0 ? -1 : 0) << x;
      ASSERT_EQ(sign[l], std::signbit(x) ? -1 : 0) << x;
      ASSERT_EQ(nan[l], std::isnan(x) ? -1 : 0) << x;
    }
  }
  const vec::L16 k = {-1075, -1, 0, 1, 2, 1023, 1 << 20, -(1 << 20), 5, -5, 0, 0, 0, 0, 0, 0};
  const vec::D16 kd = vec::to_double(k);
  const vec::L16 neg = vec::negative_mask(k);
  for (int l = 0; l < vec::kLanes; ++l) {
    EXPECT_EQ(kd[l], static_cast<double>(k[l]));
    EXPECT_EQ(neg[l], k[l] < 0 ? -1 : 0);
  }
}

// fixed_sum's documented order, element by element: lane l adds the terms of
// elements l, l + 16, ... (+0 past the end), then v[l] += v[l + w] for w = 8, 4,
// 2, 1.
double emulated_fixed_sum(const std::vector<double>& terms) {
  double lane[16] = {};
  const size_t blocks = (terms.size() + 15) / 16;
  for (size_t b = 0; b < blocks; ++b)
    for (size_t l = 0; l < 16; ++l) {
      const size_t i = b * 16 + l;
      lane[l] += i < terms.size() ? terms[i] : 0.0;
    }
  for (int w = 8; w >= 1; w /= 2)
    for (int l = 0; l < w; ++l) lane[l] = lane[l] + lane[l + w];
  return lane[0];
}

TEST(VecMath, FixedSumFollowsTheDocumentedLaneOrder) {
  // Magnitudes over twelve decades, so that any other order changes the bits.
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 1.0f);
  std::uniform_real_distribution<float> mag(-6.0f, 6.0f);
  std::vector<float> a(5001), b(5001);  // one spare: a sum below starts at a[1]
  for (auto* v : {&a, &b})
    for (auto& x : *v) x = g(rng) * std::pow(10.0f, mag(rng));
  int order_sensitive = 0;
  std::vector<int64_t> lengths;
  for (int64_t n = 0; n <= 70; ++n) lengths.push_back(n);
  for (int64_t n : {100, 255, 256, 257, 1000, 4099, 5000}) lengths.push_back(n);
  for (int64_t n : lengths) {
    std::vector<double> sq, pr;
    double sequential = 0;
    for (int64_t i = 0; i < n; ++i) {
      sq.push_back(static_cast<double>(a[i]) * a[i]);
      pr.push_back(static_cast<double>(a[i]) * b[i]);
      sequential += pr.back();
    }
    const double want_sq = emulated_fixed_sum(sq), want_dot = emulated_fixed_sum(pr);
    EXPECT_EQ(vec::sum_squares(a.data(), n), want_sq) << n;
    EXPECT_EQ(vec::dot(a.data(), b.data(), n), want_dot) << n;
    // A general fixed_sum with its own terms, from an unaligned start.
    const double got = vec::fixed_sum(
        n, [&](int64_t i, int k) SG_VEC_LAMBDA { return vec::widen(vec::load_first(a.data() + 1 + i, k)) - 0.25; });
    std::vector<double> shifted;
    for (int64_t i = 0; i < n; ++i) shifted.push_back(static_cast<double>(a[1 + i]) - 0.25);
    EXPECT_EQ(got, emulated_fixed_sum(shifted)) << n;
    order_sensitive += sequential != want_dot;
  }
  EXPECT_GT(order_sensitive, 10) << "the data should tell summation orders apart";
}

// Lanes past the end of the row are not read into the sum, whatever they hold.
TEST(VecMath, FixedSumIgnoresTheTailPadding) {
  const double got = vec::fixed_sum(3, [](int64_t, int) SG_VEC_LAMBDA {
    vec::D16 v = {};
    v += std::numeric_limits<double>::quiet_NaN();
    v[0] = 1.0, v[1] = 2.0, v[2] = 4.0;
    return v;
  });
  EXPECT_EQ(got, 7.0);
}

}  // namespace
}  // namespace sg
