#pragma once
// Splitting a text file into lines: '\n' separated, a trailing '\r' removed
// (CRLF files), no empty last line after a final newline. Line i (0-based) is
// line number i + 1 in error messages.
#include <string_view>
#include <vector>

namespace sg {

inline std::vector<std::string_view> split_lines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(pos, end - pos);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    lines.push_back(line);
    pos = end + 1;
  }
  return lines;
}

}  // namespace sg
