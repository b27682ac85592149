#pragma once
// Rotary frequencies from a config: plain rope, or rope scaled by
// `rope_scaling` / `rope_parameters` of type linear, llama3 or yarn, with HF
// transformers' definitions (modeling_rope_utils.py: _compute_default,
// _compute_linear_scaling, _compute_llama3, _compute_yarn_parameters; restated
// in ../shared/golden/README.md section 5a). Computed in double; the engine's
// tables round cos and sin once to float32.
#include <cstdint>

#include "io/json_config.h"
#include "model/arch.h"

namespace sg {

// inv_freq[j] = theta^(-2j / rotary_dim), attention factor 1.
Rope plain_rope(int rotary_dim, double theta);

// The rope of a llama-style config (llama, qwen2, mistral, qwen3): plain rope
// unless rope_parameters / rope_scaling name a type (the legacy key "type" is
// accepted for "rope_type"). Types linear, llama3 and yarn scale the
// frequencies; any other type is refused naming the field. max_positions is
// config.json's max_position_embeddings (yarn's default original length).
Rope read_rope(const JsonConfig& config, int rotary_dim, double theta, int64_t max_positions);

// The rope of a phi3 config: plain, or rope_scaling type longrope ("su" and
// "yarn" are its legacy names there; any other type is refused): inv_freq
// divided by short_factor for sequences of up to O =
// original_max_position_embeddings (top level, default 4096) positions, by
// long_factor beyond (Rope::long_inv_freq); cos and sin times attention_factor,
// else sqrt(1 + ln(M / O) / ln O) when M = max_positions > O (else 1), for both.
Rope read_phi3_rope(const JsonConfig& config, int rotary_dim, double theta, int64_t max_positions);

// Refuses a rope_scaling / rope_parameters of any type but "default" (for
// families whose HF code has no scaling, or where streamgauge has no golden
// data for it).
void refuse_rope_scaling(const JsonConfig& config);

}  // namespace sg
