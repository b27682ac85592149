#pragma once
// Every subcommand, in the order --help lists them. A command is one file,
// cmd_<name>.cpp, defining add_<name>(app): its options, help text and
// callback (callbacks report user errors by throwing sg::Error). Registering a
// new command is one word in this list.
#include <CLI/CLI.hpp>

#define SG_COMMANDS(X) \
  X(inspect)           \
  X(capture)           \
  X(generate)          \
  X(gains)             \
  X(weights)           \
  X(pairs)             \
  X(align)             \
  X(pull)              \
  X(tokenize)          \
  X(compare)           \
  X(residual)          \
  X(sweep)

namespace sg::cli {

#define SG_DECLARE_COMMAND(name) void add_##name(CLI::App& app);
SG_COMMANDS(SG_DECLARE_COMMAND)
#undef SG_DECLARE_COMMAND

// Adds every command to the app.
inline void add_commands(CLI::App& app) {
#define SG_ADD_COMMAND(name) add_##name(app);
  SG_COMMANDS(SG_ADD_COMMAND)
#undef SG_ADD_COMMAND
}

}  // namespace sg::cli
