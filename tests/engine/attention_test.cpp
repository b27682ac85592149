// The attention kernel against a double-precision reference, across the shapes
// its blocking has to get right: head sizes below, at and between whole vector
// lanes, sequences shorter and longer than a query block, grouped-query heads,
// and q/k/v read in place from a fused projection output.
#include <gtest/gtest.h>

#include <cmath>
#include <random>
#include <utility>

#include "engine/kernels.h"
#include "model/rope.h"

namespace sg {
namespace {

struct Case {
  int H, KV, hd;
};

// softmax(cap(q.k * scale)) v per (sequence, head) over the keys each query
// sees, in double; patterns [H, T, T].
void reference(const Batch& b, const kernels::Heads& q, const kernels::Heads& k, const kernels::Heads& v, int H, int KV,
               int hd, const kernels::ScoreRule& rule, std::vector<double>& z, std::vector<double>& pat) {
  z.assign(static_cast<size_t>(b.n_tokens() * H * hd), 0.0);
  pat.clear();
  for (size_t s = 0; s < b.n_sequences(); ++s) {
    const int64_t base = b.begin(s), T = b.length(s);
    for (int h = 0; h < H; ++h) {
      const int kvh = h / (H / KV);
      for (int64_t i = 0; i < T; ++i) {
        std::vector<double> p(T, 0.0);
        double mx = -INFINITY, sum = 0;
        const int64_t first = rule.window > 0 ? std::max<int64_t>(0, i - rule.window + 1) : 0;
        for (int64_t j = first; j <= i; ++j) {
          for (int e = 0; e < hd; ++e) p[j] += double(q.at(base + i, h)[e]) * k.at(base + j, kvh)[e];
          p[j] *= rule.scale;
          if (rule.softcap > 0) p[j] = rule.softcap * std::tanh(p[j] / rule.softcap);
          mx = std::max(mx, p[j]);
        }
        for (int64_t j = first; j <= i; ++j) sum += p[j] = std::exp(p[j] - mx);
        for (int64_t j = first; j <= i; ++j) {
          p[j] /= sum;
          for (int e = 0; e < hd; ++e) z[((base + i) * H + h) * hd + e] += p[j] * v.at(base + j, kvh)[e];
        }
        pat.insert(pat.end(), p.begin(), p.end());
      }
    }
  }
}

TEST(Attention, MatchesADoublePrecisionReference) {
  const std::vector<int32_t> lengths{1, 7, 8, 9, 17, 40};
  Batch b;
  for (int32_t T : lengths) b.add(std::vector<int32_t>(T, 0));
  std::mt19937 rng(11);
  std::normal_distribution<float> g(0.0f, 1.0f);
  for (const Case c : {Case{4, 4, 8}, Case{4, 2, 16}, Case{2, 2, 20}, Case{4, 1, 64}, Case{2, 2, 80}}) {
    // One projection output per row, [Q | K | V], read in place as the engine does.
    const int64_t N = b.n_tokens(), width = int64_t{c.H} * c.hd + 2 * int64_t{c.KV} * c.hd;
    std::vector<float> qkv(N * width);
    for (auto& x : qkv) x = g(rng);
    const kernels::Heads q{qkv.data(), width, c.hd}, k{qkv.data() + c.H * c.hd, width, c.hd},
        v{qkv.data() + (c.H + c.KV) * c.hd, width, c.hd};
    // Full causal attention, and windows below, at and around a query block
    // and a lane block, soft-capped or not.
    for (const int64_t window : {0, 1, 3, 8, 9, 16, 17, 100})
      for (const double softcap : {0.0, 1.5}) {
        const kernels::ScoreRule rule{1.0 / std::sqrt(c.hd), window, softcap};
        std::vector<float> z(N * c.H * c.hd), pat(kernels::pattern_offsets(b, c.H).back());
        std::vector<double> ent(N * c.H);
        kernels::attention(b, q, k, v, c.H, c.KV, c.hd, {}, rule, z.data(), pat.data(), 0, ent.data());
        std::vector<double> want_z, want_pat;
        reference(b, q, k, v, c.H, c.KV, c.hd, rule, want_z, want_pat);
        const std::string what =
            "hd " + std::to_string(c.hd) + " window " + std::to_string(window) + " softcap " + std::to_string(softcap);
        for (size_t i = 0; i < z.size(); ++i)
          ASSERT_NEAR(z[i], want_z[i], 1e-5 * (1 + std::fabs(want_z[i]))) << what << " element " << i;
        ASSERT_EQ(pat.size(), want_pat.size());
        for (size_t i = 0; i < pat.size(); ++i) ASSERT_NEAR(pat[i], want_pat[i], 1e-6) << what << " prob " << i;
        // Each query's entropy per head (from the softmax's scores) against -sum p ln p
        // of the reference's double probabilities, and against entropy_span of the
        // kernel's own float pattern row: both to float rounding of the probabilities.
        const std::vector<int64_t> off = kernels::pattern_offsets(b, c.H);
        for (size_t s = 0; s < b.n_sequences(); ++s)
          for (int h = 0; h < c.H; ++h)
            for (int64_t i = 0; i < b.length(s); ++i) {
              const int64_t at = off[s] + (h * b.length(s) + i) * b.length(s);
              double want = 0;
              for (int64_t j = 0; j <= i; ++j)
                if (want_pat[at + j] > 0) want -= want_pat[at + j] * std::log(want_pat[at + j]);
              const double got = ent[(b.begin(s) + i) * c.H + h];
              ASSERT_NEAR(got, want, 1e-6 * (1 + want)) << what << " sequence " << s << " head " << h << " query " << i;
              ASSERT_NEAR(got, kernels::entropy_span(pat.data() + at, i + 1), 1e-6 * (1 + want))
                  << what << " sequence " << s << " head " << h << " query " << i;
            }
      }
  }
}

// A window as long as the sequence changes nothing, bit for bit.
TEST(Attention, AWindowOfTheWholeSequenceIsFullAttention) {
  Batch b;
  for (int32_t T : {5, 20, 33}) b.add(std::vector<int32_t>(T, 0));
  std::mt19937 rng(3);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int H = 2, KV = 2, hd = 24;
  const int64_t N = b.n_tokens(), width = 3 * int64_t{H} * hd;
  std::vector<float> qkv(N * width);
  for (auto& x : qkv) x = g(rng);
  const kernels::Heads q{qkv.data(), width, hd}, k{qkv.data() + H * hd, width, hd},
      v{qkv.data() + 2 * H * hd, width, hd};
  auto run = [&](int64_t window) {
    std::vector<float> z(N * H * hd);
    kernels::attention(b, q, k, v, H, KV, hd, {}, {0.2, window, 0.0}, z.data(), nullptr);
    return z;
  };
  EXPECT_EQ(run(0), run(33));
  EXPECT_EQ(run(0), run(1000));
  EXPECT_NE(run(0), run(32));
}

// Rotation happens as attention reads q and k: the same floats as rotating the
// projection output first (position = index within the sequence), bit for bit.
TEST(Attention, RotatesAsItReads) {
  const std::vector<int32_t> lengths{3, 11, 20};
  Batch b;
  for (int32_t T : lengths) b.add(std::vector<int32_t>(T, 0));
  std::mt19937 rng(5);
  std::normal_distribution<float> g(0.0f, 1.0f);
  const int H = 4, KV = 2, hd = 16;
  const int64_t N = b.n_tokens(), width = int64_t{H} * hd + 2 * int64_t{KV} * hd;
  for (const auto& [style, rotary_dim] :
       {std::pair{RotaryStyle::Half, 16}, std::pair{RotaryStyle::Half, 4}, std::pair{RotaryStyle::Interleaved, 8}}) {
    std::vector<float> qkv(N * width);
    for (auto& x : qkv) x = g(rng);
    const kernels::RopeTable table(plain_rope(rotary_dim, 10000.0), b.max_length());
    const kernels::Rotary rotary{style, &table};
    std::vector<float> rotated = qkv;
    for (size_t s = 0; s < b.n_sequences(); ++s)
      for (int64_t t = 0; t < b.length(s); ++t)
        for (int h = 0; h < H + KV; ++h) rotary.apply(rotated.data() + (b.begin(s) + t) * width + h * hd, t);
    auto run = [&](std::vector<float>& x, const kernels::Rotary& rot) {
      const kernels::Heads q{x.data(), width, hd}, k{x.data() + H * hd, width, hd},
          v{x.data() + (H + KV) * hd, width, hd};
      std::vector<float> z(N * H * hd);
      kernels::attention(b, q, k, v, H, KV, hd, rot, {0.25}, z.data(), nullptr);
      return z;
    };
    const std::vector<float> before = qkv;
    EXPECT_EQ(run(qkv, rotary), run(rotated, {})) << "rotary_dim " << rotary_dim;
    EXPECT_EQ(qkv, before) << "attention must not modify q and k";
  }
}

}  // namespace
}  // namespace sg
