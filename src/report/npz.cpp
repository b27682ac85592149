#include "report/npz.h"

#include <zip.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <ctime>
#include <memory>

#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::report {

static_assert(std::endian::native == std::endian::little, "the .npy writer stores '<f4' data as the host's bytes");

namespace {

constexpr char kMagic[] = "\x93NUMPY";
constexpr size_t kPreamble = 6 + 2 + 2;  // magic, version, header length
constexpr size_t kAlign = 64;

// Python's repr of a shape tuple: (), (5,), (200, 2048).
std::string shape_tuple(std::span<const int64_t> shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  if (shape.size() == 1) s += ",";
  return s + ")";
}

// 1980-01-01 00:00 in local time: the earliest DOS date, which libzip stores
// as exactly that whatever the time zone (numpy's members carry the same).
time_t fixed_member_time() {
  std::tm tm{};
  tm.tm_year = 80;
  tm.tm_mon = 0;
  tm.tm_mday = 1;
  tm.tm_isdst = -1;
  return std::mktime(&tm);
}

// libzip pulls a member's bytes through this callback while it writes the
// archive: the .npy header, then the array's data, without copying the array.
struct MemberSource {
  std::string_view header;
  std::span<const std::byte> data;
  time_t mtime = 0;
  uint64_t pos = 0;
  zip_error_t error;

  MemberSource() { zip_error_init(&error); }
  ~MemberSource() { zip_error_fini(&error); }
  MemberSource(const MemberSource&) = delete;
  MemberSource& operator=(const MemberSource&) = delete;
  uint64_t size() const { return header.size() + data.size(); }
};

zip_int64_t member_callback(void* state, void* out, zip_uint64_t len, zip_source_cmd_t cmd) {
  auto* m = static_cast<MemberSource*>(state);
  switch (cmd) {
    case ZIP_SOURCE_OPEN: m->pos = 0; return 0;
    case ZIP_SOURCE_READ: {
      auto* dst = static_cast<std::byte*>(out);
      uint64_t done = 0;
      while (done < len && m->pos < m->size()) {
        const bool in_header = m->pos < m->header.size();
        const std::byte* src = in_header ? reinterpret_cast<const std::byte*>(m->header.data()) + m->pos
                                         : m->data.data() + (m->pos - m->header.size());
        const uint64_t left = in_header ? m->header.size() - m->pos : m->size() - m->pos;
        const uint64_t n = std::min<uint64_t>(left, len - done);
        std::memcpy(dst + done, src, n);
        done += n;
        m->pos += n;
      }
      return static_cast<zip_int64_t>(done);
    }
    case ZIP_SOURCE_CLOSE:
    case ZIP_SOURCE_FREE:  // the MemberSource belongs to NpzWriter::write()
      return 0;
    case ZIP_SOURCE_STAT: {
      auto* st = ZIP_SOURCE_GET_ARGS(zip_stat_t, out, len, &m->error);
      if (!st) return -1;
      zip_stat_init(st);
      st->size = m->size();
      st->mtime = m->mtime;
      st->valid |= ZIP_STAT_SIZE | ZIP_STAT_MTIME;
      return sizeof(zip_stat_t);
    }
    case ZIP_SOURCE_ERROR: return zip_error_to_data(&m->error, out, len);
    case ZIP_SOURCE_SUPPORTS:
      return zip_source_make_command_bitmap(ZIP_SOURCE_OPEN, ZIP_SOURCE_READ, ZIP_SOURCE_CLOSE, ZIP_SOURCE_STAT,
                                            ZIP_SOURCE_ERROR, ZIP_SOURCE_FREE, static_cast<zip_source_cmd_t>(-1));
    default: zip_error_set(&m->error, ZIP_ER_OPNOTSUPP, 0); return -1;
  }
}

// Owns an open archive; discards it (nothing written) unless closed.
struct ZipArchive {
  zip_t* z = nullptr;
  ~ZipArchive() {
    if (z) zip_discard(z);
  }
};

}  // namespace

std::string npy_header(std::string_view descr, std::span<const int64_t> shape) {
  std::string dict =
      "{'descr': '" + std::string(descr) + "', 'fortran_order': False, 'shape': " + shape_tuple(shape) + ", }";
  // Spaces, then '\n', up to the next multiple of kAlign of the whole preamble.
  const size_t total = (kPreamble + dict.size() + 1 + kAlign - 1) / kAlign * kAlign;
  const size_t header_len = total - kPreamble;
  if (header_len > 0xFFFF) fail("npy header of {} bytes does not fit format version 1.0", header_len);
  dict.append(header_len - dict.size() - 1, ' ');
  dict += '\n';
  std::string out(kMagic, 6);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(header_len & 0xFF);
  out += static_cast<char>(header_len >> 8);
  return out + dict;
}

