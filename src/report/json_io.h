#pragma once
// JSON in and out, the same way for every experiment:
//  - dump_json/write_json: indent 2, object keys sorted (nlohmann::json keeps
//    them in a std::map), doubles in shortest round-trip form, NaN and +-inf
//    as null (JSON has no such numbers), a final newline; written atomically.
//  - read_json: a parse error is one line naming the file, line and column.
//  - provenance(): the block every output carries (tool, version, command
//    line, UTC time) plus whatever the caller adds (inputs, options, hashes).
#include <filesystem>
#include <string>

#include <nlohmann/json.hpp>

#include "util/json_file.h"

namespace sg::report {

std::string dump_json(const nlohmann::json& value);

// The same JSON laid out for reading (the report's provenance block): an
// array of scalars (token ids, shapes) always on one line, any other array or
// object on one line if it fits in `width` columns at its indentation, else
// one member per line indented by 2. Scalars are written exactly as by
// dump_json; no final newline. Parses back to the same value.
std::string dump_json_compact(const nlohmann::json& value, size_t width = 100);
void write_json(const std::filesystem::path& path, const nlohmann::json& value);

// Reading JSON files: util/json_file.h.
using sg::read_json;

// Lowercase hex SHA-256 of a file's bytes (OpenSSL libcrypto), streamed.
std::string sha256_file(const std::filesystem::path& path);

// Current UTC time as "YYYY-MM-DDTHH:MM:SSZ". If SOURCE_DATE_EPOCH is set (the
// reproducible-builds convention) that time is used instead, so a rerun with
// the same inputs can give byte-identical outputs.
std::string utc_timestamp();

// This process's command line (from /proc/self/cmdline), arguments joined
// with spaces, quoted where a shell would need it.
std::string command_line();

// {"tool": "streamgauge", "version": sg::version(), "command_line": ...,
//  "created_utc": ...} merged with `fields` (an object; its keys win).
nlohmann::json provenance(const nlohmann::json& fields = nlohmann::json::object());

}  // namespace sg::report
