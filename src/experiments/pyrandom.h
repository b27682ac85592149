#pragma once
// Bit-exact re-implementations of the two random streams the seed scripts use:
//   - PyRandom          = CPython 3.11 `random.Random(int seed)` (problem generation),
//   - NumpyRandomState  = numpy's legacy `numpy.random.RandomState(int seed)`
//                         (the permutations of the matched-vs-scrambled z-score).
// Both are MT19937 but seeded differently (init_by_array vs init_genrand), and each
// library turns 32-bit words into bounded integers its own way. The exact semantics
// are written down in shared/golden/README.md sections 10-11 and checked word for
// word against the traces in alignment.json / problems.json.
#include <array>
#include <cstddef>
#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "util/error.h"

namespace sg::rnd {

// The standard 32-bit Mersenne Twister (Matsumoto & Nishimura, mt19937ar.c).
class Mt19937 {
 public:
  static constexpr size_t kStateSize = 624;

  // mt19937ar init_genrand(s): numpy's legacy RandomState(int) seeding.
  void init_genrand(uint32_t s);
  // mt19937ar init_by_array(key): CPython's random.seed(int) seeding.
  void init_by_array(std::span<const uint32_t> key);

  // genrand_int32: the next tempered 32-bit output.
  uint32_t next_u32();
  // Number of 32-bit outputs drawn since seeding (for traces and tests).
  uint64_t words_consumed() const { return words_; }

 private:
  void regenerate();
  std::array<uint32_t, kStateSize> mt_{};
  size_t pos_ = kStateSize;
  uint64_t words_ = 0;
};

// One `_randbelow(n)` call as the problems.json trace records it.
struct RandbelowCall {
  uint64_t n = 0;
  uint64_t result = 0;
  uint64_t words = 0;  // 32-bit words consumed by this call (rejections included)
};

// CPython 3.11 random.Random constructed from an int.
class PyRandom {
 public:
  // random.seed(int): key = 32-bit words of |seed|, least significant first
  // ([0] for 0), then init_by_array(key).
  explicit PyRandom(int64_t seed);

  // getrandbits(k), 1 <= k <= 64: ceil(k/32) words, least significant word first,
  // the last (most significant) word shifted right to keep only its top bits.
  uint64_t getrandbits(int k);
  // _randbelow(n), n >= 1: k = bit_length(n) (of n itself, not n - 1), draw
  // getrandbits(k) until the value is < n.
  uint64_t randbelow(uint64_t n);
  // randint(a, b) = a + _randbelow(b - a + 1); throws sg::Error if b < a (Python's
  // "empty range" ValueError).
  int64_t randint(int64_t a, int64_t b);

  // choice(seq) = seq[_randbelow(len(seq))].
  template <typename T>
  const T& choice(const std::vector<T>& seq) {
    if (seq.empty()) fail("random choice from an empty sequence");
    return seq[randbelow(seq.size())];
  }
  // shuffle(x): for i = len - 1 down to 1: j = _randbelow(i + 1); swap(x[i], x[j]).
  template <typename T>
  void shuffle(std::vector<T>& x) {
    for (size_t i = x.size(); i-- > 1;) {
      size_t j = static_cast<size_t>(randbelow(i + 1));
      std::swap(x[i], x[j]);
    }
  }

  // When set, every _randbelow call is appended here (the golden trace format).
  void set_trace(std::vector<RandbelowCall>* trace) { trace_ = trace; }
  const Mt19937& generator() const { return mt_; }

 private:
  Mt19937 mt_;
  std::vector<RandbelowCall>* trace_ = nullptr;
};

// numpy legacy RandomState constructed from an int (0 <= seed < 2^32).
class NumpyRandomState {
 public:
  explicit NumpyRandomState(uint32_t seed) { mt_.init_genrand(seed); }

  // random_interval(max): uniform in [0, max]; 0 consumes nothing; otherwise
  // mask = smallest 2^k - 1 >= max and draw (word & mask) until it is <= max.
  // (numpy switches to 64-bit draws above 2^32 - 1; not needed, so not offered.)
  uint32_t random_interval(uint32_t max);
  // permutation(n) for an int n: [0, n) shuffled by the legacy Fisher-Yates:
  // for i = n - 1 down to 1: j = random_interval(i); swap(a[i], a[j]).
  std::vector<uint32_t> permutation(size_t n);

  const Mt19937& generator() const { return mt_; }

 private:
  Mt19937 mt_;
};

}  // namespace sg::rnd
