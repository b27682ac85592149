#pragma once
// One function per subcommand (one file each: cmd_<name>.cpp). Each adds its
// subcommand to the app with its options, help text and callback; callbacks
// report user errors by throwing sg::Error.
#include <CLI/CLI.hpp>

namespace sg::cli {

void add_inspect(CLI::App& app);
void add_capture(CLI::App& app);
void add_generate(CLI::App& app);
void add_gains(CLI::App& app);
void add_weights(CLI::App& app);
void add_pairs(CLI::App& app);
void add_align(CLI::App& app);
void add_pull(CLI::App& app);
void add_tokenize(CLI::App& app);
void add_compare(CLI::App& app);
void add_residual(CLI::App& app);

}  // namespace sg::cli
