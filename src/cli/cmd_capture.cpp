#include "cli/commands.h"
#include "util/error.h"

namespace sg::cli {

void add_capture(CLI::App& app) {
  auto* cmd = app.add_subcommand("capture", "(not yet implemented)");
  cmd->callback([] { fail("capture is not implemented yet"); });
}

}  // namespace sg::cli
