#include "io/safetensors_writer.h"

#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape, const void* data,
                            size_t nbytes) {
  int64_t numel = 1;
  for (auto d : shape) numel *= d;
  if (static_cast<size_t>(numel) * dtype_size(dtype) != nbytes)
    fail("internal: tensor {} has {} bytes for its shape", name, nbytes);
  for (auto& e : entries_)
    if (e.name == name) fail("internal: tensor {} written twice", name);
  auto* p = static_cast<const char*>(data);
  entries_.push_back({name, dtype, std::move(shape), std::vector<char>(p, p + nbytes)});
}

void SafetensorsWriter::add_f32(const std::string& name, std::vector<int64_t> shape, const std::vector<float>& v) {
  add(name, DType::F32, std::move(shape), v.data(), v.size() * sizeof(float));
}

void SafetensorsWriter::add_i64(const std::string& name, const std::vector<int64_t>& v) {
  add(name, DType::I64, {static_cast<int64_t>(v.size())}, v.data(), v.size() * sizeof(int64_t));
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
  nlohmann::ordered_json header;
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (auto& e : entries_) {
    header[e.name] = {{"dtype", std::string(dtype_name(e.dtype))},
                      {"shape", e.shape},
                      {"data_offsets", {offset, offset + e.bytes.size()}}};
    offset += e.bytes.size();
  }
  std::string text = header.dump();
  text.append((8 - (8 + text.size()) % 8) % 8, ' ');
  const uint64_t n = text.size();
  char len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  AtomicFile f(path);
  f.write(len, 8);
  f.write(text);
  for (auto& e : entries_) f.write(e.bytes.data(), e.bytes.size());
  f.commit();
}

}  // namespace sg
