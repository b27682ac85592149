#pragma once
// A loaded model: its ArchSpec, and its weights as views into memory-mapped
// safetensors files (16-bit weights stay 16-bit; nothing is copied except the
// small 1-D tensors, widened to float32 once).
#include <filesystem>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "io/safetensors.h"
#include "model/arch.h"
#include "model/weights.h"

namespace sg {

class Model {
 public:
  // The part of the model a process holds: the whole model, or in the layer
  // pipeline (dist::Pipeline) stage `index` of `count`, which holds layers
  // [first_layer, end_layer) (contiguous, as equal as can be), the embedding
  // if it is the first stage, the final norm and unembedding if the last.
  // Every tensor is bound (views cost nothing), but only the held ones are
  // ever read, so only their pages become resident.
  struct Stage {
    int index = 0, count = 1;
    int first_layer = 0, end_layer = 0;
    bool first() const { return index == 0; }
    bool last() const { return index == count - 1; }
    bool holds_layer(int l) const { return l >= first_layer && l < end_layer; }
  };
  // Stage `index` of `count` of a model of n_layers layers.
  static Stage stage_of(int n_layers, int index, int count);

  // Loads config.json and the safetensors checkpoint of an HF model directory
  // (of it, stage `stage` of `stages`). Throws sg::Error naming the file,
  // tensor or field on any problem (or a stage count above the layer count);
  // warns about non-finite weights (of the held tensors) and unused tensors.
  static std::unique_ptr<Model> load(const std::filesystem::path& dir, int stage = 0, int stages = 1);

  const ArchSpec& arch() const { return arch_; }
  const ModelWeights& weights() const { return weights_; }
  const std::filesystem::path& dir() const { return dir_; }
  std::string name() const { return name_of(dir_); }
  // A model directory's name: ORG/NAME in the HF cache layout, else the folder's name.
  static std::string name_of(const std::filesystem::path& dir);

  DType weight_dtype() const { return weight_dtype_; }  // of the layer matrices
  size_t bytes_on_disk() const { return store_->bytes_on_disk(); }
  // Of the weight files, the bytes this process holds in memory now.
  size_t resident_weight_bytes() const { return store_->resident_bytes(); }
  const Stage& stage() const { return stage_; }
  const TensorStore& store() const { return *store_; }
  // Parameters bound to the model (a tied matrix counted once), and the same
  // without the token embedding, learned positions and unembedding matrix.
  int64_t n_params() const { return n_params_; }
  int64_t n_params_non_embedding() const { return n_params_non_embedding_; }
  const std::string& config_text() const { return config_text_; }
  // A synthetic model (model/synthetic.h): random weights, its numbers mean nothing.
  bool random_weights() const { return random_weights_; }

  // A 1-D weight (norm gain/bias, bias vector) widened to float32. For a norm
  // weight this is the gain the norm multiplies by: 1 + w where the
  // architecture stores w (ArchSpec::norm_gain_plus_one).
  const float* vec(const TensorView* t) const;

 private:
  std::filesystem::path dir_;
  std::string config_text_;
  ArchSpec arch_;
  std::unique_ptr<TensorStore> store_;
  ModelWeights weights_;
  Stage stage_;
  DType weight_dtype_ = DType::F32;
  bool random_weights_ = false;
  int64_t n_params_ = 0, n_params_non_embedding_ = 0;
  std::unordered_map<const TensorView*, std::vector<float>> vectors_;
};

// The ArchSpec of a config.json text (exposed for tests and the config fuzzer).
ArchSpec translate_config(const std::string& config_text, const std::string& source);

}  // namespace sg
