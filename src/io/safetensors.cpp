#include "io/safetensors.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"

namespace sg {

using nlohmann::json;

int64_t TensorView::numel() const {
  int64_t n = 1;
  for (auto d : shape) n *= d;
  return n;
}

std::string TensorView::shape_str() const { return fmt::format("[{}]", fmt::join(shape, ", ")); }

namespace {
// Headers larger than this are refused (the Rust reference caps at 100 MB).
constexpr uint64_t kMaxHeader = 100u << 20;

uint64_t read_u64_le(const std::byte* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(p[i]);
  return v;
}
}  // namespace

SafetensorsHeader parse_safetensors_header(const std::byte* bytes, size_t size, const std::string& file) {
  if (size < 8) fail("{}: not a safetensors file (only {} bytes; truncated?)", file, size);
  const uint64_t n = read_u64_le(bytes);
  if (n > kMaxHeader) fail("{}: header length {} is larger than the 100 MB limit", file, n);
  if (n > size - 8) fail("{}: header length {} is larger than the file ({} bytes; truncated?)", file, n, size);
  SafetensorsHeader h;
  h.data_start = 8 + n;
  const uint64_t buffer_size = size - h.data_start;

  json j;
  try {
    j = json::parse(reinterpret_cast<const char*>(bytes + 8), reinterpret_cast<const char*>(bytes + 8 + n));
  } catch (const json::exception& e) {
    fail("{}: the header is not valid JSON ({})", file, e.what());
  }
  if (!j.is_object()) fail("{}: the header is not a JSON object", file);

  for (auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) fail("{}: __metadata__ is not an object", file);
      for (auto& [k, mv] : v.items()) {
        if (!mv.is_string()) fail("{}: __metadata__ value of \"{}\" is not a string", file, k);
        h.metadata[k] = mv.get<std::string>();
      }
      continue;
    }
    if (!v.is_object()) fail("{}: tensor {}: entry is not an object", file, name);
    auto dt = v.find("dtype");
    auto sh = v.find("shape");
    auto off = v.find("data_offsets");
    if (dt == v.end() || !dt->is_string()) fail("{}: tensor {}: missing or invalid dtype", file, name);
    if (sh == v.end() || !sh->is_array()) fail("{}: tensor {}: missing or invalid shape", file, name);
    if (off == v.end() || !off->is_array() || off->size() != 2 || !(*off)[0].is_number_unsigned() ||
        !(*off)[1].is_number_unsigned())
      fail("{}: tensor {}: data_offsets must be two non-negative integers", file, name);
    SafetensorsHeader::Entry e;
    e.name = name;
    auto dtype = parse_dtype(dt->get<std::string>());
    if (!dtype) fail("{}: tensor {}: unknown dtype \"{}\"", file, name, dt->get<std::string>());
    e.dtype = *dtype;
    // numel must not overflow: bound it by the byte count it has to match.
    uint64_t numel = 1;
    for (auto& d : *sh) {
      if (!d.is_number_unsigned()) fail("{}: tensor {}: shape entries must be non-negative integers", file, name);
      const uint64_t dim = d.get<uint64_t>();
      if (dim > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
        fail("{}: tensor {}: shape entry {} is too large", file, name, dim);
      if (dim != 0 && numel > std::numeric_limits<uint64_t>::max() / dim)
        fail("{}: tensor {}: shape overflows", file, name);
      numel *= dim;
      e.shape.push_back(static_cast<int64_t>(dim));
    }
    e.begin = (*off)[0].get<uint64_t>();
    e.end = (*off)[1].get<uint64_t>();
    if (e.begin > e.end) fail("{}: tensor {}: data_offsets [{}, {}) are reversed", file, name, e.begin, e.end);
    if (e.end > buffer_size)
      fail("{}: tensor {}: data_offsets [{}, {}) run past the end of the data ({} bytes; truncated?)", file, name,
           e.begin, e.end, buffer_size);
    const uint64_t elem = dtype_size(e.dtype);
    if (numel > std::numeric_limits<uint64_t>::max() / elem || numel * elem != e.end - e.begin)
      fail("{}: tensor {}: {} {} needs {} bytes but data_offsets span {}", file, name, dtype_name(e.dtype),
           fmt::format("[{}]", fmt::join(e.shape, ", ")), numel * elem, e.end - e.begin);
    h.tensors.push_back(std::move(e));
  }

