#pragma once
// A ragged batch: token sequences of different lengths laid end to end. Every
// matrix product runs over all tokens at once; attention stays inside each
// sequence. Row r of an activation tensor is token r of this layout.
#include <cstdint>
#include <span>
#include <vector>

namespace sg {

struct Batch {
  std::vector<int32_t> tokens;      // all sequences, concatenated
  std::vector<int64_t> offsets{0};  // sequence i is rows [offsets[i], offsets[i+1])

  static Batch of(std::span<const std::vector<int32_t>> sequences) {
    Batch b;
    for (auto& s : sequences) b.add(s);
    return b;
  }
  void add(std::span<const int32_t> seq) {
    tokens.insert(tokens.end(), seq.begin(), seq.end());
    offsets.push_back(static_cast<int64_t>(tokens.size()));
  }
  size_t n_sequences() const { return offsets.size() - 1; }
  int64_t n_tokens() const { return static_cast<int64_t>(tokens.size()); }
  int64_t begin(size_t seq) const { return offsets[seq]; }
  int64_t length(size_t seq) const { return offsets[seq + 1] - offsets[seq]; }
  int64_t last_row(size_t seq) const { return offsets[seq + 1] - 1; }
  int64_t max_length() const {
    int64_t m = 0;
    for (size_t i = 0; i < n_sequences(); ++i) m = length(i) > m ? length(i) : m;
    return m;
  }
};

}  // namespace sg
