// The experiments from Python: each returns the dict its CLI command writes as
// JSON (the experiment's own encoding, the CLI's driver code), NaN as None.
#include <fmt/format.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <optional>

#include <map>
#include "binding.h"

#include "experiments/align_outputs.h"
#include "experiments/compare_outputs.h"
#include "experiments/gains_outputs.h"
#include "experiments/prompts.h"
#include "experiments/residual_outputs.h"
#include "experiments/weights.h"
#include "report/json_io.h"
#include "util/error.h"
#include "util/paths.h"

namespace sg::python {

namespace {

// The CLI's up-front checks of a prompts/ids file; a file that is not there is
// a FileNotFoundError.
void check_inputs(const PromptsInput& input) {
  try {
    input.check();
  } catch (const Error& e) {
    std::error_code ec;
    const std::string& path = input.ids_file.empty() ? input.prompts : input.ids_file;
    if (!std::filesystem::exists(path, ec)) throw NotFound(e.what());
    throw;
  }
}

PromptSet prompt_set(PyModel& model, py::handle prompts, py::handle ids, const std::string& tokenizer,
                     const std::string& default_preset) {
  if (!prompts.is_none() && !ids.is_none()) fail("give either prompts or ids, not both");
  PromptsInput input;
  input.tokenizer = tokenizer;
  input.default_preset = default_preset;  // the CLI command's
  std::optional<PromptSet> set;
  if (!prompts.is_none()) {
    if (auto p = fspath(prompts)) {
      input.prompts = *p;
    } else {
      set.emplace();
      for (py::handle item : prompts) {
        if (py::isinstance<py::str>(item))
          set->prompts.push_back({item.cast<std::string>(), {}});
        else
          set->prompts.push_back({"", to_sequences(model, py::make_tuple(item)).ids.at(0)});
      }
      set->source = fmt::format("Python list of {} prompts", set->prompts.size());
    }
  } else if (!ids.is_none()) {
    if (auto p = fspath(ids)) {
      input.ids_file = *p;
    } else {
      set.emplace();
      for (auto& s : to_sequences(model, ids).ids) set->prompts.push_back({"", s});
      set->source = fmt::format("Python list of {} token-id sequences", set->prompts.size());
    }
  }
  if (!set) {
    check_inputs(input);
    return input.resolve(model.model());
  }
  if (set->prompts.empty()) fail("no prompts given");
  tokenize_prompts(*set, model.model(), tokenizer);
  return *set;
}

py::object run_gains_py(py::handle model_arg, py::handle prompts, py::handle ids, int bootstrap,
                        uint64_t bootstrap_seed, bool skip_first, bool entropy, std::optional<bool> fast, bool weights,
                        int64_t chunk_tokens, const std::string& tokenizer) {
  auto model = as_model(model_arg);
  if (bootstrap < 0) fail("bootstrap: {} resamples, expected 0 or more", bootstrap);
  if (chunk_tokens < 1) fail("chunk_tokens: {}, expected 1 or more", chunk_tokens);
  PromptSet set = prompt_set(*model, prompts, ids, tokenizer, "ffn-1.4b");
  gains::RunOptions options;
  options.options.bootstrap = bootstrap;
  options.options.bootstrap_seed = bootstrap_seed;
  options.options.skip_first = skip_first;
  options.options.entropy = entropy;
  options.fast = fast.value_or(model->fast());
  options.weights = weights;
  options.chunk_tokens = chunk_tokens;
  options.between_layers = check_signals;
  nlohmann::ordered_json doc;
  {
    py::gil_scoped_release release;
    const gains::Run run = gains::run(model->model(), std::move(set), options);
    doc = gains::gains_json(run);
  }
  return to_python(doc);
}

py::object weights_py(py::handle model_arg) {
  auto model = as_model(model_arg);
  const Model& m = model->model();
  nlohmann::ordered_json doc;
  {
    py::gil_scoped_release release;
    const auto norms = weights::cached_layer_norms(m, [](int) { check_signals(); });
    doc = weights::to_json(norms.layers, m.name(), m.arch().gated_mlp, m.arch().any_moe(),
                           report::provenance({{"model_path", std::filesystem::absolute(m.dir()).string()},
                                               {"weight_norms_source", norms.source}}));
  }
  return to_python(doc);
}

// sg.residual: the CLI's loop over models (one in memory at a time, labels
// told apart as it does), then the study.
py::object residual_py(py::handle models, py::handle prompts, py::handle ids, const std::string& tokenizer) {
  std::vector<py::object> list;
  if (py::isinstance<PyModel>(models) || fspath(models)) {
    list.push_back(py::reinterpret_borrow<py::object>(models));
  } else if (py::isinstance<py::sequence>(models)) {
    for (py::handle m : models) list.push_back(py::reinterpret_borrow<py::object>(m));
  } else {
    throw py::type_error("models: expected a model (streamgauge.Model, directory or ORG/NAME) or a list of them");
  }
  if (list.empty()) fail("residual needs at least one model");
  std::vector<residual::ModelRun> runs;
  std::map<std::string, int> taken;  // model name -> times used
  for (const auto& m : list) {
    auto model = as_model(m);
    const std::string arg = fspath(m).value_or(model->model().dir().string());
    std::string label = model->model().name();
    if (const int seen = taken[label]++; seen > 0) label += fmt::format(" ({})", seen + 1);
    PromptSet set = prompt_set(*model, prompts, ids, tokenizer, "canonical");
    {
      py::gil_scoped_release release;
      runs.push_back(residual::run_model(model->model(), std::move(set), label, check_signals));
    }
    runs.back().arg = arg;
  }
  nlohmann::json doc;
  {
    py::gil_scoped_release release;
    doc = residual::to_json(residual::study(std::move(runs)));
  }
  return to_python(doc);
}

py::object align_py(py::handle model_arg, py::handle pairs, const std::string& preset, size_t n, int64_t seed,
                    size_t perms, size_t drop_top_dims, const std::string& tokenizer) {
  if (perms < 1) fail("--perms must be at least 1");
  align::PairsInput input;
  input.preset = preset;
  input.n = n;
  input.seed = seed;
  input.tokenizer = tokenizer;
  if (!pairs.is_none()) {
    const auto p = fspath(pairs);
    if (!p) throw py::type_error("pairs: expected a JSONL file of pairs (str or os.PathLike)");
    input.pairs = *p;
    std::error_code ec;
    if (!std::filesystem::exists(input.pairs, ec))
      throw NotFound(fmt::format("--pairs: cannot read {}: No such file or directory", input.pairs));
    check_input_file("--pairs", input.pairs);
  }
  auto model = as_model(model_arg);
  const align::RunOptions options{.n_perms = perms, .drop_top_dims = drop_top_dims, .between_layers = check_signals};
  align::check(model->model(), options);
  align::Inputs in = align::load_inputs(input, model->model());
  nlohmann::json doc;
  {
    py::gil_scoped_release release;
    doc = align::to_json(align::run(model->model(), std::move(in), options));
  }
  return to_python(doc);
}

// sg.compare: gains results as files, preset names or dicts (sg.gains' own).
py::object compare_py(py::handle results, const std::vector<double>& predict, const std::vector<std::string>& metrics,
                      const std::string& params, double confidence, size_t max_segments) {
  if (py::isinstance<py::str>(results) || !py::isinstance<py::sequence>(results))
    throw py::type_error("results: expected a list of gains results (gains.json files, preset names or dicts)");
  const auto dumps = py::module_::import("json").attr("dumps");
  std::vector<compare::Input> inputs;
  size_t i = 0;
  for (py::handle r : results) {
    if (auto p = fspath(r)) {
      inputs.push_back(compare::load_input(*p));
    } else if (py::isinstance<py::dict>(r)) {
      const std::string source = fmt::format("results[{}]", i);
      nlohmann::json doc;
      try {
        doc = nlohmann::json::parse(dumps(r).cast<std::string>());
      } catch (const nlohmann::json::exception& e) {
        fail("{}: not a JSON document ({})", source, e.what());
      }
      compare::Input in;
      in.s = gains::summary_from_json(doc, source);
      inputs.push_back(std::move(in));
    } else {
      throw py::type_error(fmt::format("results[{}]: expected a gains.json path, a preset name or a dict", i));
    }
    ++i;
  }
  compare::label_inputs(inputs);
  compare::Options options;
  options.predict = predict;
  options.metrics = metrics;
  options.basis = compare::parse_basis(params);
  options.confidence = confidence;
  options.max_segments = max_segments;
  compare::check(inputs, options);
  return to_python(compare::to_json(compare::study(std::move(inputs), options)));
}

}  // namespace

void register_experiments(py::module_& m) {
  m.def("gains", &run_gains_py, py::arg("model"), py::arg("prompts") = py::none(), py::arg("ids") = py::none(),
        py::kw_only(), py::arg("bootstrap") = 1000, py::arg("bootstrap_seed") = 0, py::arg("skip_first") = false,
        py::arg("entropy") = true, py::arg("fast") = py::none(), py::arg("weights") = true,
        py::arg("chunk_tokens") = 8192, py::arg("tokenizer") = "",
        R"(Seeds 000/001's attention and MLP gains per layer: the dict `streamgauge gains --out`
writes as gains.json (same keys, same numbers; provenance names this process).

model: a streamgauge.Model, or a directory / ORG/NAME[@REVISION] (loaded as sg.load).
prompts: None (the CLI's default preset ffn-1.4b), a preset name or a prompt file
  (as --prompts), or a list of texts and/or token-id lists.
ids: a JSONL file of token ids (as --ids-file) or a list of token-id lists.
Options as the CLI's: bootstrap, bootstrap_seed, skip_first, entropy, fast (default:
the Model's), weights (False = --no-weights), chunk_tokens, tokenizer.

    >>> g = sg.gains("../shared/models/stories260k", prompts=["Once upon a time", "The dog ran"])
    >>> g["attention"]["gains"], g["mlp"]["gains"]
)");
  m.def("weights", &weights_py, py::arg("model"),
        R"(Per-layer weight norms: the dict `streamgauge weights --out` writes as weights.json
(Frobenius norms of every projection, spectral norms of W_V and of the OV circuit;
W_gate None for ungated MLPs).

    >>> w = sg.weights("../shared/models/stories260k")
    >>> w["layers"]["W_V"]
)");
  m.def("residual", &residual_py, py::arg("models"), py::arg("prompts") = py::none(), py::arg("ids") = py::none(),
        py::kw_only(), py::arg("tokenizer") = "",
        R"(Seed 004: residual-stream gain with and without the final norm, head density rho
and H25: the dict `streamgauge residual --out` writes as residual.json.

models: one model or a list (streamgauge.Model, directory or ORG/NAME[@REVISION]);
  model names given as strings are loaded one at a time, as the CLI does.
prompts / ids / tokenizer: as in gains (default: the CLI's preset canonical).

    >>> r = sg.residual(["../shared/models/stories260k"])
    >>> r["models"][0]["rho"]
)");
  m.def("align", &align_py, py::arg("model"), py::arg("pairs") = py::none(), py::kw_only(),
        py::arg("preset") = "zh-en-math", py::arg("n") = 200, py::arg("seed") = 42, py::arg("perms") = 500,
        py::arg("drop_top_dims") = 0, py::arg("tokenizer") = "",
        R"(Seed 003: which sublayers build cross-lingual alignment of the last-token residual
stream (matched vs scrambled z-scores): the dict `streamgauge align --out` writes as align.json.

pairs: a JSONL file of pairs (text or token ids; as --pairs), else the preset's
  n pairs drawn with seed; perms: permutations of the scrambled baseline;
  drop_top_dims: also z-scores without the top-variance dimensions.

    >>> a = sg.align("../shared/models/stories260k", n=20, perms=20)
)");
  m.def("compare", &compare_py, py::arg("results"), py::kw_only(), py::arg("predict") = std::vector<double>{},
        py::arg("metrics") = std::vector<std::string>{"mlp_last_layer_gain"}, py::arg("params") = "total",
        py::arg("confidence") = 0.95, py::arg("max_segments") = 8,
        R"(Seeds 001/002: cross-model table, phase segmentation and scaling fits of gains results:
the dict `streamgauge compare --out` writes as compare.json.

results: gains.json paths, preset names (pythia-1.4b, pythia-6.9b) and/or dicts
  returned by sg.gains. Options as the CLI's --predict, --metric, --params,
  --confidence, --max-segments.

    >>> c = sg.compare([sg.gains(m), "pythia-1.4b", "pythia-6.9b"], predict=[12e9])
)");
}

}  // namespace sg::python
