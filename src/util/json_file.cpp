#include "util/json_file.h"

#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {

std::string json_error_message(const nlohmann::json::exception& e) {
  std::string_view m = e.what();
  if (auto p = m.find("] "); p != std::string_view::npos) m.remove_prefix(p + 2);
  return std::string(m);
}

nlohmann::json parse_json(std::string_view text, const std::string& where) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    fail("{}: not valid JSON: {}", where, json_error_message(e));
  }
}

nlohmann::json read_json(const std::filesystem::path& file) { return parse_json(read_file(file), file.string()); }

}  // namespace sg
