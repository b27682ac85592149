#include "report/table.h"

#include <fmt/format.h>

#include <cmath>

#include "util/error.h"

namespace sg::report {

void Table::add_row(std::vector<Cell> row) {
  if (row.size() != columns.size())
    fail("table row {} has {} cells but the table has {} columns", rows.size(), row.size(), columns.size());
  rows.push_back(std::move(row));
}

}  // namespace sg::report

namespace sg::report {

std::string display(const Cell& c, int significant_digits) {
  if (std::holds_alternative<int64_t>(c)) return fmt::format("{}", std::get<int64_t>(c));
  if (std::holds_alternative<std::string>(c)) return std::get<std::string>(c);
  if (std::holds_alternative<double>(c)) {
    double v = std::get<double>(c);
    if (std::isnan(v)) return "-";
    return fmt::format("{:.{}g}", v, significant_digits);
  }
  return "-";
}

bool is_number(const Cell& c) { return std::holds_alternative<int64_t>(c) || std::holds_alternative<double>(c); }

}  // namespace sg::report
