#pragma once
// Helpers shared by the tests: where the project's shared data lives, scratch
// directories, and reading golden safetensors files independently of src/io.
#include <atomic>
#include <filesystem>
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