  // No two tensors may share bytes.
  std::vector<const SafetensorsHeader::Entry*> sorted;
  for (auto& e : h.tensors) sorted.push_back(&e);
  std::sort(sorted.begin(), sorted.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
  for (size_t i = 1; i < sorted.size(); ++i)
    if (sorted[i]->begin < sorted[i - 1]->end)
      fail("{}: tensors {} and {} overlap (data_offsets)", file, sorted[i - 1]->name, sorted[i]->name);
  return h;
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path) : map_(path) {
  auto h = parse_safetensors_header(map_.data(), map_.size(), path.string());
  metadata_ = std::move(h.metadata);
  tensors_.reserve(h.tensors.size());
  for (auto& e : h.tensors) {
    TensorView t;
    t.name = e.name;
    t.dtype = e.dtype;
    t.shape = e.shape;
    t.data = map_.data() + h.data_start + e.begin;
    t.nbytes = e.end - e.begin;
    t.file = &map_.path();
    by_name_[t.name] = tensors_.size();
    tensors_.push_back(std::move(t));
  }
}

const TensorView* SafetensorsFile::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &tensors_[it->second];
}

void TensorStore::add(std::unique_ptr<SafetensorsFile> f) {
  for (auto& t : f->tensors()) {
    auto [it, fresh] = by_name_.emplace(t.name, &t);
    if (!fresh) fail("{}: tensor {} is also in {}", f->path().string(), t.name, it->second->file->string());
  }
  files_.push_back(std::move(f));
}

std::unique_ptr<TensorStore> TensorStore::open_file(const std::filesystem::path& file) {
  auto store = std::make_unique<TensorStore>();
  store->location_ = file;
  store->add(std::make_unique<SafetensorsFile>(file));
  return store;
}

std::unique_ptr<TensorStore> TensorStore::open_dir(const std::filesystem::path& dir) {
  const auto single = dir / "model.safetensors";
  const auto index = dir / "model.safetensors.index.json";
  if (std::filesystem::exists(single)) {
    auto store = open_file(single);
    store->location_ = dir;
    return store;
  }
  if (!std::filesystem::exists(index))
    fail("{}: no model.safetensors or model.safetensors.index.json (only safetensors checkpoints are supported)",
         dir.string());
  const json j = read_json(index);
  auto wm = j.find("weight_map");
  if (!j.is_object() || wm == j.end() || !wm->is_object()) fail("{}: missing \"weight_map\" object", index.string());
  // Open each shard once, in sorted order, and check the map against them.
  std::map<std::string, std::vector<std::string>> shard_tensors;
  for (auto& [tensor, shard] : wm->items()) {
    if (!shard.is_string()) fail("{}: weight_map entry {} is not a file name", index.string(), tensor);
    const auto name = shard.get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name == "..")
      fail("{}: weight_map entry {} names an invalid file \"{}\"", index.string(), tensor, name);
    shard_tensors[name].push_back(tensor);
  }
  auto store = std::make_unique<TensorStore>();
  store->location_ = dir;
  for (auto& [shard, tensors] : shard_tensors) {
    const auto path = dir / shard;
    if (!std::filesystem::exists(path)) fail("{}: shard {} listed in the index is missing", dir.string(), shard);
    auto f = std::make_unique<SafetensorsFile>(path);
    for (auto& t : tensors)
      if (!f->find(t)) fail("{}: tensor {} is listed in the index but missing", path.string(), t);
    store->add(std::move(f));
  }
  return store;
}

const TensorView* TensorStore::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : it->second;
}

const TensorView& TensorStore::get(std::string_view name) const {
  auto* t = find(name);
  if (!t) fail("{}: tensor {} is missing", location_.string(), name);
  return *t;
}

std::vector<std::string> TensorStore::names() const {
  std::vector<std::string> out;
  for (auto& [n, t] : by_name_) out.push_back(n);
  return out;
}

size_t TensorStore::bytes_on_disk() const {
  size_t n = 0;
  for (auto& f : files_) n += std::filesystem::file_size(f->path());
  return n;
}

size_t TensorStore::resident_bytes() const {
  size_t n = 0;
  for (auto& f : files_) n += f->resident_bytes();
  return n;
}

}  // namespace sg
