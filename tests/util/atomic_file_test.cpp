#include "util/atomic_file.h"

#include <gtest/gtest.h>

#include "support/test_support.h"
#include "util/error.h"

namespace sg {
namespace {

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

TEST(AtomicFile, ReadMissingFileNamesIt) {
  try {
    read_file("/nonexistent/x.json");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/x.json"), std::string::npos);
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
