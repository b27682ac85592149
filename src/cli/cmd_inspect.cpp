#include "cli/commands.h"
#include "util/error.h"

namespace sg::cli {

void add_inspect(CLI::App& app) {
  auto* cmd = app.add_subcommand("inspect", "(not yet implemented)");
  cmd->callback([] { fail("inspect is not implemented yet"); });
}

}  // namespace sg::cli
