#pragma once
// Writing an output file without ever clobbering what its path points at.
// What happens depends on what the path names (output_target() decides):
//
//  - a regular file, or nothing yet: the bytes go to "<file>.tmp-<pid>" in the
//    file's own directory and commit() fsyncs them and renames them over the
//    file, so the output is either complete or absent. A replaced file keeps its
//    permission bits. A writer destroyed without commit() (an error was thrown)
//    removes its temporary file: no half-written output is ever left behind.
//  - a symbolic link: followed (chains too, and a link to a file that does not
//    exist yet); its target is replaced as above, with the temporary file in the
//    target's directory, so the link stays a link and now shows the new content.
//  - "-", /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N: the descriptor
//    the process already has (a duplicate of it) is written through as a stream.
//  - a FIFO or a character device (/dev/null, a terminal): opened for writing
//    (no temporary file, no rename) and written through as a stream; opening a
//    FIFO waits for its reader, as any writer's open does. A stream keeps
//    whatever was written before an error: it cannot be taken back.
//  - refused with sg::Error "cannot write PATH: REASON", REASON being the
//    strerror() of the call that failed: a directory, a path whose parent
//    directory does not exist or is not a directory, an unwritable directory,
//    a symbolic link loop. Also refused: a block device (never a disk) and a
//    socket (open() cannot write one). Directories are never created here:
//    the caller makes the ones it means to have.
#include <filesystem>
#include <string>
#include <string_view>

namespace sg {

// What writing to a path means (see above). output_target() only looks: it
// creates, opens and truncates nothing, so commands call it up front.
struct OutputTarget {
  enum class Kind { Replace, Stream };
  Kind kind = Kind::Replace;
  std::filesystem::path path;  // as given (for messages)
  std::filesystem::path file;  // Replace: the file to replace (links resolved); Stream: what to open
  int fd = -1;                 // Stream: a descriptor of this process to write through instead (>= 0)
};

// Throws sg::Error "cannot write PATH: REASON" if the path cannot be written.
OutputTarget output_target(const std::filesystem::path& path);

class AtomicFile {
 public:
  explicit AtomicFile(std::filesystem::path path);
  ~AtomicFile();
  AtomicFile(const AtomicFile&) = delete;
  AtomicFile& operator=(const AtomicFile&) = delete;

  void write(const void* data, size_t size);
  void write(std::string_view text) { write(text.data(), text.size()); }
  // A file: flushes, fsyncs and renames the temporary file over the target. A
  // stream: closes it (our descriptor; a duplicated stdout stays open).
  void commit();
  const std::filesystem::path& path() const { return target_.path; }
  bool is_stream() const { return target_.kind == OutputTarget::Kind::Stream; }

 private:
  [[noreturn]] void fail_errno(int err) const;
  OutputTarget target_;
  std::filesystem::path tmp_;  // Replace only
  int fd_ = -1;
};

// Convenience: the whole content at once.
void write_file_atomic(const std::filesystem::path& path, std::string_view content);

// Reads a whole file; throws sg::Error naming the file and the reason if it cannot.
std::string read_file(const std::filesystem::path& path);

}  // namespace sg
