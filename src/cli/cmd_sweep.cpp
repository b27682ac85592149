// streamgauge sweep EXPERIMENT MODEL[@REV]... [--revisions R1,R2,...] --out DIR [experiment options]
// One task per model and revision, each the experiment's own command with its
// own output folder DIR/<name>[@rev]/, written atomically (a hidden folder
// renamed when complete); finished tasks are skipped on a rerun. Launched on
// several MPI ranks, the tasks are dealt out round-robin, each run on one rank
// alone. A failed task is reported and the others go on; at the end DIR/sweep.json
// lists every task, and for gains a comparison of all of them goes to DIR/compare.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <set>

#include "cli/commands.h"
#include "cli/common.h"
#include "dist/comm.h"
#include "experiments/compare_outputs.h"
#include "experiments/gains_json.h"
#include "experiments/training_outputs.h"
#include "report/json_io.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::cli {
namespace {

namespace fs = std::filesystem;

// The experiments a sweep runs and the file that marks a task complete.
const std::vector<std::pair<std::string, std::string>> kExperiments = {
    {"gains", "gains.json"}, {"residual", "residual.json"}, {"align", "align.json"}};

struct Task {
  std::string model = {};                // as the experiment's MODEL argument (ORG/NAME@REV or a directory)
  std::string name = {};                 // its output folder
  std::string base = {}, revision = {};  // ORG/NAME and REV of a hub model at a revision
};

struct Outcome {
  std::string name, model, status, error;  // status: done, skipped (already complete), failed
  double seconds = 0;
  int rank = 0;
};

// A folder name for a model argument: ORG/NAME@REV -> NAME@REV, a directory -> its last component.
std::string folder_name(const std::string& arg) {
  std::string s = fs::path(arg).lexically_normal().filename().string();
  if (s.empty()) s = fs::path(arg).lexically_normal().parent_path().filename().string();
  std::replace(s.begin(), s.end(), '/', '_');
  return s.empty() ? "model" : s;
}

std::vector<Task> make_tasks(const std::vector<std::string>& models, const std::vector<std::string>& revisions) {
  std::vector<Task> tasks;
  for (const auto& m : models) {
    if (revisions.empty()) {
      tasks.push_back({.model = m, .name = folder_name(m)});
      continue;
    }
    if (m.find('@') != std::string::npos) fail("{}: give the revision either in the name or with --revisions", m);
    if (fs::exists(m)) fail("{}: --revisions applies to ORG/NAME models of the HuggingFace cache, not folders", m);
    for (const auto& r : revisions) tasks.push_back({.model = m + "@" + r, .name = folder_name(m + "@" + r)});
  }
  for (auto& t : tasks)
    if (const auto at = t.model.rfind('@'); at != std::string::npos && !fs::exists(t.model)) {
      t.base = t.model.substr(0, at);
      t.revision = t.model.substr(at + 1);
    }
  // Two tasks never share a folder.
  std::set<std::string> taken;
  for (auto& t : tasks) {
    const std::string base = t.name;
    for (int i = 2; !taken.insert(t.name).second; ++i) t.name = fmt::format("{}-{}", base, i);
  }
  return tasks;
}

// Runs `streamgauge ARGS` in this process; throws what the command throws.
void run_command_line(std::vector<std::string> args) {
  CLI::App app;
  app.name("streamgauge");
  app.require_subcommand(1);
  add_commands(app);
  args.insert(args.begin(), "streamgauge");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  app.parse(static_cast<int>(argv.size()), argv.data());
}

Outcome run_task(const std::string& experiment, const std::string& marker, const Task& task,
                 const std::vector<std::string>& options, const fs::path& out) {
  Outcome o{task.name, task.model, "done", "", 0, dist::mpi_world().rank()};
  const fs::path final_dir = out / task.name;
  if (fs::exists(final_dir / marker)) {
    o.status = "skipped";
    return o;
  }
  const fs::path tmp = out / fmt::format(".{}.partial-{}", task.name, dist::mpi_world().rank());
  const auto t0 = std::chrono::steady_clock::now();
  try {
    std::error_code ec;
    fs::remove_all(tmp, ec);
    std::vector<std::string> args = {experiment, task.model};
    args.insert(args.end(), options.begin(), options.end());
    args.insert(args.end(), {"--out", tmp.string()});
    const dist::SoloScope solo;  // the task runs on this rank alone
    run_command_line(args);
    fs::remove_all(final_dir, ec);  // an incomplete folder of an earlier run
    fs::rename(tmp, final_dir);
  } catch (const std::exception& e) {
    o.status = "failed";
    o.error = e.what();
    std::error_code ec;
    fs::remove_all(tmp, ec);
  }
  o.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return o;
}

nlohmann::json outcome_json(const Outcome& o) {
  nlohmann::json j = {{"name", o.name}, {"model", o.model},     {"status", o.status},
                      {"rank", o.rank}, {"seconds", o.seconds}, {"error", o.error}};
  return j;
}

void run(const std::string& experiment, const std::vector<std::string>& extras,
         const std::vector<std::string>& revisions, const std::string& out_arg) {
  auto which = std::find_if(kExperiments.begin(), kExperiments.end(), [&](auto& e) { return e.first == experiment; });
  if (which == kExperiments.end()) fail("sweep runs gains, residual or align, not \"{}\"", experiment);
  // Models first (the arguments before the first option), then the experiment's options.
  std::vector<std::string> models, options;
  for (const auto& a : extras) (options.empty() && !a.starts_with("-") ? models : options).push_back(a);
  if (models.empty()) fail("sweep needs at least one MODEL");
  const fs::path out(out_arg);
  check_output_dir("--out", out);
  const auto tasks = make_tasks(models, revisions);

  const dist::Comm& world = dist::mpi_world();
  if (world.root()) create_output_dir(out);
  world.barrier();
  std::vector<Outcome> mine;
  for (size_t i = static_cast<size_t>(world.rank()); i < tasks.size(); i += static_cast<size_t>(world.size())) {
    fmt::print(stderr, "streamgauge sweep: {} {} ({}/{}{})\n", experiment, tasks[i].model, i + 1, tasks.size(),
               world.distributed() ? fmt::format(", rank {}", world.rank()) : "");
    mine.push_back(run_task(experiment, which->second, tasks[i], options, out));
    const auto& o = mine.back();
    if (o.status == "failed") fmt::print(stderr, "streamgauge sweep: {} failed: {}\n", o.name, o.error);
  }

  // Every task's outcome on rank 0, in task order.
  nlohmann::json part = nlohmann::json::array();
  for (const auto& o : mine) part.push_back(outcome_json(o));
  const std::string text = part.dump();
  const auto parts = world.gather_bytes(std::as_bytes(std::span(text)));
  if (!world.root()) return;
  std::vector<nlohmann::json> outcomes(tasks.size());
  for (size_t r = 0; r < parts.size(); ++r) {
    const auto j = nlohmann::json::parse(std::string(reinterpret_cast<const char*>(parts[r].data()), parts[r].size()));
    for (size_t k = 0; k < j.size(); ++k) outcomes[r + k * parts.size()] = j[k];
  }
  std::vector<std::string> failed;
  for (const auto& o : outcomes)
    if (o["status"] == "failed")
      failed.push_back(fmt::format("{} ({})", o["name"].get<std::string>(), o["error"].get<std::string>()));

  // gains: one comparison of every finished task.
  nlohmann::json doc = {
      {"experiment", experiment}, {"tasks", outcomes}, {"provenance", report::provenance({{"command", "sweep"}})}};
  if (experiment == "gains") {
    const bool figures = std::find(options.begin(), options.end(), "--no-figures") == options.end();
    std::vector<std::string> results;
    for (const auto& t : tasks)
      if (fs::exists(out / t.name / "gains.json")) results.push_back((out / t.name / "gains.json").string());
    if (!results.empty()) {
      const compare::Study st = compare::study(compare::load_inputs(results), {});
      compare::write_outputs(st, out / "compare", figures);
      doc["compare"] = "compare/compare.json";
    }
    // Checkpoints of one model: its gains over training.
    std::vector<compare::TrainingRun> training;
    for (const auto& t : tasks) {
      if (t.revision.empty() || !fs::exists(out / t.name / "gains.json")) continue;
      auto run = std::find_if(training.begin(), training.end(), [&](auto& r) { return r.model == t.base; });
      if (run == training.end()) run = training.insert(training.end(), {t.base, {}});
      const auto file = out / t.name / "gains.json";
      run->checkpoints.push_back({t.revision, gains::summary_from_json(report::read_json(file), file.string())});
    }
    if (!training.empty()) {
      compare::write_training(training, out, figures);
      doc["training"] = "training.csv";
    }
  }
  report::write_json(out / "sweep.json", doc);
  fmt::print("\nsweep: {} of {} tasks done or already complete; wrote {}/sweep.json{}\n", tasks.size() - failed.size(),
             tasks.size(), display_dir(out),
             doc.contains("training")  ? ", compare/ and training.csv"
             : doc.contains("compare") ? " and compare/"
                                       : "");
  if (!failed.empty()) fail("sweep: {} of {} tasks failed: {}", failed.size(), tasks.size(), fmt::join(failed, "; "));
}

}  // namespace

