#include "report/terminal.h"

#include <algorithm>

namespace sg::report {
namespace {

// Display width in a terminal: UTF-8 code points (continuation bytes do not
// advance the cursor). Wide East Asian characters are not accounted for.
size_t width(const std::string& s) {
  return static_cast<size_t>(
      std::count_if(s.begin(), s.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0) != 0x80; }));
}

std::string pad(const std::string& s, size_t w, bool right) {
  std::string fill(w > width(s) ? w - width(s) : 0, ' ');
  return right ? fill + s : s + fill;
}

}  // namespace

std::string format_text_table(const Table& table, int significant_digits) {
  size_t n = table.columns.size();
  std::vector<size_t> w(n);
  std::vector<bool> numeric(n, true);
  std::vector<std::vector<std::string>> text(table.rows.size(), std::vector<std::string>(n));
  for (size_t c = 0; c < n; ++c) w[c] = width(table.columns[c]);
  for (size_t r = 0; r < table.rows.size(); ++r) {
    for (size_t c = 0; c < n; ++c) {
      const Cell& cell = table.rows[r][c];
      text[r][c] = display(cell, significant_digits);
      if (std::holds_alternative<std::string>(cell)) numeric[c] = false;
      w[c] = std::max(w[c], width(text[r][c]));
    }
  }
  std::string out;
  auto line = [&](const std::vector<std::string>& cells) {
    std::string l;
    for (size_t c = 0; c < n; ++c) l += (c ? "  " : "") + pad(cells[c], w[c], numeric[c]);
    while (!l.empty() && l.back() == ' ') l.pop_back();
    out += l + "\n";
  };
  line(table.columns);
  size_t total = 0;
  for (size_t c = 0; c < n; ++c) total += w[c] + (c ? 2 : 0);
  out += std::string(total, '-') + "\n";
  for (const auto& row : text) line(row);
  return out;
}

}  // namespace sg::report
