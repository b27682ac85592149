#include "report/json_io.h"

#include <openssl/evp.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <vector>

#include "dist/comm.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/version.h"

namespace sg::report {

std::string dump_json(const nlohmann::json& value) {
  // nlohmann's serializer already prints doubles in shortest round-trip form
  // and non-finite numbers as null; `replace` keeps invalid UTF-8 in strings
  // (e.g. from a model name) from aborting a write at the very end of a run.
  return value.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

namespace {

std::string scalar_text(const nlohmann::json& v) {
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

bool is_flat_array(const nlohmann::json& v) {
  if (!v.is_array()) return false;
  for (const auto& e : v)
    if (e.is_structured()) return false;
  return true;
}

// `v` on one line: ", " between elements, ": " after keys.
std::string one_line(const nlohmann::json& v) {
  if (!v.is_structured()) return scalar_text(v);
  std::string out = v.is_array() ? "[" : "{";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!first) out += ", ";
    first = false;
    if (v.is_object()) out += scalar_text(nlohmann::json(it.key())) + ": ";
    out += one_line(it.value());
  }
  return out + (v.is_array() ? "]" : "}");
}

// Appends `v` whose first line starts at column `column` (after a key) and
// whose further lines are indented by `indent`.
void compact(const nlohmann::json& v, size_t indent, size_t column, size_t width, std::string& out) {
  if (!v.is_structured() || v.empty()) {
    out += one_line(v);
    return;
  }
  std::string line = one_line(v);
  if (is_flat_array(v) || column + line.size() <= width) {
    out += line;
    return;
  }
  const std::string pad(indent + 2, ' ');
  out += v.is_array() ? "[\n" : "{\n";
  bool first = true;
  for (auto it = v.begin(); it != v.end(); ++it) {
    if (!first) out += ",\n";
    first = false;
    out += pad;
    size_t col = pad.size();
    if (v.is_object()) {
      std::string key = scalar_text(nlohmann::json(it.key())) + ": ";
      out += key;
      col += key.size();
    }
    compact(it.value(), indent + 2, col, width, out);
  }
  out += '\n';
  out.append(indent, ' ');
  out += v.is_array() ? ']' : '}';
}

}  // namespace

std::string dump_json_compact(const nlohmann::json& value, size_t width) {
  std::string out;
  compact(value, 0, 0, width, out);
  return out;
}

void write_json(const std::filesystem::path& path, const nlohmann::json& value) {
  write_file_atomic(path, dump_json(value));
}

std::string sha256_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail("cannot read {}: {}", path.string(), std::strerror(errno));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1)
    fail("cannot hash {}: OpenSSL SHA-256 is unavailable", path.string());
  std::vector<char> buf(1 << 16);
  while (in) {
    in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
    if (in.gcount() > 0) EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(in.gcount()));
  }
  if (in.bad()) fail("cannot read {}", path.string());
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx.get(), digest, &len);
  static const char* hex = "0123456789abcdef";
  std::string out;
  for (unsigned int i = 0; i < len; ++i) {
    out += hex[digest[i] >> 4];
    out += hex[digest[i] & 15];
  }
  return out;
}

std::string utc_timestamp() {
  std::time_t t = std::time(nullptr);
  if (const char* epoch = std::getenv("SOURCE_DATE_EPOCH")) {
    char* end = nullptr;
    long long v = std::strtoll(epoch, &end, 10);
    if (end != epoch && *end == '\0' && v >= 0) t = static_cast<std::time_t>(v);
  }
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string command_line() {
  std::ifstream in("/proc/self/cmdline", std::ios::binary);
  std::string raw((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::string out;
  size_t start = 0;
  while (start < raw.size()) {
    size_t end = raw.find('\0', start);
    if (end == std::string::npos) end = raw.size();
    std::string arg = raw.substr(start, end - start);
    if (!out.empty()) out += ' ';
    bool plain = !arg.empty() && arg.find_first_not_of(
                                     "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                     "0123456789-_./=:,+@%") == std::string::npos;
    if (plain) {
      out += arg;
    } else {  // single-quote it the POSIX-shell way
      out += '\'';
      for (char c : arg) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
      out += '\'';
    }
    start = end + 1;
  }
  return out;
}

nlohmann::json provenance(const nlohmann::json& fields) {
  nlohmann::json p = {{"tool", "streamgauge"},
                      {"version", sg::version()},
                      {"command_line", command_line()},
                      {"created_utc", utc_timestamp()}};
  if (const auto& w = dist::world(); w.distributed()) p["mpi_ranks"] = w.size();
  if (const dist::Pipeline pipe = dist::pipeline(); pipe.on()) p["pipeline_stages"] = pipe.stages;
  if (!fields.is_null()) {
    if (!fields.is_object()) fail("provenance fields must be a JSON object");
    for (auto it = fields.begin(); it != fields.end(); ++it) p[it.key()] = it.value();
  }
  return p;
}

}  // namespace sg::report
