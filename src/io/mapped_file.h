#pragma once
// A read-only memory mapping of a whole file (weights stay in the page cache,
// shared with other processes, never copied).
#include <cstddef>
#include <filesystem>

namespace sg {

class MappedFile {
 public:
  explicit MappedFile(const std::filesystem::path& path);  // throws sg::Error naming the file
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  const std::byte* data() const { return data_; }
  size_t size() const { return size_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sg
