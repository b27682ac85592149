#pragma once
// Plain-text tables for the terminal: a header, a rule, one line per row;
// columns padded to their widest cell, numbers right-aligned, text left-aligned
// (a column is numeric when every non-missing cell is a number). Doubles are
// shown with `significant_digits` significant digits; pass preformatted text
// cells when a column needs a particular format (e.g. "91.7%").
#include <cstddef>
#include <string>

#include "report/table.h"

namespace sg::report {

std::string format_text_table(const Table& table, int significant_digits = 4);

// "1 prompt", "3 prompts".
inline std::string plural(size_t n, const std::string& noun) {
  return std::to_string(n) + " " + noun + (n == 1 ? "" : "s");
}

}  // namespace sg::report
