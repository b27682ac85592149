#pragma once
// NumPy .npz archives (what np.savez_compressed writes and numpy.load opens):
// a zip file with one member "<name>.npy" per array, written with libzip. Each
// member is a .npy file, format version 1.0: the magic "\x93NUMPY", version
// bytes 1 0, a little-endian uint16 header length, then the header, a Python
// dict literal {'descr': '<f4', 'fortran_order': False, 'shape': (200, 2048), }
// padded with spaces and ended by '\n' so the data starts at a multiple of 64
// bytes (numpy's own alignment), then the raw C-order data.
//
// Members are deflate-compressed like np.savez_compressed. Member times are
// fixed (1980-01-01 00:00, as numpy's zipfile members), so the same arrays give
// the same bytes. libzip builds the archive in memory (it seeks back to
// finish each member, which a FIFO or standard output cannot do), so writing
// takes the compressed size in memory on top of the arrays; the bytes are then
// written like every output (util/atomic_file.h): a regular file or a link's
// target is replaced atomically (on any error nothing is left behind), while
// "-", a FIFO or a character device get the archive as a stream.
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sg::report {

// The .npy v1.0 preamble (magic, version, length, padded header) of a C-order
// array of dtype `descr` (e.g. "<f4"). Throws sg::Error if the header does not
// fit v1.0's 16-bit length.
std::string npy_header(std::string_view descr, std::span<const int64_t> shape);

class NpzWriter {
 public:
  // Adds a float32 array. The data are not copied: they are read in write(), so
  // they must stay valid until then. Throws sg::Error for an empty or repeated
  // name, a negative dimension, or a shape whose product is not data.size().
  void add_f32(const std::string& name, std::vector<int64_t> shape, std::span<const float> data);

  // Writes the archive (members in the order added). Throws sg::Error naming
  // the file (and libzip's reason) if it cannot, or if no array was added.
  void write(const std::filesystem::path& path) const;

 private:
  struct Array {
    std::string name;
    std::string header;  // npy_header() of the array
    std::span<const float> data;
  };
  std::vector<Array> arrays_;
};

}  // namespace sg::report
