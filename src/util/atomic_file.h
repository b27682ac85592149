#pragma once
// Writing an output file so that it is either complete or absent: the bytes go
// to "<path>.tmp-<pid>" in the same directory and are renamed over <path> by
// commit(). A writer destroyed without commit() (an error was thrown) removes
// its temporary file, so no half-written output is ever left behind.
#include <cstdio>
#include <filesystem>
#include <string>
#include <string_view>

namespace sg {

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // Flushes, fsyncs and renames the temporary file to the final path.
  void commit();
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
  std::filesystem::path tmp_;
  std::FILE* file_ = nullptr;
};

// Convenience: the whole content at once.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Reads a whole file; throws sg::Error naming the file if it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace sg
