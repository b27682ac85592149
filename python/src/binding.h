#pragma once
// Shared by the binding's source files: the Python-side Model, conversions
// (JSON to Python objects, token sequences from Python), the GIL and Ctrl-C
// handling around the engine, and the exception types Python sees.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <functional>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "model/model.h"
#include "tokenize/tokenizer.h"

namespace sg::python {

namespace py = pybind11;

// Raised as FileNotFoundError (a model or input file that is not there); other
// sg::Error become streamgauge.Error, a ValueError.
class NotFound : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A loaded model as Python sees it. The sg::Model (its mapped weights) is
// shared by every load of the same directory; each PyModel has its own engine
// (activation buffers), used by one forward at a time.
class PyModel {
 public:
  PyModel(std::shared_ptr<const Model> model, bool fast);

  const Model& model() const { return *model_; }
  const std::shared_ptr<const Model>& shared() const { return model_; }
  bool fast() const { return fast_; }
  // The model's own tokenizer, loaded on first use (sg::Error if it has none).
  const Tokenizer& tokenizer();
  // Runs a forward with the GIL released, Ctrl-C checked between layers
  // (KeyboardInterrupt), one forward of this model at a time.
  void run(const Batch& batch, std::span<Observer* const> observers);

 private:
  std::shared_ptr<const Model> model_;
  bool fast_;
  std::unique_ptr<Engine> engine_;
  std::unique_ptr<Tokenizer> tokenizer_;
  std::mutex mutex_;
};

// sg.load's resolution (a directory or ORG/NAME[@REVISION], as the CLI) and
// the cache of loaded models by directory. Call with the GIL held: it releases
// it while resolving and mapping.
std::shared_ptr<const Model> load_shared(const std::string& arg);
// A path argument (str or os.PathLike) as a string; nullopt for anything else.
std::optional<std::string> fspath(py::handle obj);
// sg.load: a path or ORG/NAME[@REVISION].
std::shared_ptr<PyModel> load(py::handle model, bool fast);
// A Model argument: a streamgauge.Model, or a string given to sg.load.
std::shared_ptr<PyModel> as_model(py::handle obj);

// Called between layers with the GIL released: re-acquires it, runs Python's
// signal handlers, throws py::error_already_set (KeyboardInterrupt) if one raised.
void check_signals();

// Token sequences from Python: a text, a list of ids, or a list of texts and/or
// id lists (texts tokenized with the model's tokenizer, special tokens added as
// HF's tokenizer(text) does). `single`: one text or id list was given.
struct Sequences {
  std::vector<std::vector<int32_t>> ids;
  bool single = false;
};
Sequences to_sequences(PyModel& model, py::handle obj);

// A JSON document as Python objects (json.loads of what the CLI writes:
// NaN and infinities become None, as in the files).
py::object to_python(const nlohmann::json& doc);
py::object to_python(const nlohmann::ordered_json& doc);

// A float32 array owning `data` (no copy): freed when Python drops the array.
py::array_t<float> owned_array(std::vector<float>&& data, const std::vector<py::ssize_t>& shape);

// streamgauge.gains / weights / ... (experiments.cpp).
void register_experiments(py::module_& m);

}  // namespace sg::python
