#include "io/ids_file.h"

#include <charconv>
#include <limits>
#include <nlohmann/json.hpp>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/lines.h"

namespace sg {

std::vector<int32_t> parse_id_list(const std::string& text, const std::string& what) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= text.size()) {
    size_t end = text.find(',', pos);
    if (end == std::string::npos) end = text.size();
    std::string_view item(text.data() + pos, end - pos);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    int32_t v = 0;
    auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), v);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size() || v < 0)
      fail("{}: \"{}\" is not a comma-separated list of token ids", what, text);
    ids.push_back(v);
    pos = end + 1;
  }
  return ids;
}

std::vector<std::vector<int32_t>> parse_ids_jsonl(const std::string& text, const std::string& source) {
  std::vector<std::vector<int32_t>> out;
  const auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line(lines[i]);
    const size_t line_no = i + 1;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const nlohmann::json j = parse_json(line, fmt::format("{}:{}", source, line_no));
    const nlohmann::json* arr = &j;
    if (j.is_object()) {
      auto it = j.find("ids");
      if (it == j.end()) fail("{}:{}: object without an \"ids\" array", source, line_no);
      arr = &*it;
    }
    if (!arr->is_array() || arr->empty()) fail("{}:{}: expected a non-empty array of token ids", source, line_no);
    std::vector<int32_t> ids;
    for (auto& v : *arr) {
      if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > std::numeric_limits<int32_t>::max())
        fail("{}:{}: token ids must be non-negative integers", source, line_no);
      ids.push_back(static_cast<int32_t>(v.get<int64_t>()));
    }
    out.push_back(std::move(ids));
  }
  if (out.empty()) fail("{}: no sequences", source);
  return out;
}

std::vector<std::vector<int32_t>> read_ids_file(const std::filesystem::path& path) {
  return parse_ids_jsonl(read_file(path), path.string());
}

}  // namespace sg
