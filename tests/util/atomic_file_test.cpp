#include "util/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "support/test_support.h"
#include "util/error.h"

namespace sg {
namespace {

namespace fs = std::filesystem;

size_t entries(const fs::path& dir) {
  return static_cast<size_t>(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}));
}

// The message of the sg::Error that writing `content` to `path` throws ("" if none).
std::string write_error(const fs::path& path, std::string_view content = "x") {
  try {
    write_file_atomic(path, content);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(AtomicFile, CommitWritesTheFile) {
  auto dir = test::scratch_dir("atomic");
  write_file_atomic(dir / "a.txt", "hello");
  EXPECT_EQ(read_file(dir / "a.txt"), "hello");
}

TEST(AtomicFile, AbandonedWriteLeavesNothing) {
  auto dir = test::scratch_dir("atomic2");
  {
    AtomicFile f(dir / "b.txt");
    f.write("partial");
  }
  EXPECT_FALSE(std::filesystem::exists(dir / "b.txt"));
  EXPECT_TRUE(std::filesystem::is_empty(dir));
}

TEST(AtomicFile, AbandonedWriteKeepsTheOldFile) {
  auto dir = test::scratch_dir("atomic_keep");
  write_file_atomic(dir / "b.txt", "old");
  {
    AtomicFile f(dir / "b.txt");
    f.write("partial");
  }
  EXPECT_EQ(read_file(dir / "b.txt"), "old");
  EXPECT_EQ(entries(dir), 1u);
}

TEST(AtomicFile, ReplacesARegularFileKeepingItsPermissions) {
  auto dir = test::scratch_dir("atomic_mode");
  write_file_atomic(dir / "a.txt", "old");
  fs::permissions(dir / "a.txt", fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  write_file_atomic(dir / "a.txt", "new");
  EXPECT_EQ(read_file(dir / "a.txt"), "new");
  EXPECT_EQ(fs::status(dir / "a.txt").permissions(),
            fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read);
  EXPECT_EQ(entries(dir), 1u);  // no temporary file left
}

TEST(AtomicFile, FifoIsWrittenThrough) {
  const auto dir = test::scratch_dir("atomic_fifo");
  const auto fifo = dir / "pipe";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0) << std::strerror(errno);
  const auto target = output_target(fifo);
  EXPECT_EQ(target.kind, OutputTarget::Kind::Stream);
  test::FifoReader reader(fifo);
  std::string content(300000, 'a');  // more than a pipe's buffer: the writer waits for the reader
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>('a' + i % 26);
  write_file_atomic(fifo, content);
  EXPECT_EQ(reader.finish(), content);
  // Still the FIFO, and nothing written beside it.
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(fifo)));
  EXPECT_EQ(entries(dir), 1u);
}

TEST(AtomicFile, SymlinkIsFollowedAndKept) {
  const auto dir = test::scratch_dir("atomic_link");
  fs::create_directories(dir / "links");
  fs::create_directories(dir / "data");
  write_file_atomic(dir / "data/t.txt", "old");
  fs::create_symlink("../data/t.txt", dir / "links/l");  // relative to the link's directory
  fs::create_symlink("l", dir / "links/l2");             // a chain of two
  EXPECT_EQ(output_target(dir / "links/l2").file, fs::canonical(dir / "data") / "t.txt");

  write_file_atomic(dir / "links/l2", "new");
  EXPECT_TRUE(fs::is_symlink(dir / "links/l"));
  EXPECT_TRUE(fs::is_symlink(dir / "links/l2"));
  EXPECT_EQ(fs::read_symlink(dir / "links/l"), "../data/t.txt");
  EXPECT_EQ(read_file(dir / "data/t.txt"), "new");
  EXPECT_EQ(read_file(dir / "links/l2"), "new");
  // The temporary file went beside the target and is gone.
  EXPECT_EQ(entries(dir / "links"), 2u);
  EXPECT_EQ(entries(dir / "data"), 1u);
}

TEST(AtomicFile, LinkToAMissingFileCreatesTheTarget) {
  const auto dir = test::scratch_dir("atomic_dangling");
  fs::create_symlink("new.txt", dir / "l");
  write_file_atomic(dir / "l", "made");
  EXPECT_TRUE(fs::is_symlink(dir / "l"));
  EXPECT_EQ(read_file(dir / "new.txt"), "made");
  // A link into a directory that does not exist is refused, naming the reason.
  fs::create_symlink("nowhere/x", dir / "l3");
  const std::string e = write_error(dir / "l3");
  EXPECT_NE(e.find(std::strerror(ENOENT)), std::string::npos) << e;
  EXPECT_FALSE(fs::exists(dir / "nowhere"));
}

