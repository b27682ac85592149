#include "hub/transfer_progress.h"

#include <fmt/format.h>

#include <cstdio>

#include "util/progress.h"

namespace sg::hub {

std::string format_bytes(uint64_t n) {
  static const char* kUnits[] = {"B", "kB", "MB", "GB", "TB"};
  double v = static_cast<double>(n);
  int u = 0;
  while (v >= 1000.0 && u < 4) {
    v /= 1000.0;
    ++u;
  }
  return u == 0 ? fmt::format("{} B", n) : fmt::format("{:.1f} {}", v, kUnits[u]);
}

TransferProgress::TransferProgress(std::string label, uint64_t total_bytes, size_t total_files, bool show)
    : label_(std::move(label)),
      total_bytes_(total_bytes),
      total_files_(total_files),
      on_(show && sg::Progress::enabled()),
      start_(std::chrono::steady_clock::now()) {
  if (on_) draw(true);
}

TransferProgress::~TransferProgress() {
  if (!on_) return;
  draw(true);
  std::fputc('\n', stderr);
}

void TransferProgress::add_bytes(uint64_t n) {
  received_ += n;
  if (on_) draw(false);
}

void TransferProgress::skip_bytes(uint64_t n) {
  skipped_ += n;
  if (on_) draw(false);
}

void TransferProgress::discard_bytes(uint64_t n) {
  // skipped_ may wrap below zero here; received_ + skipped_ (modulo 2^64) stays exact.
  skipped_ -= n;
}

void TransferProgress::file_done() {
  ++files_;
  if (on_) draw(true);
}

void TransferProgress::draw(bool force) {
  // Threads that find another one drawing simply skip: the next call redraws.
  std::unique_lock lock(draw_mutex_, std::try_to_lock);
  if (!lock.owns_lock()) return;
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_draw_ < std::chrono::milliseconds(125)) return;
  last_draw_ = now;

  const uint64_t received = received_, done = received + skipped_;
  const double secs = std::chrono::duration<double>(now - start_).count();
  const double rate = secs > 0 ? static_cast<double>(received) / secs : 0.0;
  constexpr int kWidth = 24;
  const int filled = total_bytes_ ? static_cast<int>(kWidth * std::min(done, total_bytes_) / total_bytes_) : kWidth;
  std::string bar(filled, '#');
  bar.resize(kWidth, ' ');
  std::string eta = "--:--";
  if (rate > 0 && total_bytes_ >= done) {
    const auto left = static_cast<uint64_t>(static_cast<double>(total_bytes_ - done) / rate);
    eta = fmt::format("{}:{:02}", left / 60, left % 60);
  }
  std::fprintf(stderr, "\r%s [%s] %s / %s  %s/s  ETA %s  files %zu/%zu\x1b[K", label_.c_str(), bar.c_str(),
               format_bytes(done).c_str(), format_bytes(total_bytes_).c_str(),
               format_bytes(static_cast<uint64_t>(rate)).c_str(), eta.c_str(), files_.load(), total_files_);
  std::fflush(stderr);
}

}  // namespace sg::hub