void NpzWriter::add_f32(const std::string& name, std::vector<int64_t> shape, std::span<const float> data) {
  if (name.empty()) fail("npz: an array needs a name");
  for (const auto& a : arrays_)
    if (a.name == name) fail("npz: array '{}' added twice", name);
  uint64_t count = 1;
  for (int64_t d : shape) {
    if (d < 0) fail("npz: array '{}' has a negative dimension ({})", name, d);
    count *= static_cast<uint64_t>(d);
  }
  if (count != data.size())
    fail("npz: array '{}' has shape {} ({} elements) but {} values", name, shape_tuple(shape), count, data.size());
  arrays_.push_back({name, npy_header("<f4", shape), data});
}

void NpzWriter::write(const std::filesystem::path& path) const {
  // libzip writes no file at all for an archive without members.
  if (arrays_.empty()) fail("{}: an npz archive needs at least one array", path.string());
  output_target(path);  // a bad path is refused before any compression
  // The archive is built in memory (libzip seeks back to finish each member, which
  // a FIFO or standard output cannot do), then written like every other output.
  zip_error_t err;
  zip_error_init(&err);
  zip_source_t* buffer = zip_source_buffer_create(nullptr, 0, 0, &err);
  if (!buffer) {
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    fail("{}: cannot create the npz archive: {}", path.string(), why);
  }
  ZipArchive archive{zip_open_from_source(buffer, ZIP_CREATE | ZIP_TRUNCATE, &err)};
  if (!archive.z) {
    zip_source_free(buffer);
    const std::string why = zip_error_strerror(&err);
    zip_error_fini(&err);
    fail("{}: cannot create the npz archive: {}", path.string(), why);
  }
  zip_error_fini(&err);
  // The archive owns the buffer now; our own reference keeps it past zip_close(), which writes into it.
  zip_source_keep(buffer);
  std::unique_ptr<zip_source_t, decltype(&zip_source_free)> keep(buffer, &zip_source_free);
  // Sources must live until zip_close() has read them.
  std::vector<std::unique_ptr<MemberSource>> sources;
  const time_t mtime = fixed_member_time();
  for (const auto& a : arrays_) {
    auto m = std::make_unique<MemberSource>();
    m->header = a.header;
    m->data = std::as_bytes(a.data);
    m->mtime = mtime;
    zip_source_t* src = zip_source_function(archive.z, member_callback, m.get());
    if (!src) fail("{}: cannot add '{}.npy': {}", path.string(), a.name, zip_strerror(archive.z));
    const std::string member = a.name + ".npy";
    const zip_int64_t index = zip_file_add(archive.z, member.c_str(), src, ZIP_FL_ENC_UTF_8);
    if (index < 0) {
      zip_source_free(src);
      fail("{}: cannot add '{}': {}", path.string(), member, zip_strerror(archive.z));
    }
    if (zip_set_file_compression(archive.z, static_cast<zip_uint64_t>(index), ZIP_CM_DEFLATE, 0) != 0)
      fail("{}: cannot compress '{}': {}", path.string(), member, zip_strerror(archive.z));
    sources.push_back(std::move(m));
  }
  if (zip_close(archive.z) != 0) fail("{}: cannot write the npz archive: {}", path.string(), zip_strerror(archive.z));
  archive.z = nullptr;

  if (zip_source_open(buffer) != 0)
    fail("{}: cannot read the npz archive back: {}", path.string(), zip_error_strerror(zip_source_error(buffer)));
  AtomicFile out(path);
  std::vector<char> chunk(1 << 20);
  for (;;) {
    const zip_int64_t n = zip_source_read(buffer, chunk.data(), chunk.size());
    if (n < 0) {
      const std::string why = zip_error_strerror(zip_source_error(buffer));
      zip_source_close(buffer);
      fail("{}: cannot read the npz archive back: {}", path.string(), why);
    }
    if (n == 0) break;
    out.write(chunk.data(), static_cast<size_t>(n));
  }
  zip_source_close(buffer);
  out.commit();
}

}  // namespace sg::report
