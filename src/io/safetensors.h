#pragma once
// safetensors files: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end)}, "__metadata__": {...}},
// then the data buffer. Every header is validated before any tensor is used:
// sizes, dtypes, shapes against byte counts, offsets inside the buffer and not
// overlapping. Errors name the file and the tensor.
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "io/dtype.h"
#include "io/mapped_file.h"

namespace sg {

// A tensor inside a mapped file (no copy). `file` names where it lives for errors.
struct TensorView {
  std::string name;
  DType dtype = DType::F32;
  std::vector<int64_t> shape;
  const std::byte* data = nullptr;
  size_t nbytes = 0;
  const std::filesystem::path* file = nullptr;

  int64_t numel() const;
  size_t rank() const { return shape.size(); }
  int64_t dim(size_t i) const { return shape.at(i); }
  std::string shape_str() const;  // "[64, 256]"
};

// The parsed and validated header: tensor entries with offsets relative to the
// data buffer. Exposed separately so it can be fuzzed without a file.
struct SafetensorsHeader {
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    uint64_t begin, end;
  };
  std::vector<Entry> tensors;  // in header order
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;  // 8 + N
};

// Parses and validates the first `size` bytes of a safetensors file. `file_name`
// is used in error messages only.
SafetensorsHeader parse_safetensors_header(const std::byte* bytes, size_t size, const std::string& file_name);

class SafetensorsFile {
 public:
  explicit SafetensorsFile(const std::filesystem::path& path);
  const std::filesystem::path& path() const { return map_.path(); }
  const std::vector<TensorView>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  const TensorView* find(std::string_view name) const;
  size_t resident_bytes() const { return map_.resident_bytes(); }

 private:
  MappedFile map_;
  std::vector<TensorView> tensors_;
  std::map<std::string, size_t, std::less<>> by_name_;  // name -> index in tensors_
  std::map<std::string, std::string> metadata_;
};

// All tensors of a checkpoint: `model.safetensors`, or the shards listed in
// `model.safetensors.index.json`, or a single named .safetensors file.
class TensorStore {
 public:
  static std::unique_ptr<TensorStore> open_dir(const std::filesystem::path& model_dir);
  static std::unique_ptr<TensorStore> open_file(const std::filesystem::path& file);

  const TensorView* find(std::string_view name) const;
  // Like find, but throws sg::Error("<dir>: tensor <name> is missing") if absent.
  const TensorView& get(std::string_view name) const;
  std::vector<std::string> names() const;
  size_t bytes_on_disk() const;
  // Of its files' bytes, those this process holds in memory (MappedFile::resident_bytes).
  size_t resident_bytes() const;
  const std::filesystem::path& location() const { return location_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

 private:
  std::filesystem::path location_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, const TensorView*, std::less<>> by_name_;
  void add(std::unique_ptr<SafetensorsFile> f);
};

}  // namespace sg
