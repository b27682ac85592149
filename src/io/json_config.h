#pragma once
// Reading config.json-like files: typed field access with HF's class defaults,
// aliases (n_embd / hidden_size), and one-line errors naming the file and field.
#include <filesystem>
#include <initializer_list>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

namespace sg {

class JsonConfig {
 public:
  // Parses text; `source` names the file in errors.
  JsonConfig(const std::string& text, std::string source);
  static JsonConfig load(const std::filesystem::path& path);

  const nlohmann::json& json() const { return j_; }
  const std::string& source() const { return source_; }

  // True if the key is present and not null.
  bool has(const std::string& key) const;
  // True if the key is present, even as null (for fields where HF's default for
  // an absent key differs from null, as Gemma 2's soft-caps).
  bool contains(const std::string& key) const { return j_.contains(key); }
  // The object at `key` as a config of its own, whose errors name "key.field".
  JsonConfig sub(const std::string& key) const;
  // The first of the keys present (and not null), or nullopt.
  std::optional<std::string> first_present(std::initializer_list<const char*> keys) const;

  // Required fields: throws "<file>: field <key> ..." if absent or of the wrong type.
  int64_t integer(std::initializer_list<const char*> keys) const;
  double number(std::initializer_list<const char*> keys) const;
  std::string string(std::initializer_list<const char*> keys) const;
  // An integer that must fit an int (a model dimension): a larger one is named as such.
  int dimension(std::initializer_list<const char*> keys) const;
  int dimension_or(std::initializer_list<const char*> keys, int dflt) const;
  // Optional fields with the HF default (null counts as absent).
  int64_t integer_or(std::initializer_list<const char*> keys, int64_t dflt) const;
  double number_or(std::initializer_list<const char*> keys, double dflt) const;
  bool boolean_or(std::initializer_list<const char*> keys, bool dflt) const;
  std::string string_or(std::initializer_list<const char*> keys, const std::string& dflt) const;

  [[noreturn]] void field_error(const std::string& key, const std::string& what) const;

 private:
  const nlohmann::json* lookup(std::initializer_list<const char*> keys, std::string* found) const;
  JsonConfig() = default;
  nlohmann::json j_;
  std::string source_;
  std::string prefix_;  // "rope_scaling." for a sub-config
};

}  // namespace sg
