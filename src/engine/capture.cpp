#include "engine/capture.h"

#include <charconv>

#include "util/error.h"

namespace sg {

namespace {
struct Spelling {
  Point point;
  std::string_view suffix;  // after "blocks.{l}." for per-block points
  bool per_block;
};
constexpr Spelling kSpellings[] = {
    {Point::Embed, "hook_embed", false},
    {Point::PosEmbed, "hook_pos_embed", false},
    {Point::ResidPre, "hook_resid_pre", true},
    {Point::Ln1Out, "ln1.hook_out", true},
    {Point::AttnRaw, "attn.hook_out", true},
    {Point::AttnOut, "hook_attn_out", true},
    {Point::Ln2Out, "ln2.hook_out", true},
    {Point::MlpRaw, "mlp.hook_out", true},
    {Point::MlpOut, "hook_mlp_out", true},
    {Point::ResidMid, "hook_resid_mid", true},
    {Point::ResidPost, "hook_resid_post", true},
    {Point::AttnPattern, "attn.hook_pattern", true},
    {Point::AttnEntropy, "attn.hook_pattern_entropy", true},
    {Point::LnFinalOut, "ln_final.hook_out", false},
    {Point::Logits, "logits", false},
    {Point::RouterProbs, "mlp.hook_router_probs", true},
    {Point::RouterWeights, "mlp.hook_router_weights", true},
};
}  // namespace

std::string PointId::name() const {
  for (auto& s : kSpellings)
    if (s.point == point)
      return s.per_block ? "blocks." + std::to_string(layer) + "." + std::string(s.suffix) : std::string(s.suffix);
  return "?";
}

std::optional<PointId> PointId::parse(std::string_view name) {
  if (name.rfind("blocks.", 0) == 0) {
    std::string_view rest = name.substr(7);
    int layer = 0;
    auto [ptr, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), layer);
    if (ec != std::errc() || ptr == rest.data() || *ptr != '.' || layer < 0) return std::nullopt;
    std::string_view suffix(ptr + 1, rest.data() + rest.size() - (ptr + 1));
    for (auto& s : kSpellings)
      if (s.per_block && s.suffix == suffix) return PointId{s.point, layer};
    return std::nullopt;
  }
  for (auto& s : kSpellings)
    if (!s.per_block && s.suffix == name) return PointId{s.point, -1};
  return std::nullopt;
}

std::vector<PointId> capture_points(const ArchSpec& a) {
  std::vector<PointId> out{{Point::Embed}};
  if (a.learned_positions) out.push_back({Point::PosEmbed});
  for (int l = 0; l < a.n_layers; ++l) {
    out.push_back({Point::ResidPre, l});
    out.push_back({Point::Ln1Out, l});
    out.push_back({Point::AttnPattern, l});
    out.push_back({Point::AttnEntropy, l});
    const LayerSpec spec = static_cast<size_t>(l) < a.layers.size() ? a.layers[l] : LayerSpec{};
    if (spec.post_attn_norm) out.push_back({Point::AttnRaw, l});
    out.push_back({Point::AttnOut, l});
    if (!a.parallel_residual) out.push_back({Point::ResidMid, l});
    out.push_back({Point::Ln2Out, l});
    if (spec.moe) {
      out.push_back({Point::RouterProbs, l});
      out.push_back({Point::RouterWeights, l});
    }
    if (spec.post_mlp_norm) out.push_back({Point::MlpRaw, l});
    out.push_back({Point::MlpOut, l});
    out.push_back({Point::ResidPost, l});
  }
  out.push_back({Point::LnFinalOut});
  out.push_back({Point::Logits});
  return out;
}

int64_t point_width(const ArchSpec& a, Point p) {
  if (p == Point::Logits) return a.vocab_size;
  if (p == Point::RouterProbs || p == Point::RouterWeights) return a.moe.n_experts;
  if (p == Point::AttnEntropy) return a.n_heads;
  if (p == Point::AttnPattern) fail("internal: attention patterns have no row width");
  return a.d_model;
}

bool glob_match(std::string_view pat, std::string_view text) {
  // Iterative matcher with backtracking to the last '*'.
  size_t p = 0, t = 0, star = std::string_view::npos, mark = 0;
  while (t < text.size()) {
    if (p < pat.size() && (pat[p] == '?' || pat[p] == text[t])) {
      ++p, ++t;
    } else if (p < pat.size() && pat[p] == '*') {
      star = p++;
      mark = t;
    } else if (star != std::string_view::npos) {
      p = star + 1;
      t = ++mark;
    } else {
      return false;
    }
  }
  while (p < pat.size() && pat[p] == '*') ++p;
  return p == pat.size();
}

void Observer::on_entropies(const PointId& point, const Batch& batch, const double* rows, int64_t heads) {
  const std::vector<float> narrow(rows, rows + batch.n_tokens() * heads);
  on_activation(point, batch, narrow.data(), heads);
}

bool GlobObserver::wants(const PointId& point) {
  const std::string name = point.name();
  for (auto& p : patterns_)
    if (glob_match(p, name)) return true;
  return false;
}

}  // namespace sg
