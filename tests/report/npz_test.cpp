// Tests of the .npz writer: exact .npy v1.0 headers, and archives that Python's
// zipfile and numpy (Debian's python3-numpy, when installed) open and read back
// exactly; same arrays -> same bytes; bad input -> sg::Error and no file.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <vector>

#include "report/npz.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::report {
namespace {

namespace fs = std::filesystem;

constexpr const char* kPython = "/usr/bin/python3";

bool have_numpy() {
  static const bool ok =
      fs::exists(kPython) && test::run_command(fmt::format("{} -c 'import numpy'", kPython)).status == 0;
  return ok;
}

TEST(Npy, HeaderIsVersion1AlignedTo64) {
  const std::vector<int64_t> shape = {200, 2048};
  const std::string h = npy_header("<f4", shape);
  ASSERT_EQ(h.size(), 128u);  // 10-byte preamble + 118-byte dict: 64-aligned
  EXPECT_EQ(h.substr(0, 8), std::string("\x93NUMPY\x01\x00", 8));
  EXPECT_EQ(static_cast<unsigned char>(h[8]) + 256 * static_cast<unsigned char>(h[9]), 118);
  const std::string dict = "{'descr': '<f4', 'fortran_order': False, 'shape': (200, 2048), }";
  EXPECT_EQ(h.substr(10, dict.size()), dict);
  EXPECT_EQ(h.back(), '\n');
  EXPECT_EQ(h.find_first_not_of(' ', 10 + dict.size()), h.size() - 1);
}

TEST(Npy, ShapeTuplesAsPython) {
  const std::vector<int64_t> scalar, one = {5};
  EXPECT_NE(npy_header("<f4", scalar).find("'shape': (), }"), std::string::npos);
  EXPECT_NE(npy_header("<f4", one).find("'shape': (5,), }"), std::string::npos);
  EXPECT_EQ(npy_header("<f4", one).size() % 64, 0u);
}

// Arrays of different ranks and sizes; the large one spans many of libzip's reads.
struct Sample {
  std::vector<float> matrix, vector, big, empty;
  Sample() : matrix(12), vector{1.5f, -2.25f, 1e-30f}, big(100000) {
    for (size_t i = 0; i < matrix.size(); ++i) matrix[i] = 0.5f * static_cast<float>(i);
    for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<float>(i % 977) - 300.25f;
  }
  NpzWriter writer() const {
    NpzWriter w;
    w.add_f32("zh_attn_delta_L0", {3, 4}, matrix);
    w.add_f32("vec", {3}, vector);
    w.add_f32("big", {100, 1000}, big);
    w.add_f32("none", {0, 7}, empty);
    return w;
  }
};

TEST(Npz, NumpyReadsEveryArrayBack) {
  if (!have_numpy()) GTEST_SKIP() << kPython << " with numpy is not installed (Debian: python3-numpy)";
  const auto dir = test::scratch_dir("npz_numpy");
  const Sample s;
  s.writer().write(dir / "a.npz");
  const std::string script = R"PY(
import sys, zipfile, numpy as np
path = sys.argv[1]
with zipfile.ZipFile(path) as z:
    assert z.testzip() is None
    infos = z.infolist()
    assert [i.filename for i in infos] == ['zh_attn_delta_L0.npy', 'vec.npy', 'big.npy', 'none.npy'], infos
    assert all(i.compress_type == zipfile.ZIP_DEFLATED for i in infos)
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos), [i.date_time for i in infos]
d = np.load(path)
assert sorted(d.files) == ['big', 'none', 'vec', 'zh_attn_delta_L0'], d.files
m = d['zh_attn_delta_L0']
assert m.dtype == np.float32 and m.shape == (3, 4) and m.flags.c_contiguous
assert (m == 0.5 * np.arange(12, dtype=np.float32).reshape(3, 4)).all()
assert (d['vec'] == np.array([1.5, -2.25, 1e-30], dtype=np.float32)).all()
big = d['big']
assert big.shape == (100, 1000)
assert (big.ravel() == (np.arange(100000) % 977).astype(np.float32) - np.float32(300.25)).all()
assert d['none'].shape == (0, 7) and d['none'].dtype == np.float32
print('ok')
)PY";
  write_file_atomic(dir / "check.py", script);
  auto r =
      test::run_command(fmt::format("{} '{}' '{}'", kPython, (dir / "check.py").string(), (dir / "a.npz").string()));
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, "ok\n");
}

