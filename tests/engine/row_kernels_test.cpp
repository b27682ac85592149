// The weight-statistics row kernels (engine/row_kernels.h): every instruction
// set's kernels equal, bit for bit, a scalar emulation of the documented order
// (32 lanes of FMA chains, zero-padded, then the fixed tree; axpy one FMA per
// row in row order), for each stored dtype, ragged lengths and row counts.
#include "engine/row_kernels.h"

#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <random>
#include <vector>

namespace sg {
namespace {

// Stored rows of one dtype, and their exact values as double.
struct Rows {
  DType dtype;
  std::vector<std::vector<std::byte>> bytes;
  std::vector<std::vector<double>> values;
};

Rows make_rows(DType dt, int count, int64_t n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> g(0.0f, 1.0f);
  Rows r{dt, {}, {}};
  for (int k = 0; k < count; ++k) {
    std::vector<std::byte> b(static_cast<size_t>(n) * dtype_size(dt));
    std::vector<double> v(static_cast<size_t>(n));
    for (int64_t c = 0; c < n; ++c) {
      const float f = g(rng) * std::ldexp(1.0f, static_cast<int>(rng() % 9) - 4);
      if (dt == DType::F32) {
        std::memcpy(b.data() + 4 * c, &f, 4);
        v[c] = f;
      } else {
        const uint16_t h = dt == DType::BF16 ? f32_to_bf16(f) : f32_to_f16(f);
        std::memcpy(b.data() + 2 * c, &h, 2);
        v[c] = dt == DType::BF16 ? bf16_to_f32(h) : f16_to_f32(h);
      }
    }
    r.bytes.push_back(std::move(b));
    r.values.push_back(std::move(v));
  }
  return r;
}

// The documented order: lane c % 32 takes fma(a[c], x[c], lane) in element order
// (fma(0, 0, lane) past n up to a whole block), then the fixed tree.
double emulated_dot(const std::vector<double>& a, const std::vector<double>& x) {
  double lane[32] = {};
  const size_t n = a.size(), padded = (n + 31) / 32 * 32;
  for (size_t c = 0; c < padded; ++c) lane[c % 32] = std::fma(c < n ? a[c] : 0.0, c < n ? x[c] : 0.0, lane[c % 32]);
  auto s = [&](int reg, int j) { return lane[4 * reg + j]; };
  double t[4];
  for (int j = 0; j < 4; ++j)
    t[j] = ((s(0, j) + s(4, j)) + (s(2, j) + s(6, j))) + ((s(1, j) + s(5, j)) + (s(3, j) + s(7, j)));
  return (t[0] + t[2]) + (t[1] + t[3]);
}

std::vector<const rowk::Table*> tables() {
  std::vector<const rowk::Table*> t = {&rowk::avx2_table()};
  if (const rowk::Table* wide = rowk::avx512_table()) t.push_back(wide);
  return t;
}

uint64_t bits(double v) { return std::bit_cast<uint64_t>(v); }

TEST(RowKernels, EveryInstructionSetFollowsTheDocumentedOrder) {
  std::mt19937 rng(7);
  std::normal_distribution<double> g(0.0, 1.0);
  for (DType dt : {DType::BF16, DType::F16, DType::F32})
    for (int64_t n : {1, 5, 31, 32, 33, 100, 517, 2048}) {
      const Rows rows = make_rows(dt, rowk::kMaxRows, n, static_cast<uint32_t>(n));
      std::vector<double> x(static_cast<size_t>(n)), t(rowk::kMaxRows);
      for (auto& v : x) v = g(rng);
      for (auto& v : t) v = g(rng);
      const std::byte* ptrs[rowk::kMaxRows];
      for (int k = 0; k < rowk::kMaxRows; ++k) ptrs[k] = rows.bytes[k].data();
      for (const rowk::Table* table : tables())
        for (int count = 1; count <= rowk::kMaxRows; ++count) {
          const std::string where = std::string(dtype_name(dt)) + " n=" + std::to_string(n) +
                                    " rows=" + std::to_string(count) + (table == tables()[0] ? " avx2" : " avx512");
          double out[rowk::kMaxRows];
          table->dot(dt, ptrs, count, x.data(), n, out);
          std::vector<double> y = x, want = x;
          table->axpy(dt, ptrs, t.data(), count, y.data(), n);
          for (int k = 0; k < count; ++k) {
            EXPECT_EQ(bits(out[k]), bits(emulated_dot(rows.values[k], x))) << where << " row " << k;
            for (int64_t c = 0; c < n; ++c) want[c] = std::fma(t[k], rows.values[k][c], want[c]);
          }
          for (int64_t c = 0; c < n; ++c) ASSERT_EQ(bits(y[c]), bits(want[c])) << where << " axpy element " << c;
          EXPECT_EQ(bits(table->sum_squares(dt, ptrs[0], n)), bits(emulated_dot(rows.values[0], rows.values[0])))
              << where;
        }
    }
}

}  // namespace
}  // namespace sg
