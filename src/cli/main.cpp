// streamgauge: measure how each sublayer of a transformer changes its residual stream.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <exception>
#include <filesystem>

#include "cli/commands.h"
#include "util/error.h"
#include "util/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "streamgauge: run HuggingFace-format transformer models on the CPU and measure how each\n"
      "attention and MLP sublayer changes the residual stream.\n"};
  app.name("streamgauge");
  app.set_version_flag("--version", sg::version());
  app.require_subcommand(1);
  app.fallthrough();
  sg::cli::add_commands(app);

  // An unknown first word is a mistyped command: name it (CLI11 would only say
  // that a subcommand is required).
  if (argc >= 2 && argv[1][0] != '-') {
    std::vector<std::string> names;
    for (const CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) names.push_back(sub->get_name());
    if (std::find(names.begin(), names.end(), argv[1]) == names.end()) {
      fmt::print(stderr, "streamgauge: error: unknown command \"{}\" (commands: {})\nRun with --help for usage.\n",
                 argv[1], fmt::join(names, ", "));
      return 2;
    }
  }

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    fmt::print(stderr, "streamgauge: error: {}\nRun with --help for usage.\n", e.what());
    return 2;
  } catch (const sg::Error& e) {
    fmt::print(stderr, "streamgauge: error: {}\n", e.what());
    return 2;
  } catch (const std::filesystem::filesystem_error& e) {
    // What the filesystem refused (a path, a permission, a full disk) is the
    // user's to fix, not a bug: the commands check their paths up front, and
    // this catches what changes under them during a run.
    fmt::print(stderr, "streamgauge: error: {}\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    fmt::print(stderr, "streamgauge: internal error: {}\n", e.what());
    return 3;
  }
  return 0;
}