TEST(AtomicFile, SymlinkLoopIsRefused) {
  const auto dir = test::scratch_dir("atomic_loop");
  fs::create_symlink("b", dir / "a");
  fs::create_symlink("a", dir / "b");
  const std::string e = write_error(dir / "a");
  EXPECT_NE(e.find(std::strerror(ELOOP)), std::string::npos) << e;
}

TEST(AtomicFile, OwnDescriptorIsWrittenThrough) {
  // /dev/fd/N (what /dev/stdout is, for N = 1) is the descriptor itself: here a pipe of ours.
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);
  for (const std::string prefix : {"/dev/fd/", "/proc/self/fd/"}) {
    const fs::path path = prefix + std::to_string(fds[1]);
    const auto target = output_target(path);
    EXPECT_EQ(target.kind, OutputTarget::Kind::Stream) << path;
    EXPECT_EQ(target.fd, fds[1]) << path;
    write_file_atomic(path, "through");
    char buf[16] = {};
    EXPECT_EQ(::read(fds[0], buf, sizeof buf), 7);
    EXPECT_EQ(std::string(buf), "through");
  }
  EXPECT_EQ(::write(fds[1], "!", 1), 1);  // ours stays open: the writer closed a duplicate
  ::close(fds[0]);
  ::close(fds[1]);
  const auto dash = output_target("-");
  EXPECT_EQ(dash.kind, OutputTarget::Kind::Stream);
  EXPECT_EQ(dash.fd, STDOUT_FILENO);
}

TEST(AtomicFile, DirectoryIsRefusedWithTheRealReason) {
  const auto dir = test::scratch_dir("atomic_dir");
  fs::create_directories(dir / "sub");
  errno = 0;  // the old writer reported a stale errno: "Success"
  for (const fs::path& p : {dir / "sub", dir / "sub/", dir / "new/"}) {
    const std::string e = write_error(p);
    EXPECT_NE(e.find("cannot write " + p.string() + ": " + std::strerror(EISDIR)), std::string::npos) << e;
    EXPECT_EQ(e.find("Success"), std::string::npos) << e;
  }
  EXPECT_TRUE(fs::is_directory(dir / "sub"));
  EXPECT_TRUE(fs::is_empty(dir / "sub"));
  EXPECT_FALSE(fs::exists(dir / "new"));
}

TEST(AtomicFile, MissingParentIsRefusedNotCreated) {
  const auto dir = test::scratch_dir("atomic_parent");
  const std::string e = write_error(dir / "missing/deeper/x.txt");
  EXPECT_NE(e.find("cannot write " + (dir / "missing/deeper/x.txt").string() + ": " + std::strerror(ENOENT)),
            std::string::npos)
      << e;
  EXPECT_TRUE(fs::is_empty(dir));
  EXPECT_THROW(AtomicFile(dir / "missing/x.txt"), Error);
}

TEST(AtomicFile, PathUnderARegularFileIsRefused) {
  // Fails even for root: a regular file cannot hold a directory entry.
  const auto dir = test::scratch_dir("atomic_notdir");
  write_file_atomic(dir / "file", "keep");
  for (const fs::path& p : {dir / "file/x", dir / "file/sub/x"}) {
    const std::string e = write_error(p);
    EXPECT_NE(e.find("cannot write " + p.string() + ": " + std::strerror(ENOTDIR)), std::string::npos) << e;
  }
  EXPECT_EQ(read_file(dir / "file"), "keep");
  EXPECT_EQ(entries(dir), 1u);
}

TEST(AtomicFile, ReadMissingFileNamesIt) {
  try {
    read_file("/nonexistent/x.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.json"), std::string::npos);
    EXPECT_NE(std::string(e.what()).find(std::strerror(ENOENT)), std::string::npos) << e.what();
  }
}

TEST(AtomicFile, ReadDirectoryGivesTheReason) {
  const auto dir = test::scratch_dir("atomic_readdir");
  try {
    read_file(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(std::strerror(EISDIR)), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace sg

#include "util/lines.h"

namespace sg {
namespace {

TEST(SplitLines, CrLfAndNoEmptyLastLine) {
  EXPECT_EQ(split_lines("a\r\nb\n\nc\n"), (std::vector<std::string_view>{"a", "b", "", "c"}));
  EXPECT_EQ(split_lines("x"), (std::vector<std::string_view>{"x"}));
  EXPECT_TRUE(split_lines("").empty());
}

}  // namespace
}  // namespace sg
