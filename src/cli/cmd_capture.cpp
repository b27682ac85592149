// streamgauge capture MODEL --ids ... --out FILE.safetensors: activations at
// named capture points, written as F32 tensors seq{i}.{capture point}.
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/common.h"
#include "dist/comm.h"
#include "engine/capture_store.h"
#include "engine/engine.h"
#include "io/safetensors_writer.h"
#include "measure/run_prompts.h"
#include "util/error.h"

namespace sg::cli {

void add_capture(CLI::App& app) {
  struct Opts {
    std::string model, out;
    IdsInput ids;
    std::vector<std::string> hooks{"*"};
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("capture", "Run token sequences and save activations at capture points");
  cmd->footer(
      "Writes F32 tensors named seq{i}.{capture point}, shape [tokens, width] (logits: [tokens, vocab];\n"
      "attention patterns: [heads, query, key]) plus seq{i}.input_ids. All sequences run as one batch.\n"
      "Capture point names: streamgauge inspect MODEL --points. Load in Python with\n"
      "safetensors.numpy.load_file(FILE). A regular FILE (or a symlink's target) is replaced atomically; '-',\n"
      "a FIFO or a device is written through as a stream.\n\n"
      "Example:\n  streamgauge capture MODEL --ids 5,17,3 --ids 9,9 --hooks 'blocks.*.hook_attn_out' --out "
      "acts.safetensors");
  cmd->add_option("MODEL", opts->model, kModelHelp)->required();
  opts->ids.add_options(cmd);
  add_pipeline_options(cmd);
  cmd->add_option("--hooks", opts->hooks, "Capture points to save: globs, comma-separated (default: all)");
  cmd->add_option("--out", opts->out, "Output .safetensors file; - for standard output")->required();
  cmd->callback([opts] {
    auto seqs = opts->ids.sequences();
    if (seqs.empty()) fail("capture needs token ids: --ids 1,2,3 or --ids-file FILE.jsonl");
    check_output_file("--out", opts->out);  // before the model is loaded
    auto model = load_model(opts->model);
    std::vector<std::string> patterns;
    for (const auto& h : opts->hooks)
      for (auto& p : split_list(h)) patterns.push_back(std::move(p));
    const auto points = capture_points(model->arch());
    for (auto& p : patterns) {
      bool any = false;
      for (auto& pt : points) any = any || glob_match(p, pt.name());
      if (!any) fail("--hooks: \"{}\" matches no capture point of this model (list them with inspect --points)", p);
    }
    CaptureStore store(patterns);
    Observer* obs[] = {&store};
    Engine engine(*model);
    const dist::Comm& world = dist::world();
    if (world.distributed()) {
      // Data parallel (or replicas of the layer pipeline): each rank its share,
      // then every tensor on rank 0, which writes the file one process would
      // (tensors are written in name order).
      size_t first = 0;
      const auto share = my_share(seqs, &first);
      store.set_first_sequence(first);
      if (model->stage().count > 1) {  // the stages of a replica hold different capture points
        run_stage(engine, share, obs, {.progress_label = "capture"}, [&](const Batch& chunk) {
          first += chunk.n_sequences();
          store.set_first_sequence(first);
        });
      } else if (!share.empty()) {
        engine.run(Batch::of(share), obs, {"capture"});
      }
      report_pipeline_stage(*model);
      const auto parts = world.gather_bytes(store.save());
      if (!world.root()) return;
      CaptureStore all(patterns);
      for (const auto& part : parts) all.merge(part);
      store = std::move(all);
    } else {
      engine.run(Batch::of(seqs), obs, {"capture"});
    }

    SafetensorsWriter w;
    w.set_metadata("model", model->name());
    w.set_metadata("producer", "streamgauge capture");
    for (size_t s = 0; s < seqs.size(); ++s)
      w.add_i64("seq" + std::to_string(s) + ".input_ids", std::vector<int64_t>(seqs[s].begin(), seqs[s].end()));
    for (auto& [name, t] : store.tensors()) w.add_f32(name, t.shape, t.data);
    w.write(opts->out);
    fmt::print(stderr, "wrote {} tensors ({} captured, {} input_ids) for {} to {}\n",
               store.tensors().size() + seqs.size(), store.tensors().size(), seqs.size(),
               plural(seqs.size(), "sequence"), opts->out == "-" ? "standard output" : opts->out);
  });
}

}  // namespace sg::cli
