#include "cli/common.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "hub/resolve.h"
#include "io/ids_file.h"
#include "model/synthetic.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::cli {

std::unique_ptr<Model> load_model(const std::string& arg) { return Model::load(hub::resolve_model(arg)); }

std::filesystem::path demo_model_dir() {
  std::filesystem::path cache;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg) {
    cache = xdg;
  } else if (const char* home = std::getenv("HOME"); home && *home) {
    cache = std::filesystem::path(home) / ".cache";
  } else {
    cache = std::filesystem::temp_directory_path();
  }
  const auto dir = cache / "streamgauge" / "demo-pythia";
  // The spec's seed names the version: regenerate whenever it changes.
  const SyntheticSpec spec = demo_spec();
  const auto stamp = dir / ("seed-" + std::to_string(spec.seed));
  if (!std::filesystem::exists(stamp)) {
    write_synthetic_model(dir, spec);
    write_byte_tokenizer(dir);
    write_file_atomic(stamp, "random weights: numbers mean nothing\n");
  }
  return dir;
}

std::string plural(size_t n, const std::string& noun) { return std::to_string(n) + " " + noun + (n == 1 ? "" : "s"); }

std::string display_dir(const std::filesystem::path& dir) {
  std::string s = dir.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

std::filesystem::path default_out_dir(const Model& model, const std::string& experiment) {
  return std::filesystem::path("streamgauge-out") / model.name() / experiment;
}

void check_output_file(const std::string& option, const std::filesystem::path& path) {
  try {
    output_target(path);
  } catch (const Error& e) {
    fail("{}: {}", option, e.what());
  }
}

void check_output_dir(const std::string& option, const std::filesystem::path& dir,
                      const std::vector<std::string>& files) {
  namespace fs = std::filesystem;
  auto refuse = [&](int err, const std::string& detail = {}) {
    fail("{}: cannot write in {}: {}{}", option, dir.string(), std::strerror(err), detail);
  };
  if (dir.empty()) fail("{}: an empty directory name", option);
  if (dir == "-") fail("{} -: an output directory cannot be standard output", option);
  struct stat st;
  if (::stat(dir.c_str(), &st) == 0) {
    if (!S_ISDIR(st.st_mode)) refuse(ENOTDIR, " (it exists and is not a directory)");
    if (::access(dir.c_str(), W_OK | X_OK) != 0) refuse(errno);
    for (const auto& f : files) check_output_file(option, dir / f);
    return;
  }
  if (errno != ENOENT) refuse(errno);
  if (::lstat(dir.c_str(), &st) == 0) refuse(ENOENT, " (a symbolic link to a directory that does not exist)");
  // Missing: its nearest existing ancestor must be a directory we may create it in.
  fs::path p = dir;
  for (;;) {
    if (p.has_parent_path() && p.parent_path() != p) {
      p = p.parent_path();
    } else if (p.is_relative() && p != ".") {
      p = ".";
    } else {
      return;  // "/" or "." always exists: not reached
    }
    if (::stat(p.c_str(), &st) == 0) {
      if (!S_ISDIR(st.st_mode)) refuse(ENOTDIR, fmt::format(" ({} is not a directory)", p.string()));
      if (::access(p.c_str(), W_OK | X_OK) != 0) refuse(errno, fmt::format(" (cannot create it in {})", p.string()));
      return;
    }
    if (errno != ENOENT) refuse(errno);
  }
}

void create_output_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) fail("cannot create the output directory {}: {}", dir.string(), ec.message());
}

void check_input_file(const std::string& option, const std::filesystem::path& path) {
  auto refuse = [&](int err) { fail("{}: cannot read {}: {}", option, path.string(), std::strerror(err)); };
  struct stat st;
  if (::stat(path.c_str(), &st) != 0) refuse(errno);
  if (S_ISDIR(st.st_mode)) refuse(EISDIR);
  if (::access(path.c_str(), R_OK) != 0) refuse(errno);
}

void IdsInput::add_options(CLI::App* cmd) {
  cmd->add_option("--ids", ids, "A sequence of token ids, comma-separated (repeat for several sequences)");
  cmd->add_option("--ids-file", ids_file,
                  "JSONL file, one sequence per line: a JSON array of ids or an object {\"ids\": [...]}");
}

std::vector<std::vector<int32_t>> IdsInput::sequences() const {
  std::vector<std::vector<int32_t>> out;
  for (auto& s : ids) out.push_back(parse_id_list(s));
  if (!ids_file.empty()) {
    check_input_file("--ids-file", ids_file);
    for (auto& s : read_ids_file(ids_file)) out.push_back(std::move(s));
  }
  return out;
}

}  // namespace sg::cli
