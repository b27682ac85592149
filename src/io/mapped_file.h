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
  // Bytes of the mapping in this process's resident memory (Linux's
  // /proc/self/smaps "Rss" of the mapping; 0 where that is unavailable): the
  // pages of the file this process has touched and still holds.
  size_t resident_bytes() const;

 private:
  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace sg
