#include "util/progress.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

namespace sg {

bool Progress::enabled() {
  static const bool on = ::isatty(STDERR_FILENO) && !std::getenv("STREAMGAUGE_NO_PROGRESS");
  return on;
}

Progress::Progress(std::string label, size_t total)
    : label_(std::move(label)),
      total_(total),
      on_(enabled() && !label_.empty()),
      start_(std::chrono::steady_clock::now()) {
  if (on_) draw();
}

Progress::~Progress() {
  if (on_) std::fprintf(stderr, "\n");
}

void Progress::set(size_t done) {
  done_ = done;
  if (on_) draw();
}

void Progress::draw() {
  constexpr int kWidth = 24;
  const int filled = total_ ? static_cast<int>(kWidth * done_ / total_) : kWidth;
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string bar(filled, '#');
  bar.resize(kWidth, ' ');
  std::fprintf(stderr, "\r%s [%s] %zu/%zu  %.1fs", label_.c_str(), bar.c_str(), done_, total_, secs);
  std::fflush(stderr);
}

}  // namespace sg
