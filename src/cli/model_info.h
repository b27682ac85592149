#pragma once
// What a model is, as streamgauge understands it: `inspect --json` prints it,
// the Python binding's Model.config is it.
#include <nlohmann/json.hpp>

#include "model/model.h"

namespace sg::cli {

// model, path, model_type, n_layers, d_model, n_heads, n_kv_heads, d_head, d_mlp,
// vocab_size, rho, parameters, dtype, norms, residual, positions, ropes, ... and
// "layers": one object per layer (window, rope, attn_scale, attn_softcap, post norms).
nlohmann::ordered_json describe_model(const Model& m);

}  // namespace sg::cli
