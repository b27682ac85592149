#pragma once
// The one table type every report writer shares: CSV (report/csv.h), the
// terminal (report/terminal.h) and HTML (report/html.h) all render a Table, so
// an experiment builds its rows once and gets every format from them.
#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace sg::report {

// One cell: empty, an integer, a real number or text. A NaN double and an
// empty cell both mean "missing" (CSV writes an empty field, pandas reads NaN).
using Cell = std::variant<std::monostate, int64_t, double, std::string>;

struct Table {
  std::vector<std::string> columns;
  std::vector<std::vector<Cell>> rows;

  Table() = default;
  explicit Table(std::vector<std::string> column_names) : columns(std::move(column_names)) {}

  // Appends a row; throws sg::Error if it does not have one cell per column.
  void add_row(std::vector<Cell> row);
};

// Convenience for building rows from ints without a cast at every call site.
inline Cell cell(int v) { return Cell{int64_t{v}}; }
inline Cell cell(int64_t v) { return Cell{v}; }
inline Cell cell(double v) { return Cell{v}; }
inline Cell cell(std::string v) { return Cell{std::move(v)}; }
inline Cell cell(const char* v) { return Cell{std::string(v)}; }

// A cell as display text (terminal, HTML): doubles with `significant_digits`
// significant digits ("{:.4g}"), missing values as "-", integers and text as is.
std::string display(const Cell& c, int significant_digits = 4);
bool is_number(const Cell& c);

}  // namespace sg::report
