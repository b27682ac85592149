// The `streamgauge` Python module: loading models, TransformerLens-style
// run_with_cache, streaming observation. Conversion only: every number comes
// from libstreamgauge (experiments.cpp wraps the experiments).
#include <fmt/format.h>
#include <pybind11/functional.h>
#include <pybind11/stl.h>

#include <climits>
#include <filesystem>
#include <map>
#include <unordered_map>

#include "binding.h"
#include "cli/common.h"
#include "cli/model_info.h"
#include "engine/capture.h"
#include "hub/resolve.h"
#include "model/synthetic.h"
#include "report/json_io.h"
#include "util/error.h"
#include "util/version.h"

namespace sg::python {

// ---------------------------------------------------------------------------
// Models

PyModel::PyModel(std::shared_ptr<const Model> model, bool fast) : model_(std::move(model)), fast_(fast) {}

const Tokenizer& PyModel::tokenizer() {
  if (!tokenizer_) {
    if (!Tokenizer::found_in(model_->dir()))
      fail("{}: no tokenizer (tokenizer.json, vocab.json + merges.txt or tokenizer.model); give token ids instead",
           model_->dir().string());
    tokenizer_ = Tokenizer::load(model_->dir());
  }
  return *tokenizer_;
}

void check_signals() {
  py::gil_scoped_acquire gil;
  if (PyErr_CheckSignals() != 0) throw py::error_already_set();
}

void PyModel::run(const Batch& batch, std::span<Observer* const> observers) {
  py::gil_scoped_release release;
  std::lock_guard lock(mutex_);
  if (!engine_) {
    const bool bf16 = fast_ && model_->weight_dtype() == DType::BF16;
    engine_ = std::make_unique<Engine>(*model_, bf16 ? MatmulPrecision::BF16 : MatmulPrecision::F32);
  }
  RunOptions options;
  options.between_layers = check_signals;
  engine_->run(batch, observers, options);
}

std::shared_ptr<const Model> load_shared(const std::string& arg) {
  namespace fs = std::filesystem;
  py::gil_scoped_release release;  // mapping a large checkpoint takes a while; other threads run meanwhile
  fs::path dir;
  try {
    dir = hub::resolve_model(arg);
  } catch (const Error& e) {
    throw NotFound(e.what());
  }
  std::error_code ec;
  if (!fs::exists(dir / "config.json", ec)) throw NotFound(fmt::format("{}: no config.json", dir.string()));
  // Loads of the same directory share one Model (one mapping of the weights)
  // while any of them is alive, unless config.json changed in between.
  const auto key = fs::weakly_canonical(dir, ec).string() + "\n" +
                   std::to_string(fs::last_write_time(dir / "config.json", ec).time_since_epoch().count());
  static std::mutex mutex;
  static std::map<std::string, std::weak_ptr<const Model>> loaded;
  std::lock_guard lock(mutex);
  if (auto it = loaded.find(key); it != loaded.end())
    if (auto m = it->second.lock()) return m;
  std::shared_ptr<const Model> m = Model::load(dir);
  loaded[key] = m;
  return m;
}

std::optional<std::string> fspath(py::handle obj) {
  if (py::isinstance<py::str>(obj)) return obj.cast<std::string>();
  const auto os = py::module_::import("os");
  if (py::isinstance(obj, os.attr("PathLike"))) return py::str(os.attr("fspath")(obj)).cast<std::string>();
  return std::nullopt;
}

std::shared_ptr<PyModel> load(py::handle model, bool fast) {
  if (auto s = fspath(model)) return std::make_shared<PyModel>(load_shared(*s), fast);
  throw py::type_error("model: expected a model directory or ORG/NAME[@REVISION]");
}

std::shared_ptr<PyModel> as_model(py::handle obj) {
  if (py::isinstance<PyModel>(obj)) return obj.cast<std::shared_ptr<PyModel>>();
  if (auto s = fspath(obj)) return std::make_shared<PyModel>(load_shared(*s), false);
  throw py::type_error("model: expected a streamgauge.Model, a model directory or ORG/NAME[@REVISION]");
}

// ---------------------------------------------------------------------------
// Conversions

namespace {

bool is_text(py::handle h) { return py::isinstance<py::str>(h); }

bool is_id(py::handle h) {
  if (py::isinstance<py::bool_>(h)) return false;
  if (py::isinstance<py::int_>(h)) return true;
  return py::hasattr(h, "dtype") && py::hasattr(h, "__index__") && !py::hasattr(h, "__len__");  // numpy integer
}

std::vector<int32_t> to_ids(py::handle h, size_t index) {
  std::vector<int32_t> ids;
  if (!py::isinstance<py::sequence>(h) && !py::isinstance<py::array>(h))
    throw py::type_error(fmt::format("sequence {}: expected a text or a list of token ids, got {}", index,
                                     std::string(py::str(py::type::of(h).attr("__name__")))));
  for (py::handle item : h) {
    if (!is_id(item))
      throw py::type_error(fmt::format("sequence {}: token ids must be integers, got {}", index,
                                       std::string(py::str(py::type::of(item).attr("__name__")))));
    const py::int_ as_int = py::reinterpret_borrow<py::object>(item);
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(as_int.ptr(), &overflow);
    if (overflow != 0 || v < INT32_MIN || v > INT32_MAX)
      throw Error(fmt::format("sequence {}: token id {} is outside the vocabulary", index, std::string(py::str(item))));
    ids.push_back(static_cast<int32_t>(v));
  }
  return ids;
}

}  // namespace

Sequences to_sequences(PyModel& model, py::handle obj) {
  Sequences out;
  auto text = [&](py::handle h) { return model.tokenizer().encode(h.cast<std::string>(), /*add_special=*/true); };
  if (is_text(obj)) {
    out.ids.push_back(text(obj));
    out.single = true;
  } else if (py::isinstance<py::array>(obj) && py::array(py::reinterpret_borrow<py::object>(obj)).ndim() == 1) {
    out.ids.push_back(to_ids(obj, 0));
    out.single = true;
  } else if (py::isinstance<py::sequence>(obj) || py::isinstance<py::array>(obj)) {
    const py::sequence seq = py::reinterpret_borrow<py::sequence>(obj);
    if (py::len(seq) > 0 && is_id(seq[0])) {
      out.ids.push_back(to_ids(obj, 0));
      out.single = true;
    } else {
      size_t i = 0;
      for (py::handle item : obj) {
        out.ids.push_back(is_text(item) ? text(item) : to_ids(item, i));
        ++i;
      }
    }
  } else {
    throw py::type_error("sequences: expected a text, a list of token ids, or a list of those");
  }
  if (out.ids.empty()) throw Error("no sequences given");
  for (size_t i = 0; i < out.ids.size(); ++i)
    if (out.ids[i].empty()) throw Error(fmt::format("sequence {} is empty", i));
  return out;
}

py::object to_python(const nlohmann::json& doc) {
  return py::module_::import("json").attr("loads")(report::dump_json(doc));
}
py::object to_python(const nlohmann::ordered_json& doc) {
  return to_python(nlohmann::json::parse(doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)));
}

