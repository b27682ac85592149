// streamgauge inspect MODEL: what the model is, as streamgauge understands it.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <map>

#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/common.h"
#include "cli/model_info.h"
#include "engine/capture.h"

namespace sg::cli {

namespace {

// One line per run of layers that are alike: "layers 0-3: full attention, ...".
void print_layers(const ArchSpec& a) {
  auto text = [&](const LayerSpec& l) {
    std::string s = l.window > 0 ? fmt::format("sliding window {}", l.window) : "full causal attention";
    if (a.rotary != RotaryStyle::None && a.ropes.size() > 1) s += ", rope " + a.ropes[l.rope].description;
    s += fmt::format(", scores x {:.6g}", l.attn_scale);
    if (l.attn_softcap > 0) s += fmt::format(", soft-cap {:g}", l.attn_softcap);
    if (l.post_attn_norm || l.post_mlp_norm)
      s += fmt::format(", norms after {}", l.post_attn_norm && l.post_mlp_norm ? "attention and MLP"
                                           : l.post_attn_norm                  ? "attention"
                                                                               : "MLP");
    if (l.moe) s += ", sparse MoE MLP";
    return s;
  };
  std::map<std::string, std::vector<int>> groups;  // description -> its layers
  std::vector<std::string> order;
  for (int l = 0; l < a.n_layers; ++l) {
    const std::string t = text(a.layers[l]);
    if (!groups.count(t)) order.push_back(t);
    groups[t].push_back(l);
  }
  for (const auto& t : order) {
    const auto& ls = groups[t];
    const bool run = ls.back() - ls.front() + 1 == static_cast<int>(ls.size());
    const std::string which = ls.size() == 1 ? fmt::format("layer {}", ls[0])
                              : run          ? fmt::format("layers {}-{}", ls.front(), ls.back())
                                             : fmt::format("layers {}", fmt::join(ls, ","));
    fmt::print("  {}: {}\n", which, t);
  }
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  return fmt::format("{:.1f} {}", b, units[u]);
}

}  // namespace

void add_inspect(CLI::App& app) {
  struct Opts {
    std::string model;
    bool json = false, points = false;
  };
  auto opts = std::make_shared<Opts>();
  auto* cmd = app.add_subcommand("inspect", "Show a model's architecture, sizes and capture points");
  cmd->footer(
      "Example:\n  streamgauge inspect path/to/pythia-160m\n  streamgauge inspect path/to/model --points   "
      "# every capture point name");
  cmd->add_option("MODEL", opts->model,
                  "Model directory (config.json + safetensors) or ORG/NAME[@REVISION] in the HuggingFace cache")
      ->required();
  cmd->add_flag("--json", opts->json, "Print one JSON object (with --points: a JSON list of names)");
  cmd->add_flag("--points", opts->points, "List the model's capture point names, one per line");
  cmd->callback([opts] {
    auto model = load_model(opts->model);
    const ArchSpec& a = model->arch();
    if (opts->points) {
      std::vector<std::string> names;
      for (const PointId& p : capture_points(a)) names.push_back(p.name());
      if (opts->json)
        fmt::print("{}\n", nlohmann::json(names).dump(2));
      else
        for (const auto& n : names) fmt::print("{}\n", n);
      return;
    }
    const auto j = describe_model(*model);
    if (opts->json) {
      fmt::print("{}\n", j.dump(2));
      return;
    }
    fmt::print("{}  ({})\n", model->name(), a.model_type);
    fmt::print("  layers {}   d_model {}   heads {} (kv {})   d_head {}   d_mlp {}   vocab {}\n", a.n_layers, a.d_model,
               a.n_heads, a.n_kv_heads, a.d_head, a.d_mlp, a.vocab_size);
    fmt::print("  rho = n_heads / d_head = {:.4g}\n", a.rho());
    fmt::print("  parameters {} ({} non-embedding)\n", model->n_params(), model->n_params_non_embedding());
    fmt::print("  weights {} on disk, {}\n", human_bytes(static_cast<double>(model->bytes_on_disk())),
               dtype_name(model->weight_dtype()));
    fmt::print("  {} (eps {}), {} residual, {}{}, positions: {}\n", to_string(a.norm), a.norm_eps,
               j["residual"].get<std::string>(), a.gated_mlp ? "gated " : "", to_string(a.activation),
               j["positions"].get<std::string>());
    if (a.rotary != RotaryStyle::None)
      for (const Rope& r : a.ropes)
        fmt::print("  rotary on {} of {} head dims, {}\n", a.rotary_dim, a.d_head, r.description);
    if (a.norm_gain_plus_one) fmt::print("  norm gains 1 + w (Gemma)\n");
    if (!a.pre_norms) fmt::print("  no norms before the sublayers: attention and MLP read the raw residual stream\n");
    if (a.qk_norm)
      fmt::print("  q and k {}-normalised {} before rotary\n", to_string(a.norm),
                 a.qk_norm_across_heads ? "over the whole projection" : "per head");
    if (a.any_moe())
      fmt::print("  sparse MoE MLP: {} experts of width {}, top {} per token{}{}\n", a.moe.n_experts, a.moe.d_expert,
                 a.moe.top_k, a.moe.norm_topk_prob ? " (weights renormalised)" : "",
                 a.moe.d_shared > 0 ? fmt::format(", shared expert of width {} (sigmoid gate)", a.moe.d_shared) : "");
    if (a.embed_scale != 1.0) fmt::print("  embedding x {:.6g}\n", a.embed_scale);
    if (a.final_softcap > 0) fmt::print("  logits soft-capped at {:g}\n", a.final_softcap);
    print_layers(a);
  });
}

}  // namespace sg::cli
