// streamgauge: measure how each sublayer of a transformer changes its residual stream.
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <CLI/CLI.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include <exception>
#include <filesystem>
#include <new>

#include <chrono>
#include <cstdio>
#include <thread>

#include "cli/commands.h"
#include "dist/comm.h"
#include "util/error.h"
#include "util/version.h"

namespace {

// A failure on one rank of several ends the whole job (dist::Comm::abort).
// Rank 0 reports at once; another rank waits a moment first, so that an error
// every rank meets (a bad argument, a missing file) is reported once, by rank 0,
// whose abort ends the others before they print.
int fail_job(const std::string& message, int code) {
  const auto& w = sg::dist::world();
  if (!w.distributed()) {
    fmt::print(stderr, "{}\n", message);
    return code;
  }
  if (!w.root()) std::this_thread::sleep_for(std::chrono::seconds(2));
  fmt::print(stderr, "{} (MPI rank {} of {})\n", message, w.rank(), w.size());
  std::fflush(stderr);
  w.abort(code);
}

}  // namespace

int main(int argc, char** argv) {
  sg::dist::init(&argc, &argv);
  // Only rank 0 prints results and writes files; the others' standard output
  // goes nowhere (their errors still reach standard error).
  if (!sg::dist::world().root() && !std::freopen("/dev/null", "w", stdout)) return 3;
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
    return fail_job(fmt::format("streamgauge: error: {}\nRun with --help for usage.", e.what()), 2);
  } catch (const sg::Error& e) {
    return fail_job(fmt::format("streamgauge: error: {}", e.what()), 2);
  } catch (const std::filesystem::filesystem_error& e) {
    // What the filesystem refused (a path, a permission, a full disk) is the
    // user's to fix, not a bug: the commands check their paths up front, and
    // this catches what changes under them during a run.
    return fail_job(fmt::format("streamgauge: error: {}", e.what()), 2);
  } catch (const std::bad_alloc&) {
    // The machine's limit, not a bug: say what would fit.
    return fail_job(
        "streamgauge: error: out of memory (a smaller --chunk-tokens, fewer sequences at once or, under mpirun, "
        "--pipeline over more ranks needs less)",
        2);
  } catch (const std::exception& e) {
    return fail_job(fmt::format("streamgauge: internal error: {}", e.what()), 3);
  }
  return 0;
}