TEST(Npz, SameArraysGiveTheSameBytes) {
  const auto dir = test::scratch_dir("npz_bytes");
  const Sample s;
  s.writer().write(dir / "a.npz");
  s.writer().write(dir / "b.npz");
  const std::string a = read_file(dir / "a.npz");
  EXPECT_EQ(a.substr(0, 4), std::string("PK\x03\x04", 4));
  EXPECT_EQ(a, read_file(dir / "b.npz"));
  // Deflate: the repetitive `big` array shrinks.
  EXPECT_LT(a.size(), 100000u * sizeof(float) / 2);
  // No temporary files left beside the archive.
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 2);
}

TEST(Npz, FifoGetsTheSameBytesAsAFile) {
  const auto dir = test::scratch_dir("npz_fifo");
  const Sample s;
  s.writer().write(dir / "a.npz");
  ASSERT_EQ(::mkfifo((dir / "pipe").c_str(), 0600), 0) << std::strerror(errno);
  test::FifoReader reader(dir / "pipe");
  s.writer().write(dir / "pipe");
  EXPECT_EQ(reader.finish(), read_file(dir / "a.npz"));
  EXPECT_TRUE(fs::is_fifo(fs::symlink_status(dir / "pipe")));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 2);
}

TEST(Npz, SymlinkKeepsPointingAtTheNewArchive) {
  const auto dir = test::scratch_dir("npz_link");
  const Sample s;
  fs::create_directories(dir / "elsewhere");
  write_file_atomic(dir / "elsewhere/deltas.npz", "old");
  fs::create_symlink("elsewhere/deltas.npz", dir / "link.npz");
  s.writer().write(dir / "link.npz");
  s.writer().write(dir / "plain.npz");
  EXPECT_TRUE(fs::is_symlink(dir / "link.npz"));
  EXPECT_EQ(read_file(dir / "elsewhere/deltas.npz"), read_file(dir / "plain.npz"));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir / "elsewhere"), fs::directory_iterator{}), 1);
}

TEST(Npz, BadInputIsAnErrorAndWritesNothing) {
  const auto dir = test::scratch_dir("npz_bad");
  const std::vector<float> v(6);
  NpzWriter w;
  w.add_f32("x", {2, 3}, v);
  EXPECT_THROW(w.add_f32("x", {6}, v), Error);
  EXPECT_THROW(w.add_f32("y", {4}, v), Error);
  EXPECT_THROW(w.add_f32("z", {-1, -6}, v), Error);
  EXPECT_THROW(w.add_f32("", {6}, v), Error);
  EXPECT_THROW(NpzWriter{}.write(dir / "empty.npz"), Error);
  EXPECT_FALSE(fs::exists(dir / "empty.npz"));
  // A directory in the way of the archive: one-line error naming it.
  write_file_atomic(dir / "file", "x");
  try {
    w.write(dir / "file" / "a.npz");
    ADD_FAILURE() << "no error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("file/a.npz"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find(std::strerror(ENOTDIR)), std::string::npos) << e.what();
  }
  // A directory where the archive should go, and a missing parent: refused, nothing created.
  fs::create_directories(dir / "d.npz");
  EXPECT_THROW(w.write(dir / "d.npz"), Error);
  EXPECT_TRUE(fs::is_empty(dir / "d.npz"));
  EXPECT_THROW(w.write(dir / "missing" / "a.npz"), Error);
  EXPECT_FALSE(fs::exists(dir / "missing"));
  fs::remove(dir / "d.npz");
  EXPECT_EQ(std::distance(fs::directory_iterator(dir), fs::directory_iterator{}), 1);
}

}  // namespace
}  // namespace sg::report
