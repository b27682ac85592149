// The experiments from Python: each returns the dict its CLI command writes as
// JSON (the experiment's own encoding, the CLI's driver code), NaN as None.
// sg.residual, sg.align and sg.compare join here once their encodings live in
// src/experiments.
#include <fmt/format.h>
#include <pybind11/stl.h>

#include <filesystem>
#include <optional>

#include "binding.h"
#include "experiments/gains_outputs.h"
#include "experiments/prompts.h"
#include "experiments/weights.h"
#include "report/json_io.h"
#include "util/error.h"

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

PromptSet prompt_set(PyModel& model, py::handle prompts, py::handle ids, const std::string& tokenizer) {
  if (!prompts.is_none() && !ids.is_none()) fail("give either prompts or ids, not both");
  PromptsInput input;
  input.tokenizer = tokenizer;
  input.default_preset = "ffn-1.4b";  // the CLI's
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
  PromptSet set = prompt_set(*model, prompts, ids, tokenizer);
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
    const auto norms = weights::layer_norms(m, [](int) { check_signals(); });
    doc = weights::to_json(norms, m.name(), m.arch().gated_mlp,
                           report::provenance({{"model_path", std::filesystem::absolute(m.dir()).string()}}));
  }
  return to_python(doc);
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
}

}  // namespace sg::python
