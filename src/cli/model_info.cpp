#include "cli/model_info.h"

#include "io/dtype.h"

namespace sg::cli {

nlohmann::ordered_json describe_model(const Model& m) {
  const ArchSpec& a = m.arch();
  nlohmann::ordered_json j;
  j["model"] = m.name();
  j["path"] = m.dir().string();
  j["model_type"] = a.model_type;
  j["n_layers"] = a.n_layers;
  j["d_model"] = a.d_model;
  j["n_heads"] = a.n_heads;
  j["n_kv_heads"] = a.n_kv_heads;
  j["d_head"] = a.d_head;
  j["d_mlp"] = a.d_mlp;
  j["vocab_size"] = a.vocab_size;
  j["rho"] = a.rho();
  j["n_params"] = m.n_params();
  j["n_params_non_embedding"] = m.n_params_non_embedding();
  j["weight_dtype"] = std::string(dtype_name(m.weight_dtype()));
  j["bytes_on_disk"] = m.bytes_on_disk();
  j["norm"] = to_string(a.norm);
  j["norm_eps"] = a.norm_eps;
  j["residual"] = a.parallel_residual ? (a.shared_norm ? "parallel, one shared norm" : "parallel") : "sequential";
  j["activation"] = to_string(a.activation);
  j["gated_mlp"] = a.gated_mlp;
  j["positions"] = a.learned_positions ? "learned" : to_string(a.rotary);
  j["rotary_dim"] = a.rotary_dim;
  j["ropes"] = nlohmann::ordered_json::array();
  for (const Rope& r : a.ropes) {
    nlohmann::ordered_json rj = {{"description", r.description}, {"attention_factor", r.attention_factor}};
    if (!r.long_inv_freq.empty()) rj["long_factors_beyond"] = r.long_after;
    j["ropes"].push_back(rj);
  }
  j["norm_gain"] = a.norm_gain_plus_one ? "1 + w" : "w";
  j["pre_norms"] = a.pre_norms;
  j["qk_norm"] = a.qk_norm;
  if (a.qk_norm) j["qk_norm_over"] = a.qk_norm_across_heads ? "projection" : "head";
  if (a.any_moe())
    j["moe"] = {{"n_experts", a.moe.n_experts},
                {"experts_per_token", a.moe.top_k},
                {"norm_topk_prob", a.moe.norm_topk_prob},
                {"d_expert", a.moe.d_expert},
                {"d_shared_expert", a.moe.d_shared}};
  j["embed_scale"] = a.embed_scale;
  j["final_softcap"] = a.final_softcap > 0 ? nlohmann::ordered_json(a.final_softcap) : nlohmann::ordered_json(nullptr);
  j["max_positions"] = a.max_positions;
  j["tied_embeddings"] = a.tied_embeddings;
  j["layers"] = nlohmann::ordered_json::array();
  for (const LayerSpec& l : a.layers)
    j["layers"].push_back(
        {{"window", l.window > 0 ? nlohmann::ordered_json(l.window) : nlohmann::ordered_json(nullptr)},
         {"rope", l.rope},
         {"attn_scale", l.attn_scale},
         {"attn_softcap",
          l.attn_softcap > 0 ? nlohmann::ordered_json(l.attn_softcap) : nlohmann::ordered_json(nullptr)},
         {"post_attn_norm", l.post_attn_norm},
         {"post_mlp_norm", l.post_mlp_norm},
         {"moe", l.moe}});
  return j;
}

}  // namespace sg::cli
