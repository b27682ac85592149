#include "support/test_support.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <vector>

namespace sg::test {

// The weight-norm cache (experiments/weights_cache.h) of every test and of the
// commands tests run goes to the build tree, never to the user's ~/.cache
// (unless STREAMGAUGE_WEIGHT_CACHE is set already).
[[maybe_unused]] static const bool kTestWeightCache = [] {
  ::setenv("STREAMGAUGE_WEIGHT_CACHE", SG_BINARY_DIR "/test-weight-cache", 0);
  return true;
}();

const std::filesystem::path& shared_dir() {
  static const std::filesystem::path dir = [] {
    std::filesystem::path p;
    if (const char* env = std::getenv("STREAMGAUGE_SHARED")) {
      p = env;
    } else {
      p = std::filesystem::path(SG_SOURCE_DIR).parent_path() / "shared";
    }
    if (!std::filesystem::is_directory(p / "golden")) {
      std::cerr << "FATAL: the shared test data is missing: expected " << p.string()
                << "/golden (put the project's shared/ folder beside the checkout, "
                   "or set STREAMGAUGE_SHARED)\n";
      std::exit(1);
    }
    return std::filesystem::canonical(p);
  }();
  return dir;
}

namespace {
struct ScratchRegistry {
  std::vector<std::filesystem::path> dirs;
  ~ScratchRegistry() {
    std::error_code ec;
    for (auto& d : dirs) std::filesystem::remove_all(d, ec);
  }
};
ScratchRegistry& registry() {
  static ScratchRegistry r;
  return r;
}
}  // namespace

std::filesystem::path scratch_dir(const std::string& name) {
  auto dir = std::filesystem::path(SG_BINARY_DIR) / "test-scratch" / (name + "-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  registry().dirs.push_back(dir);
  return dir;
}

std::filesystem::path cli_path() { return std::filesystem::path(SG_BINARY_DIR) / "streamgauge"; }

FifoReader::FifoReader(std::filesystem::path fifo) : fifo_(std::move(fifo)) {
  thread_ = std::thread([this] {
    const int fd = ::open(fifo_.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      done_ = true;
      return;
    }
    std::array<char, 65536> buf;
    ssize_t n;
    while ((n = ::read(fd, buf.data(), buf.size())) > 0) data_.append(buf.data(), static_cast<size_t>(n));
    ::close(fd);
    done_ = true;
  });
}

FifoReader::~FifoReader() {
  if (thread_.joinable()) finish();
}

std::string FifoReader::finish() {
  // Opening for writing without waiting fails (ENXIO) while no reader has the
  // FIFO open, so try until the reader is done.
  while (!done_) {
    const int fd = ::open(fifo_.c_str(), O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd >= 0) ::close(fd);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  thread_.join();
  return data_;
}

CommandResult run_command(const std::string& command) {
  CommandResult r;
  std::string full = command + " 2>&1";
  FILE* pipe = ::popen(full.c_str(), "r");
  if (!pipe) return r;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = std::fread(buf.data(), 1, buf.size(), pipe)) > 0) r.output.append(buf.data(), n);
  int status = ::pclose(pipe);
  r.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

}  // namespace sg::test

namespace sg::test {

std::vector<GoldenCase> golden_cases() {
  std::vector<GoldenCase> out;
  for (const char* n : {"neox_parallel",
                        "neox_parallel_bf16",
                        "neox_parallel_sharded",
                        "neox_sequential",
                        "gptj",
                        "qwen2",
                        "qwen2_f16",
                        "llama",
                        "gpt2",
                        "gpt2_legacy_keys",
                        "llama_rope_llama3",
                        "llama_rope_linear",
                        "llama_rope_yarn",
                        "mistral",
                        "qwen3",
                        "gemma",
                        "gemma2",
                        "phi3",
                        "phi3_longrope",
                        "olmo2",
                        "gemma3_text",
                        "qwen2_moe",
                        "phi"})
    out.push_back({n, std::string("golden/models/") + n});
  out.push_back({"stories260k", "models/stories260k"});
  return out;
}

std::filesystem::path copy_model(const std::filesystem::path& src, const std::string& name) {
  auto dir = scratch_dir(name);
  for (auto& e : std::filesystem::directory_iterator(src))
    if (e.is_regular_file()) std::filesystem::copy(e.path(), dir / e.path().filename());
  return dir;
}

}  // namespace sg::test

namespace sg::test {

std::vector<std::vector<int32_t>> golden_readme_sequences() {
  return {{226}, {229, 29, 129, 164, 169, 254, 126}, {101, 34,  29,  0,   118, 113, 59,  142, 105, 91,  247,
                                                      118, 208, 114, 201, 11,  77,  138, 81,  210, 166, 7,
                                                      43,  231, 23,  29,  184, 183, 31,  189, 97,  255, 87}};
}

std::string check_close(const std::string& what, const float* c, const double* g, size_t n, int64_t width, double tol) {
  double max_g = 0, max_diff = 0;
  size_t worst = 0;
  for (size_t i = 0; i < n; ++i) {
    max_g = std::max(max_g, std::fabs(g[i]));
    const double diff = std::fabs(static_cast<double>(c[i]) - g[i]);
    if (!(diff <= max_diff)) {  // NaN counts as the worst
      max_diff = diff;
      worst = i;
    }
  }
  if (!(max_diff <= tol * max_g))
    return fmt::format("{}: max|c - g| = {:.3g} (element {}) > {:g} * max|g| = {:.3g}", what, max_diff, worst, tol,
                       tol * max_g);
  const size_t rows = width > 0 ? n / static_cast<size_t>(width) : 0;
  for (size_t r = 0; r < rows; ++r) {
    double dn = 0, gn = 0;
    for (int64_t j = 0; j < width; ++j) {
      const double gv = g[r * width + j], dv = c[r * width + j] - gv;
      dn += dv * dv;
      gn += gv * gv;
    }
    if (!(std::sqrt(dn) <= tol * std::sqrt(gn)))
      return fmt::format("{}: row {}: ||c - g|| = {:.3g} > {:g} * ||g|| = {:.3g}", what, r, std::sqrt(dn), tol,
                         tol * std::sqrt(gn));
  }
  return "";
}

}  // namespace sg::test
