#include "cli/commands.h"
#include "util/error.h"

namespace sg::cli {

void add_generate(CLI::App& app) {
  auto* cmd = app.add_subcommand("generate", "(not yet implemented)");
  cmd->callback([] { fail("generate is not implemented yet"); });
}

}  // namespace sg::cli
