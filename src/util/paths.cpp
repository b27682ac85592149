#include "util/paths.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {

std::string display_dir(const std::filesystem::path& dir) {
  std::string s = dir.lexically_normal().string();
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
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

}  // namespace sg
