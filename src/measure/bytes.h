#pragma once
// A reducer's state as bytes (Reducer::save / restore): trivially copyable
// values and vectors of them, in the order written. Both ends are the same
// build of streamgauge, so no byte order or versioning is needed.
#include <cstddef>
#include <cstring>
#include <span>
#include <type_traits>
#include <vector>

#include "util/error.h"

namespace sg {

class ByteWriter {
 public:
  template <class T>
  void put(const T& v) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto* p = reinterpret_cast<const std::byte*>(&v);
    out_.insert(out_.end(), p, p + sizeof v);
  }
  template <class T>
  void put_span(std::span<const T> v) {
    static_assert(std::is_trivially_copyable_v<T>);
    put(static_cast<uint64_t>(v.size()));
    const auto* p = reinterpret_cast<const std::byte*>(v.data());
    out_.insert(out_.end(), p, p + v.size_bytes());
  }
  std::vector<std::byte> take() { return std::move(out_); }

 private:
  std::vector<std::byte> out_;
};

class ByteReader {
 public:
  explicit ByteReader(std::span<const std::byte> in) : in_(in) {}
  template <class T>
  T get() {
    static_assert(std::is_trivially_copyable_v<T>);
    T v;
    std::memcpy(&v, take(sizeof v), sizeof v);
    return v;
  }
  // Appends the next span's values to `out`.
  template <class T>
  void append_to(std::vector<T>& out) {
    static_assert(std::is_trivially_copyable_v<T>);
    const auto n = get<uint64_t>();
    if (n > (in_.size() - pos_) / sizeof(T)) fail("internal: a reducer's saved state is truncated");
    if (n == 0) return;  // (memcpy may not be given the null data() of an empty vector)
    const size_t old = out.size();
    out.resize(old + n);
    std::memcpy(out.data() + old, take(n * sizeof(T)), n * sizeof(T));
  }
  bool done() const { return pos_ == in_.size(); }

 private:
  const std::byte* take(size_t n) {
    if (n > in_.size() - pos_) fail("internal: a reducer's saved state is truncated");
    const std::byte* p = in_.data() + pos_;
    pos_ += n;
    return p;
  }
  std::span<const std::byte> in_;
  size_t pos_ = 0;
};

}  // namespace sg