void add_sweep(CLI::App& app) {
  struct Opts {
    std::string experiment, out;
    std::vector<std::string> revisions;
  };
  auto o = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("sweep",
                                 "Run gains, residual or align over many models and revisions (MPI: tasks "
                                 "spread over the ranks); resumable; a comparison at the end");
  cmd->footer(
      "Everything after the models is passed to the experiment (its options as on its own command line).\n"
      "Each task writes DIR/<model>[@revision]/ when it is complete; a rerun skips complete tasks. A failed\n"
      "task is reported and the others go on; DIR/sweep.json lists them all, and for gains\n"
      "DIR/compare/ compares every finished task. The exit code is 2 if a task failed.\n\n"
      "Examples:\n"
      "  streamgauge sweep gains EleutherAI/pythia-410m EleutherAI/pythia-1.4b --out sweeps/pythia --prompts ffn-1.4b\n"
      "  mpirun -np 8 streamgauge sweep gains EleutherAI/pythia-410m --revisions step1000,step8000,step143000 \\\n"
      "      --out sweeps/training --no-figures");
  cmd->add_option("EXPERIMENT", o->experiment, "gains, residual or align")->required();
  cmd->add_option("--out", o->out, "Output directory (one folder per task inside); required");
  cmd->add_option("--revisions", o->revisions, "Revisions of each ORG/NAME model, comma-separated (e.g. step1000)")
      ->delimiter(',');
  // Everything after EXPERIMENT that CLI11 does not parse first (the models and
  // the experiment's options) stays as given; --out and --revisions are taken
  // out of it wherever they are.
  cmd->prefix_command();
  cmd->fallthrough(false);
  cmd->callback([o, cmd] {
    std::vector<std::string> rest = cmd->remaining(), extras;
    std::string out = o->out;
    std::vector<std::string> revisions = o->revisions;
    for (size_t i = 0; i < rest.size(); ++i) {
      const std::string& a = rest[i];
      auto value = [&](const std::string& name) {
        if (a.size() > name.size() && a.starts_with(name + "=")) return a.substr(name.size() + 1);
        if (i + 1 >= rest.size()) fail("sweep: {} needs a value", name);
        return rest[++i];
      };
      if (a == "--out" || a.starts_with("--out=")) {
        if (!out.empty()) fail("sweep: --out given twice");
        out = value("--out");
      } else if (a == "--revisions" || a.starts_with("--revisions=")) {
        for (auto& r : split_list(value("--revisions"))) revisions.push_back(std::move(r));
      } else {
        extras.push_back(a);
      }
    }
    if (out.empty()) fail("sweep needs --out DIR");
    run(o->experiment, extras, revisions, out);
  });
}

}  // namespace sg::cli
