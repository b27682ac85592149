#include "util/atomic_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <memory>

#include "util/error.h"

namespace sg {

namespace {

namespace fs = std::filesystem;

// Longest chain of symbolic links followed, as the kernel's (ELOOP beyond).
constexpr int kMaxLinks = 40;

[[noreturn]] void refuse(const fs::path& path, int err, const std::string& detail = {}) {
  fail("cannot write {}: {}{}", path.string(), std::strerror(err), detail);
}

// N when dir/name is descriptor N of this process (/proc/<our pid>/fd/N, which
// /dev/stdout, /dev/fd/N and /proc/self/fd/N lead to), else -1.
int own_descriptor(const fs::path& dir, const fs::path& name) {
  static const fs::path mine = fs::path("/proc") / std::to_string(::getpid()) / "fd";
  if (dir != mine) return -1;
  const std::string s = name.string();
  int fd = -1;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), fd);
  return ec == std::errc() && end == s.data() + s.size() && fd >= 0 ? fd : -1;
}

// The directory `p` lies in, every link resolved; refuses a missing one or a non-directory.
fs::path real_parent(const fs::path& given, const fs::path& p) {
  const fs::path parent = p.has_parent_path() ? p.parent_path() : fs::path(".");
  std::unique_ptr<char, decltype(&std::free)> real(::realpath(parent.c_str(), nullptr), &std::free);
  if (!real) {
    const int err = errno;
    refuse(given, err, err == ENOENT ? fmt::format(" (the directory {} does not exist)", parent.string()) : "");
  }
  struct stat st;
  if (::stat(real.get(), &st) != 0) refuse(given, errno);
  if (!S_ISDIR(st.st_mode)) refuse(given, ENOTDIR, fmt::format(" ({} is not a directory)", parent.string()));
  return fs::path(real.get());
}

}  // namespace

OutputTarget output_target(const fs::path& path) {
  OutputTarget t;
  t.path = path;
  if (path.empty()) fail("cannot write an empty path");
  if (path == "-") {
    t.kind = OutputTarget::Kind::Stream;
    t.fd = STDOUT_FILENO;
    return t;
  }
  if (!path.has_filename()) refuse(path, EISDIR);  // "dir/": only a directory has such a name
  fs::path p = path;
  for (int links = 0;; ++links) {
    const fs::path dir = real_parent(path, p);
    const fs::path file = dir / p.filename();
    if (const int fd = own_descriptor(dir, p.filename()); fd >= 0) {
      t.kind = OutputTarget::Kind::Stream;
      t.fd = fd;
      t.file = file;
      return t;
    }
    struct stat st;
    if (::lstat(file.c_str(), &st) != 0) {
      if (errno != ENOENT) refuse(path, errno);
      // A new file (possibly the missing target of a link).
      if (::access(dir.c_str(), W_OK | X_OK) != 0) refuse(path, errno);
      t.file = file;
      return t;
    }
    if (S_ISLNK(st.st_mode)) {
      if (links == kMaxLinks) refuse(path, ELOOP);
      char buf[PATH_MAX];
      const ssize_t n = ::readlink(file.c_str(), buf, sizeof buf);
      if (n < 0) refuse(path, errno);
      if (n == static_cast<ssize_t>(sizeof buf)) refuse(path, ENAMETOOLONG);
      const fs::path to(std::string(buf, static_cast<size_t>(n)));
      p = to.is_absolute() ? to : dir / to;  // relative to the link's own directory
      if (!p.has_filename()) refuse(path, EISDIR);
      continue;
    }
    if (S_ISREG(st.st_mode)) {
      if (::access(dir.c_str(), W_OK | X_OK) != 0) refuse(path, errno);  // the temporary file goes there
      t.file = file;
      return t;
    }
    if (S_ISDIR(st.st_mode)) refuse(path, EISDIR);
    if (S_ISFIFO(st.st_mode) || S_ISCHR(st.st_mode)) {
      if (::access(file.c_str(), W_OK) != 0) refuse(path, errno);
      t.kind = OutputTarget::Kind::Stream;
      t.file = file;
      return t;
    }
    if (S_ISBLK(st.st_mode))
      fail(
          "cannot write {}: it is a block device (outputs go to files, FIFOs and character devices, never to a "
          "disk)",
          path.string());
    fail("cannot write {}: it is a socket or another special file that cannot be opened for writing", path.string());
  }
}

AtomicFile::AtomicFile(fs::path path) : target_(output_target(path)) {
  if (target_.kind == OutputTarget::Kind::Stream) {
    fd_ = target_.fd >= 0 ? ::fcntl(target_.fd, F_DUPFD_CLOEXEC, 0)
                          : ::open(target_.file.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd_ < 0) fail_errno(errno);
    return;
  }
  fs::path tmp = target_.file;
  tmp += ".tmp-" + std::to_string(::getpid());
  ::unlink(tmp.c_str());  // a leftover of a killed run with our pid; O_EXCL below never follows a link
  fd_ = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  if (fd_ < 0) fail_errno(errno);
  tmp_ = std::move(tmp);
  struct stat st;
  if (::stat(target_.file.c_str(), &st) == 0 && S_ISREG(st.st_mode))
    (void)::fchmod(fd_, st.st_mode & 07777);  // best effort: a replaced file keeps its permissions
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!tmp_.empty()) ::unlink(tmp_.c_str());
}

void AtomicFile::fail_errno(int err) const { refuse(target_.path, err); }

void AtomicFile::write(const void* data, size_t size) {
  if (fd_ < 0) fail("cannot write {}: already committed", target_.path.string());
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    const ssize_t n = ::write(fd_, p, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail_errno(errno);
    }
    p += n;
    size -= static_cast<size_t>(n);
  }
}

void AtomicFile::commit() {
  if (fd_ < 0) fail("cannot write {}: already committed", target_.path.string());
  if (target_.kind == OutputTarget::Kind::Replace && ::fsync(fd_) != 0) fail_errno(errno);
  const int fd = fd_;
  fd_ = -1;
  if (::close(fd) != 0 && errno != EINTR) fail_errno(errno);
  if (target_.kind == OutputTarget::Kind::Stream) return;
  if (::rename(tmp_.c_str(), target_.file.c_str()) != 0) fail_errno(errno);  // the destructor removes tmp_
  tmp_.clear();
}

void write_file_atomic(const fs::path& path, std::string_view content) {
  AtomicFile f(path);
  f.write(content);
  f.commit();
}

std::string read_file(const fs::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail("cannot read {}: {}", path.string(), std::strerror(errno));
  struct Closer {
    int fd;
    ~Closer() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) fail("cannot read {}: {}", path.string(), std::strerror(errno));
  if (S_ISDIR(st.st_mode)) fail("cannot read {}: {}", path.string(), std::strerror(EISDIR));
  std::string out;
  if (S_ISREG(st.st_mode)) out.reserve(static_cast<size_t>(st.st_size));
  char buf[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail("cannot read {}: {}", path.string(), std::strerror(errno));
    }
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

}  // namespace sg
