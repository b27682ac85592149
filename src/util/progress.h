#pragma once
// A one-line progress indicator on stderr ("label  [#####     ] 12/24  3.1s"),
// drawn only when stderr is a terminal and the label is not empty; silent
// otherwise (pipes, CI, tests).
#include <chrono>
#include <cstddef>
#include <string>

namespace sg {

class Progress {
 public:
  Progress(std::string label, size_t total);
  ~Progress();  // finishes the line
  void set(size_t done);
  void tick() { set(done_ + 1); }
  static bool enabled();

 private:
  void draw();
  std::string label_;
  size_t total_ = 0, done_ = 0;
  bool on_ = false;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace sg
