#pragma once
// Writing safetensors files (atomically): tensors are laid out contiguously in
// the order added; the header is padded with spaces to a multiple of 8 bytes.
#include <cstdint>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "io/dtype.h"

namespace sg {

class SafetensorsWriter {
 public:
  // Copies the bytes. Throws if the name is already present or sizes disagree.
  void add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data, size_t nbytes);
  void add_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& values);
  void add_i64(const std::string& name, const std::vector<int64_t>& values);
  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }
  void write(const std::filesystem::path& path) const;

 private:
  struct Entry {
    std::string name;
    DType dtype;
    std::vector<int64_t> shape;
    std::vector<char> bytes;
  };
  std::vector<Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace sg