py::array_t<float> owned_array(std::vector<float>&& data, const std::vector<py::ssize_t>& shape) {
  auto* owner = new std::vector<float>(std::move(data));
  py::capsule capsule(owner, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>(shape, owner->data(), capsule);
}

// ---------------------------------------------------------------------------
// Observers

namespace {

// Which capture points a names_filter selects: None (all), a glob, a list of
// globs (each must match some point, as `capture --hooks`), or a callable.
std::vector<bool> select_points(const std::vector<PointId>& points, py::handle filter) {
  std::vector<bool> want(points.size(), filter.is_none());
  if (filter.is_none()) return want;
  std::vector<std::string> globs;
  if (py::isinstance<py::str>(filter)) {
    globs.push_back(filter.cast<std::string>());
  } else if (PyCallable_Check(filter.ptr())) {
    for (size_t i = 0; i < points.size(); ++i) want[i] = py::bool_(filter(points[i].name()));
    return want;
  } else if (py::isinstance<py::sequence>(filter) || py::isinstance<py::iterable>(filter)) {
    for (py::handle g : filter) {
      if (!py::isinstance<py::str>(g)) throw py::type_error("names_filter: a list of globs must hold strings");
      globs.push_back(g.cast<std::string>());
    }
  } else {
    throw py::type_error("names_filter: expected None, a glob, a list of globs or a callable on names");
  }
  for (const auto& g : globs) {
    bool any = false;
    for (size_t i = 0; i < points.size(); ++i)
      if (glob_match(g, points[i].name())) want[i] = any = true;
    if (!any)
      fail("names_filter: \"{}\" matches no capture point of this model (Model.capture_points() lists them)", g);
  }
  return want;
}

// Keeps a copy of each wanted point per sequence; each copy becomes a numpy
// array without another copy.
class Collector : public Observer {
 public:
  struct Tensor {
    std::vector<py::ssize_t> shape;
    std::vector<float> data;
  };
  Collector(const std::vector<PointId>& points, const std::vector<bool>& want, size_t n_seqs) {
    for (size_t i = 0; i < points.size(); ++i)
      if (want[i]) {
        index_[points[i].name()] = names_.size();
        names_.push_back(points[i].name());
      }
    tensors_.assign(names_.size(), std::vector<Tensor>(n_seqs));
  }
  bool wants(const PointId& p) override { return index_.count(p.name()) > 0; }
  void on_activation(const PointId& p, const Batch& b, const float* rows, int64_t width) override {
    auto& per_seq = tensors_[index_.at(p.name())];
    for (size_t s = 0; s < b.n_sequences(); ++s) {
      const float* first = rows + b.begin(s) * width;
      per_seq[s] = {{b.length(s), width}, std::vector<float>(first, first + b.length(s) * width)};
    }
  }
  void on_pattern(int layer, const Batch&, size_t seq, const float* probs, int heads, int64_t T) override {
    auto& t = tensors_[index_.at(PointId{Point::AttnPattern, layer}.name())][seq];
    t = {{heads, T, T}, std::vector<float>(probs, probs + int64_t{heads} * T * T)};
  }
  const std::vector<std::string>& names() const { return names_; }
  std::vector<Tensor>& tensors(const std::string& name) { return tensors_[index_.at(name)]; }

 private:
  std::unordered_map<std::string, size_t> index_;
  std::vector<std::string> names_;
  std::vector<std::vector<Tensor>> tensors_;
};

// Hands each matching point to Python callbacks as the forward produces it: a
// read-only array over the engine's buffer, valid during the call.
class Streamer : public Observer {
 public:
  Streamer(std::vector<std::string> globs, std::vector<py::object> callbacks)
      : globs_(std::move(globs)), callbacks_(std::move(callbacks)) {}
  bool wants(const PointId& p) override {
    for (auto& g : globs_)
      if (glob_match(g, p.name())) return true;
    return false;
  }
  void on_activation(const PointId& p, const Batch& b, const float* rows, int64_t width) override {
    py::gil_scoped_acquire gil;
    const std::string name = p.name();
    for (size_t s = 0; s < b.n_sequences(); ++s) deliver(name, s, {b.length(s), width}, rows + b.begin(s) * width);
  }
  void on_pattern(int layer, const Batch&, size_t seq, const float* probs, int heads, int64_t T) override {
    py::gil_scoped_acquire gil;
    deliver(PointId{Point::AttnPattern, layer}.name(), seq, {heads, T, T}, probs);
  }

 private:
  void deliver(const std::string& name, size_t seq, std::vector<py::ssize_t> shape, const float* data) {
    py::capsule no_owner(data, [](void*) {});
    py::array_t<float> a(shape, data, no_owner);
    py::detail::array_proxy(a.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    const py::str py_name(name);
    for (size_t i = 0; i < globs_.size(); ++i)
      if (glob_match(globs_[i], name)) callbacks_[i](py_name, seq, a);
  }
  std::vector<std::string> globs_;
  std::vector<py::object> callbacks_;
};

py::tuple run_with_cache(PyModel& self, py::handle sequences, py::handle names_filter, bool logits) {
  const Sequences seqs = to_sequences(self, sequences);
  const auto points = capture_points(self.model().arch());
  const std::vector<bool> in_cache = select_points(points, names_filter);
  std::vector<bool> want = in_cache;
  for (size_t i = 0; i < points.size(); ++i)
    if (logits && points[i].point == Point::Logits) want[i] = true;
  Collector collector(points, want, seqs.ids.size());
  Observer* observers[] = {&collector};
  self.run(Batch::of(seqs.ids), observers);

  auto arrays = [&](const std::string& name) {
    py::list out;
    for (auto& t : collector.tensors(name)) out.append(owned_array(std::move(t.data), t.shape));
    return out;
  };
  py::dict cache;
  py::object logits_out = py::none();
  for (size_t i = 0; i < points.size(); ++i) {
    if (!want[i]) continue;
    const std::string name = points[i].name();
    py::list list = arrays(name);
    py::object value = seqs.single ? py::object(list[0]) : py::object(list);
    if (in_cache[i]) cache[py::str(name)] = value;
    if (points[i].point == Point::Logits && logits) logits_out = value;
  }
  return py::make_tuple(logits_out, cache);
}

void run_observed(PyModel& self, py::handle sequences, py::dict observe) {
  const Sequences seqs = to_sequences(self, sequences);
  const auto points = capture_points(self.model().arch());
  std::vector<std::string> globs;
  std::vector<py::object> callbacks;
  for (auto [key, value] : observe) {
    if (!py::isinstance<py::str>(key)) throw py::type_error("observe: keys must be glob strings");
    if (!PyCallable_Check(value.ptr())) throw py::type_error("observe: values must be callables");
    const auto g = key.cast<std::string>();
    bool any = false;
    for (auto& p : points) any = any || glob_match(g, p.name());
    if (!any) fail("observe: \"{}\" matches no capture point of this model (Model.capture_points() lists them)", g);
    globs.push_back(g);
    callbacks.push_back(py::reinterpret_borrow<py::object>(value));
  }
  Streamer streamer(globs, callbacks);
  Observer* observers[] = {&streamer};
  self.run(Batch::of(seqs.ids), observers);
}

py::dict config(const PyModel& self) {
  auto d = py::reinterpret_borrow<py::dict>(to_python(cli::describe_model(self.model())));
  d["family"] = self.model().arch().model_type;
  return d;
}

}  // namespace

}  // namespace sg::python

using namespace sg::python;

PYBIND11_MODULE(streamgauge, m) {
  m.doc() = R"(streamgauge: HuggingFace-format transformers run natively on the CPU, with
TransformerLens-style capture points, for interpretability measurements.

    import streamgauge as sg
    m = sg.load("path/to/model")          # or "ORG/NAME[@REVISION]" from the HF cache
    logits, cache = m.run_with_cache("Once upon a time")
    cache["blocks.0.hook_resid_post"].shape   # (tokens, d_model)
    gains = sg.gains(m, prompts=["Once upon a time", "The cat sat"])
)";
  m.attr("__version__") = sg::version();

  static py::exception<sg::Error> error(m, "Error", PyExc_ValueError);
  error.doc() = "A streamgauge error (bad file, bad argument, ...); a ValueError. Its message is the CLI's.";
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const NotFound& e) {
      PyErr_SetString(PyExc_FileNotFoundError, e.what());
    } catch (const sg::Error& e) {
      PyErr_SetString(error.ptr(), e.what());
    }
  });

  py::class_<PyModel, std::shared_ptr<PyModel>>(m, "Model", R"(A loaded model (weights memory-mapped, never copied).

Get one with streamgauge.load(). Loads of the same directory share the mapped
weights; each Model runs one forward at a time.)")
      .def_property_readonly(
          "name", [](const PyModel& s) { return s.model().name(); },
          "ORG/NAME in the HF cache layout, else the directory's name.")
      .def_property_readonly(
          "path", [](const PyModel& s) { return s.model().dir().string(); }, "The model directory.")
      .def_property_readonly("fast", &PyModel::fast, "Whether forwards use BF16 matrix products (load(fast=True)).")
      .def_property_readonly("config", &config, R"(What the model is, as a dict: `streamgauge inspect --json`.

Keys include family (= model_type), n_layers, d_model, n_heads, n_kv_heads,
d_head, d_mlp, vocab_size, rho (n_heads / d_head), n_params, weight_dtype,
norm, residual, positions, and layers: one dict per layer (window, rope,
attn_scale, attn_softcap, post_attn_norm, post_mlp_norm).

    >>> m.config["n_layers"], m.config["rho"]
    (5, 1.0)
)")
      .def(
          "capture_points",
          [](const PyModel& s) {
            std::vector<std::string> names;
            for (const auto& p : capture_points(s.model().arch())) names.push_back(p.name());
            return names;
          },
          R"(Every capture point name, in forward order.

    >>> m.capture_points()[:3]
    ['hook_embed', 'blocks.0.hook_resid_pre', 'blocks.0.ln1.hook_out']
)")
      .def(
          "tokenize",
          [](PyModel& s, const std::string& text, bool add_special) { return s.tokenizer().encode(text, add_special); },
          py::arg("text"), py::arg("add_special") = true,
          R"(Token ids of a text, as HF's tokenizer(text).input_ids: special tokens added by default.

    >>> m.tokenize("Once upon a time")
    [1, 403, 407, 261, 378]
)")
      .def(
          "decode", [](PyModel& s, const std::vector<int32_t>& ids) { return s.tokenizer().decode(ids); },
          py::arg("ids"), R"(The text of token ids (HF's decode, special tokens kept).

    >>> m.decode(m.tokenize("Once upon a time"))
)")
      .def("run_with_cache", &run_with_cache, py::arg("sequences"), py::arg("names_filter") = py::none(),
           py::arg("logits") = true,
           R"(Runs sequences and returns (logits, cache), as TransformerLens' run_with_cache.

sequences: a text, a list of token ids, or a list of texts and/or id lists
  (texts get the tokenizer's special tokens, as tokenize()). All run as one
  padding-free batch.
names_filter: None (every capture point), a glob ("blocks.*.hook_attn_out"),
  a list of globs, or a callable name -> bool.
logits: False skips the unembedding (and the layers after the last wanted point).

Returns logits (float32 [T, vocab] per sequence, or None) and a dict from
capture-point name to float32 arrays ([T, width]; attention patterns
[heads, T, T]), one per sequence. A single text or id list gives single arrays
instead of lists. The arrays own their memory (no copies beyond the capture).

    >>> logits, cache = m.run_with_cache("Once upon a time", names_filter="blocks.*.hook_resid_post")
    >>> cache["blocks.0.hook_resid_post"].shape
    (5, 64)
)")
      .def("run", &run_observed, py::arg("sequences"), py::kw_only(), py::arg("observe"),
           R"(Runs sequences, streaming capture points to callbacks as the forward produces them.

observe: {glob: callback}; callback(name, sequence_index, array) is called
once per matching point and sequence, array a read-only float32 view
([T, width]; patterns [heads, T, T]) valid only during the call (copy it to keep
it). Nothing else is kept, so reductions over long prompts cost no memory.

    >>> norms = {}
    >>> m.run(["Once upon a time", "The end"], observe={
    ...     "blocks.*.hook_resid_post": lambda name, i, a: norms.setdefault(name, []).append(
    ...         np.linalg.norm(a, axis=-1))})
)")
      .def("__repr__", [](const PyModel& s) {
        return fmt::format("<streamgauge.Model {} ({}, {} layers, d_model {}{})>", s.model().name(),
                           s.model().arch().model_type, s.model().arch().n_layers, s.model().arch().d_model,
                           s.fast() ? ", fast" : "");
      });

  m.def(
      "load", [](py::handle model, bool fast) { return load(model, fast); }, py::arg("model"), py::kw_only(),
      py::arg("fast") = false,
      R"(Loads a model: a directory (config.json + safetensors) or ORG/NAME[@REVISION]
from the HuggingFace cache, resolved exactly as the CLI does.

fast=True: BF16 matrix products with float32 accumulation for BF16 checkpoints
(about 2x faster, small deviations from the exact float32 path); no effect otherwise.
Raises FileNotFoundError if there is no such model, streamgauge.Error (a
ValueError) if it cannot be loaded.

    >>> m = sg.load("../shared/models/stories260k")
)");
  m.def(
      "demo_model", [] { return sg::cli::demo_model_dir().string(); },
      R"(The directory of the offline demo model (random weights, Pythia architecture,
byte-level tokenizer; its numbers mean nothing), generated on first use as the CLI does.

    >>> m = sg.load(sg.demo_model())
)");
  m.def(
      "_write_synthetic_model",
      [](const std::string& dir, int n_layers, int d_model, int n_heads, int d_mlp, int vocab_size,
         const std::string& dtype, uint64_t seed) {
        sg::SyntheticSpec spec;
        spec.n_layers = n_layers, spec.d_model = d_model, spec.n_heads = n_heads, spec.d_mlp = d_mlp;
        spec.vocab_size = vocab_size, spec.seed = seed;
        spec.dtype = dtype == "BF16" ? sg::DType::BF16 : dtype == "F16" ? sg::DType::F16 : sg::DType::F32;
        sg::write_synthetic_model(dir, spec);
      },
      py::arg("dir"), py::arg("n_layers"), py::arg("d_model"), py::arg("n_heads"), py::arg("d_mlp"),
      py::arg("vocab_size"), py::arg("dtype") = "F32", py::arg("seed") = 1,
      "Writes a random-weight GPT-NeoX model (tests and benchmarks; its numbers mean nothing).");

  register_experiments(m);
}
