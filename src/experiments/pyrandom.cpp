#include "experiments/pyrandom.h"

#include <algorithm>
#include <bit>
#include <limits>
#include <numeric>

namespace sg::rnd {

namespace {
constexpr size_t kN = Mt19937::kStateSize;
constexpr size_t kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfU;
constexpr uint32_t kUpperMask = 0x80000000U;
constexpr uint32_t kLowerMask = 0x7fffffffU;
}  // namespace

// All arithmetic below is on uint32_t, so "mod 2^32" of the reference code is
// the natural unsigned wrap-around.
void Mt19937::init_genrand(uint32_t s) {
  mt_[0] = s;
  for (size_t i = 1; i < kN; ++i) {
    mt_[i] = 1812433253U * (mt_[i - 1] ^ (mt_[i - 1] >> 30)) + static_cast<uint32_t>(i);
  }
  pos_ = kN;  // the first draw regenerates the whole state
  words_ = 0;
}

void Mt19937::init_by_array(std::span<const uint32_t> key) {
  init_genrand(19650218U);
  size_t i = 1, j = 0;
  for (size_t k = std::max(kN, key.size()); k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1664525U)) + key[j] + static_cast<uint32_t>(j);
    ++i;
    ++j;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
    if (j >= key.size()) j = 0;
  }
  for (size_t k = kN - 1; k > 0; --k) {
    mt_[i] = (mt_[i] ^ ((mt_[i - 1] ^ (mt_[i - 1] >> 30)) * 1566083941U)) - static_cast<uint32_t>(i);
    ++i;
    if (i >= kN) {
      mt_[0] = mt_[kN - 1];
      i = 1;
    }
  }
  mt_[0] = 0x80000000U;  // MSB is 1, assuring a non-zero initial state
  pos_ = kN;
  words_ = 0;
}

void Mt19937::regenerate() {
  for (size_t k = 0; k < kN; ++k) {
    uint32_t y = (mt_[k] & kUpperMask) | (mt_[(k + 1) % kN] & kLowerMask);
    mt_[k] = mt_[(k + kM) % kN] ^ (y >> 1) ^ ((y & 1U) ? kMatrixA : 0U);
  }
  pos_ = 0;
}

uint32_t Mt19937::next_u32() {
  if (pos_ >= kN) regenerate();
  uint32_t y = mt_[pos_++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680U;
  y ^= (y << 15) & 0xefc60000U;
  y ^= y >> 18;
  ++words_;
  return y;
}

PyRandom::PyRandom(int64_t seed) {
  // |seed| without overflow for INT64_MIN.
  uint64_t mag = seed < 0 ? uint64_t{0} - static_cast<uint64_t>(seed) : static_cast<uint64_t>(seed);
  std::vector<uint32_t> key;
  do {
    key.push_back(static_cast<uint32_t>(mag & 0xffffffffU));
    mag >>= 32;
  } while (mag != 0);
  mt_.init_by_array(key);
}

uint64_t PyRandom::getrandbits(int k) {
  if (k < 1 || k > 64) fail("getrandbits({}) is outside the supported range 1..64", k);
  if (k <= 32) return mt_.next_u32() >> (32 - k);
  // CPython fills a little-endian word array; only the last word is partial.
  uint64_t low = mt_.next_u32();
  uint64_t high = mt_.next_u32() >> (64 - k);
  return low | (high << 32);
}

uint64_t PyRandom::randbelow(uint64_t n) {
  if (n == 0) fail("random _randbelow(0): empty range");
  const uint64_t before = mt_.words_consumed();
  const int k = std::bit_width(n);
  uint64_t r = getrandbits(k);
  while (r >= n) r = getrandbits(k);
  if (trace_) trace_->push_back({n, r, mt_.words_consumed() - before});
  return r;
}

int64_t PyRandom::randint(int64_t a, int64_t b) {
  if (b < a) fail("random randint({}, {}): empty range", a, b);
  // b - a + 1 computed in unsigned arithmetic: exact for every int64 pair except
  // the full 2^64 range, which Python would handle but nothing here needs.
  const uint64_t width = static_cast<uint64_t>(b) - static_cast<uint64_t>(a) + 1U;
  if (width == 0) fail("random randint({}, {}): range too large", a, b);
  return static_cast<int64_t>(static_cast<uint64_t>(a) + randbelow(width));
}

uint32_t NumpyRandomState::random_interval(uint32_t max) {
  if (max == 0) return 0;
  uint32_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  uint32_t v;
  while ((v = (mt_.next_u32() & mask)) > max) {
  }
  return v;
}

std::vector<uint32_t> NumpyRandomState::permutation(size_t n) {
  if (n > std::numeric_limits<uint32_t>::max()) {
    fail("permutation of {} elements: at most 2^32 - 1 are supported", n);
  }
  std::vector<uint32_t> a(n);
  std::iota(a.begin(), a.end(), 0U);
  for (size_t i = n; i-- > 1;) {
    const uint32_t j = random_interval(static_cast<uint32_t>(i));
    std::swap(a[i], a[j]);
  }
  return a;
}

}  // namespace sg::rnd
