#pragma once
// JSON from files and from lines of JSONL files, read one way everywhere: a
// parse error is one line naming where the text came from, then nlohmann's
// own message without its "[json.exception...]" prefix:
//   "config.json: not valid JSON: parse error at line 3, column 5: ..."
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace sg {

// `where` names the text in the error: a file, or "file.jsonl:12".
nlohmann::json parse_json(std::string_view text, const std::string& where);
nlohmann::json read_json(const std::filesystem::path& file);
// The useful part of a nlohmann exception's message.
std::string json_error_message(const nlohmann::json::exception& e);

}  // namespace sg
