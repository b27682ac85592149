#pragma once
// Progress of a multi-file download on one stderr line:
//   "pull ORG/NAME [#######         ]  312.0/953.4 MB  41.2 MB/s  ETA 0:15  files 2/5"
// Thread-safe (every download thread reports its bytes); redrawn at most ~8 times
// a second; drawn only when stderr is a terminal (sg::Progress::enabled()).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace sg::hub {

class TransferProgress {
 public:
  TransferProgress(std::string label, uint64_t total_bytes, size_t total_files, bool show);
  ~TransferProgress();  // draws the final state and ends the line
  TransferProgress(const TransferProgress&) = delete;
  TransferProgress& operator=(const TransferProgress&) = delete;

  void add_bytes(uint64_t n);   // bytes received over the network
  void skip_bytes(uint64_t n);  // bytes already on disk (resumed): done, but not in the rate
  // Bytes counted as done were thrown away (a server ignored Range and resends
  // the file): done drops by n; the rate still counts what was received.
  void discard_bytes(uint64_t n);
  void file_done();

 private:
  void draw(bool force);
  std::string label_;
  uint64_t total_bytes_;
  size_t total_files_;
  bool on_;
  std::atomic<uint64_t> received_{0}, skipped_{0};
  std::atomic<size_t> files_{0};
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex draw_mutex_;
};

// "953.4 MB": decimal units, as huggingface_hub's progress bars show sizes.
std::string format_bytes(uint64_t n);

}  // namespace sg::hub
