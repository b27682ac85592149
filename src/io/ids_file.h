#pragma once
// Token-id inputs shared by every command: "--ids 5,17,3" lists and JSONL files
// with one sequence per line, either a JSON array of ids or {"ids": [...]}.
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sg {

// "5,17,3" -> {5, 17, 3}; throws naming `what` on anything else.
std::vector<int32_t> parse_id_list(const std::string& text, const std::string& what = "--ids");

// Parses JSONL text; `source` names the file in errors ("FILE:LINE: ...").
// Blank lines are skipped. Lines may carry other keys ("text", ...).
std::vector<std::vector<int32_t>> parse_ids_jsonl(const std::string& text, const std::string& source);
std::vector<std::vector<int32_t>> read_ids_file(const std::filesystem::path& path);

}  // namespace sg
