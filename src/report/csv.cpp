#include "report/csv.h"

#include <fmt/format.h>

#include <cmath>

#include "util/atomic_file.h"

namespace sg::report {
namespace {

std::string quote_if_needed(const std::string& s) {
  bool needs = s.find_first_of(",\"\r\n") != std::string::npos || (!s.empty() && (s.front() == ' ' || s.back() == ' '));
  // An empty string must be distinguishable from a missing value.
  if (!needs && !s.empty()) return s;
  std::string out = "\"";
  for (char c : s) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + '"';
}

std::string csv_cell(const Cell& c) {
  struct Visitor {
    std::string operator()(std::monostate) const { return {}; }
    std::string operator()(int64_t v) const { return fmt::format("{}", v); }
    std::string operator()(double v) const {
      if (std::isnan(v)) return {};
      if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
      return fmt::format("{}", v);  // shortest representation that round-trips
    }
    std::string operator()(const std::string& v) const { return quote_if_needed(v); }
  };
  return std::visit(Visitor{}, c);
}

}  // namespace

std::string to_csv(const Table& table) {
  std::string out;
  for (size_t i = 0; i < table.columns.size(); ++i) {
    if (i) out += ',';
    out += quote_if_needed(table.columns[i]);
  }
  out += '\n';
  for (const auto& row : table.rows) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i) out += ',';
      out += csv_cell(row[i]);
    }
    out += '\n';
  }
  return out;
}

void write_csv(const std::filesystem::path& path, const Table& table) { write_file_atomic(path, to_csv(table)); }

}  // namespace sg::report
