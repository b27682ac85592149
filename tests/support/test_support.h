#pragma once
// Helpers shared by the tests: where the project's shared data lives, scratch
// directories, and reading golden safetensors files independently of src/io.
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <initializer_list>
#include <string>
#include <thread>
#include <vector>

namespace sg::test {

// ../shared beside the checkout (or $STREAMGAUGE_SHARED). Fails the test
// program with a clear message if it is missing.
const std::filesystem::path& shared_dir();

// A fresh empty directory under the build tree, removed at process exit.
std::filesystem::path scratch_dir(const std::string& name);

// The streamgauge executable built next to the tests.
std::filesystem::path cli_path();

// Reads a FIFO on a thread of its own: open() waits for a writer, then read()
// until the writer closes it.
class FifoReader {
 public:
  explicit FifoReader(std::filesystem::path fifo);
  ~FifoReader();
  FifoReader(const FifoReader&) = delete;
  FifoReader& operator=(const FifoReader&) = delete;
  // Everything read. If no writer ever came, opens the FIFO for writing once
  // (without waiting) so the reader's open() returns and reads nothing.
  std::string finish();

 private:
  std::filesystem::path fifo_;
  std::string data_;
  std::atomic<bool> done_{false};
  std::thread thread_;
};

// Runs a shell command, returns its exit status and captures stdout+stderr.
struct CommandResult {
  int status = -1;
  std::string output;
};
CommandResult run_command(const std::string& command);

}  // namespace sg::test

namespace sg::test {

// The golden models (shared/golden/README.md): the expected/<name> files and
// the model directory (relative to shared/), including the trained stories260k.
struct GoldenCase {
  std::string name;
  std::string model_dir;
};
std::vector<GoldenCase> golden_cases();

// Copies a model directory (e.g. a golden model) into a fresh scratch directory,
// so a test can damage it; returns the copy.
std::filesystem::path copy_model(const std::filesystem::path& src, const std::string& name);

}  // namespace sg::test

namespace sg::test {

// The three input sequences of the golden README, section 2 (the same for every
// golden model): T = 1, 7 and 33.
std::vector<std::vector<int32_t>> golden_readme_sequences();

// The golden README's check (section 9) of a float32 tensor c against a
// reference g, both n values in rows of `width`: max|c - g| <= tol * max|g| over
// the tensor and ||c[t] - g[t]|| <= tol * ||g[t]|| for every row t. Returns ""
// if it holds, else a one-line message starting with `what`.
std::string check_close(const std::string& what, const float* c, const double* g, size_t n, int64_t width,
                        double tol = 1e-4);

}  // namespace sg::test

namespace sg::test {

// A small deterministic random generator (splitmix64) that gives the same
// numbers on every platform (std:: distributions do not).
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [lo, hi] (the modulo bias is irrelevant here).
  int between(int lo, int hi) { return lo + static_cast<int>(next() % static_cast<uint64_t>(hi - lo + 1)); }
  template <typename T>
  const T& pick(std::initializer_list<T> items) {
    return items.begin()[next() % items.size()];
  }
  // n token ids below vocab.
  std::vector<int32_t> tokens(int n, int vocab) {
    std::vector<int32_t> ids(static_cast<size_t>(n));
    for (auto& t : ids) t = between(0, vocab - 1);
    return ids;
  }

 private:
  uint64_t state_;
};

}  // namespace sg::test
