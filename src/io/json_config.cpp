#include "io/json_config.h"

#include <cmath>
#include <limits>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"

namespace sg {

JsonConfig::JsonConfig(const std::string& text, std::string source) : source_(std::move(source)) {
  j_ = parse_json(text, source_);
  if (!j_.is_object()) fail("{}: expected a JSON object", source_);
}

JsonConfig JsonConfig::load(const std::filesystem::path& path) { return JsonConfig(read_file(path), path.string()); }

void JsonConfig::field_error(const std::string& key, const std::string& what) const {
  fail("{}: field \"{}{}\" {}", source_, prefix_, key, what);
}

JsonConfig JsonConfig::sub(const std::string& key) const {
  auto it = j_.find(key);
  if (it == j_.end() || !it->is_object()) field_error(key, "must be an object");
  JsonConfig c;
  c.j_ = *it;
  c.source_ = source_;
  c.prefix_ = prefix_ + key + ".";
  return c;
}

const nlohmann::json* JsonConfig::lookup(std::initializer_list<const char*> keys, std::string* found) const {
  for (const char* k : keys) {
    auto it = j_.find(k);
    if (it != j_.end() && !it->is_null()) {
      *found = k;
      return &*it;
    }
  }
  *found = keys.size() ? *keys.begin() : "";
  return nullptr;
}

bool JsonConfig::has(const std::string& key) const {
  auto it = j_.find(key);
  return it != j_.end() && !it->is_null();
}

std::optional<std::string> JsonConfig::first_present(std::initializer_list<const char*> keys) const {
  for (const char* k : keys)
    if (has(k)) return std::string(k);
  return std::nullopt;
}

int JsonConfig::dimension(std::initializer_list<const char*> keys) const {
  const int64_t v = integer(keys);
  std::string k;
  lookup(keys, &k);
  if (v > std::numeric_limits<int>::max() || v < std::numeric_limits<int>::min())
    field_error(k, "is " + std::to_string(v) + ", implausibly large");
  return static_cast<int>(v);
}

int JsonConfig::dimension_or(std::initializer_list<const char*> keys, int dflt) const {
  std::string k;
  return lookup(keys, &k) ? dimension(keys) : dflt;
}

int64_t JsonConfig::integer(std::initializer_list<const char*> keys) const {
  std::string k;
  auto* v = lookup(keys, &k);
  if (!v) field_error(k, "is missing");
  if (v->is_number_integer()) return v->get<int64_t>();
  // Some configs write integers as 2048.0.
  if (v->is_number_float()) {
    const double d = v->get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9e15) return static_cast<int64_t>(d);
  }
  field_error(k, "must be an integer");
}

double JsonConfig::number(std::initializer_list<const char*> keys) const {
  std::string k;
  auto* v = lookup(keys, &k);
  if (!v) field_error(k, "is missing");
  if (!v->is_number()) field_error(k, "must be a number");
  return v->get<double>();
}

std::string JsonConfig::string(std::initializer_list<const char*> keys) const {
  std::string k;
  auto* v = lookup(keys, &k);
  if (!v) field_error(k, "is missing");
  if (!v->is_string()) field_error(k, "must be a string");
  return v->get<std::string>();
}

int64_t JsonConfig::integer_or(std::initializer_list<const char*> keys, int64_t dflt) const {
  std::string k;
  return lookup(keys, &k) ? integer(keys) : dflt;
}

double JsonConfig::number_or(std::initializer_list<const char*> keys, double dflt) const {
  std::string k;
  return lookup(keys, &k) ? number(keys) : dflt;
}

bool JsonConfig::boolean_or(std::initializer_list<const char*> keys, bool dflt) const {
  std::string k;
  auto* v = lookup(keys, &k);
  if (!v) return dflt;
  if (!v->is_boolean()) field_error(k, "must be true or false");
  return v->get<bool>();
}

std::string JsonConfig::string_or(std::initializer_list<const char*> keys, const std::string& dflt) const {
  std::string k;
  return lookup(keys, &k) ? string(keys) : dflt;
}

}  // namespace sg
