#include "io/dtype.h"

#include <algorithm>
#include <array>
#include <utility>

#include "util/error.h"

namespace sg {
namespace {
constexpr std::array<std::pair<std::string_view, DType>, 10> kNames{{
    {"F64", DType::F64},
    {"F32", DType::F32},
    {"F16", DType::F16},
    {"BF16", DType::BF16},
    {"I64", DType::I64},
    {"I32", DType::I32},
    {"I16", DType::I16},
    {"I8", DType::I8},
    {"U8", DType::U8},
    {"BOOL", DType::BOOL},
}};
}  // namespace

std::optional<DType> parse_dtype(std::string_view name) {
  for (auto& [n, t] : kNames)
    if (n == name) return t;
  return std::nullopt;
}

std::string_view dtype_name(DType t) {
  for (auto& [n, d] : kNames)
    if (d == t) return n;
  return "?";
}

size_t dtype_size(DType t) {
  switch (t) {
    case DType::F64:
    case DType::I64: return 8;
    case DType::F32:
    case DType::I32: return 4;
    case DType::F16:
    case DType::BF16:
    case DType::I16: return 2;
    case DType::I8:
    case DType::U8:
    case DType::BOOL: return 1;
  }
  return 0;
}

namespace {

// The largest of (element bits & mask) over n elements of W bits: one
// vectorised integer max (vpmaxuw / vpmaxud) at memory speed. Non-finite
// values are rare: count_non_finite counts only when this says there are some.
template <class W>
W max_masked(const std::byte* p, size_t n, W mask) {
  W top = 0;
#pragma omp parallel for reduction(max : top) schedule(static) if (n > (1u << 18))
  for (size_t i = 0; i < n; ++i) {
    W u;
    std::memcpy(&u, p + sizeof(W) * i, sizeof(W));
    top = std::max<W>(top, u & mask);
  }
  return top;
}

}  // namespace

size_t count_non_finite(DType t, const void* data, size_t n) {
  auto* p = static_cast<const std::byte*>(data);
  // Exponent all ones (inf or NaN) <=> magnitude bits >= the exponent mask.
  if ((t == DType::F32 && max_masked<uint32_t>(p, n, 0x7fffffffu) < 0x7f800000u) ||
      (t == DType::BF16 && max_masked<uint16_t>(p, n, 0x7fff) < 0x7f80) ||
      (t == DType::F16 && max_masked<uint16_t>(p, n, 0x7fff) < 0x7c00))
    return 0;
  size_t bad = 0;
  switch (t) {
    case DType::F32:
#pragma omp parallel for reduction(+ : bad) schedule(static) if (n > (1u << 16))
      for (size_t i = 0; i < n; ++i) {
        uint32_t u;
        std::memcpy(&u, p + 4 * i, 4);
        bad += (u & 0x7f800000u) == 0x7f800000u;
      }
      break;
    case DType::BF16:
#pragma omp parallel for reduction(+ : bad) schedule(static) if (n > (1u << 16))
      for (size_t i = 0; i < n; ++i) bad += (load_u16(p + 2 * i) & 0x7f80u) == 0x7f80u;
      break;
    case DType::F16:
#pragma omp parallel for reduction(+ : bad) schedule(static) if (n > (1u << 16))
      for (size_t i = 0; i < n; ++i) bad += (load_u16(p + 2 * i) & 0x7c00u) == 0x7c00u;
      break;
    default: break;
  }
  return bad;
}

void to_f32(DType t, const void* src, float* dst, size_t n) {
  switch (t) {
    case DType::F32: std::memcpy(dst, src, n * 4); return;
    case DType::BF16: {
      auto* s = static_cast<const std::byte*>(src);
#pragma omp parallel for schedule(static) if (n > (1u << 16))
      for (size_t i = 0; i < n; ++i) dst[i] = bf16_to_f32(load_u16(s + 2 * i));
      return;
    }
    case DType::F16: {
      auto* s = static_cast<const std::byte*>(src);
#pragma omp parallel for schedule(static) if (n > (1u << 16))
      for (size_t i = 0; i < n; ++i) dst[i] = f16_to_f32(load_u16(s + 2 * i));
      return;
    }
    case DType::F64: {
      auto* s = static_cast<const std::byte*>(src);
      for (size_t i = 0; i < n; ++i) {
        double d;
        std::memcpy(&d, s + 8 * i, 8);
        dst[i] = static_cast<float>(d);
      }
      return;
    }
    default: fail("cannot convert a {} tensor to float32", dtype_name(t));
  }
}

}  // namespace sg
