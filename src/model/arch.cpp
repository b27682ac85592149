#include "model/arch.h"

namespace sg {

bool ArchSpec::any_post_norm() const {
  for (const LayerSpec& l : layers)
    if (l.post_attn_norm || l.post_mlp_norm) return true;
  return false;
}

bool ArchSpec::any_moe() const {
  for (const LayerSpec& l : layers)
    if (l.moe) return true;
  return false;
}

const char* to_string(NormKind k) { return k == NormKind::LayerNorm ? "LayerNorm" : "RMSNorm"; }

const char* to_string(Activation a) {
  switch (a) {
    case Activation::GeluErf: return "gelu (erf)";
    case Activation::GeluTanh: return "gelu (tanh)";
    case Activation::Silu: return "silu";
    case Activation::Relu: return "relu";
  }
  return "?";
}

const char* to_string(RotaryStyle r) {
  switch (r) {
    case RotaryStyle::None: return "none";
    case RotaryStyle::Half: return "rotate_half";
    case RotaryStyle::Interleaved: return "rotate_every_two";
  }
  return "?";
}

}  // namespace sg
