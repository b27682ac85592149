#pragma once
// CSV that pandas.read_csv reads back exactly: a header line of column names,
// one line per row, numbers in shortest round-trip form (fmt "{}", so a double
// read back is bit-identical), missing values (NaN, empty cells) as empty
// fields, +-inf as "inf"/"-inf", text quoted only when it has to be (RFC 4180:
// commas, quotes, line breaks, leading/trailing spaces).
#include <filesystem>
#include <string>

#include "report/table.h"

namespace sg::report {

std::string to_csv(const Table& table);

// Writes to_csv(table) atomically: the file is complete or absent.
void write_csv(const std::filesystem::path& path, const Table& table);

}  // namespace sg::report
