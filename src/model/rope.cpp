#include "model/rope.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numbers>
#include <optional>
#include <string>

namespace sg {

namespace {

// The scaling object and its type, if the config has one that is not "default".
struct Scaling {
  std::string key;  // "rope_scaling" or "rope_parameters"
  std::string type;
};

std::optional<Scaling> find_scaling(const JsonConfig& c) {
  // transformers 5.x write rope_parameters (always, "default" included), 4.x rope_scaling.
  for (const char* key : {"rope_parameters", "rope_scaling"}) {
    if (!c.has(key)) continue;
    if (!c.json()[key].is_object()) c.field_error(key, "must be an object or null");
    const JsonConfig s = c.sub(key);
    const std::string type = s.string_or({"rope_type", "type"}, "default");
    if (type != "default") return Scaling{key, type};
  }
  return std::nullopt;
}

double positive(const JsonConfig& s, const char* field, std::optional<double> dflt = std::nullopt) {
  const double v = dflt ? s.number_or({field}, *dflt) : s.number({field});
  if (!(v > 0) || !std::isfinite(v)) s.field_error(field, "must be a positive number");
  return v;
}

std::string num(double v) { return fmt::format("{:g}", v); }

// HF _compute_linear_scaling_rope_parameters: inv_freq / factor.
void linear(const JsonConfig& s, Rope& r) {
  const double factor = positive(s, "factor");
  for (double& f : r.inv_freq) f /= factor;
  r.description += ", linear (factor " + num(factor) + ")";
}

// HF _compute_llama3_parameters: frequencies whose wavelength exceeds O / lo are
// divided by factor, those below O / hi are kept, and the band between blends
// the two with s = (O / wavelen - lo) / (hi - lo).
void llama3(const JsonConfig& s, Rope& r) {
  const double factor = positive(s, "factor");
  const double lo = positive(s, "low_freq_factor");
  const double hi = positive(s, "high_freq_factor");
  const double O = positive(s, "original_max_position_embeddings");
  if (!(hi > lo)) s.field_error("high_freq_factor", "must be larger than low_freq_factor");
  for (double& f : r.inv_freq) {
    const double wavelen = 2 * std::numbers::pi / f;
    if (wavelen < O / hi) continue;
    if (wavelen > O / lo) {
      f /= factor;
      continue;
    }
    const double smooth = (O / wavelen - lo) / (hi - lo);
    f = (1 - smooth) * f / factor + smooth * f;
  }
  r.description += fmt::format(", llama3 (factor {}, low_freq_factor {}, high_freq_factor {}, original {})",
                               num(factor), num(lo), num(hi), num(O));
}

// HF _compute_yarn_parameters: a linear ramp between interpolated (inv / factor)
// and extrapolated (inv) frequencies over the dims between the correction
// dimensions of beta_fast and beta_slow rotations, and an attention factor.
void yarn(const JsonConfig& s, Rope& r, double theta, int64_t max_positions) {
  const double factor = positive(s, "factor");
  double O = static_cast<double>(max_positions);
  if (s.has("original_max_position_embeddings")) {
    O = positive(s, "original_max_position_embeddings");
    // transformers 4.48-4.57 use max_position_embeddings / O as the factor,
    // 5.x (and <= 4.47) the factor as written: refuse a config they read differently.
    const double implied = static_cast<double>(max_positions) / O;
    if (std::fabs(implied - factor) > 1e-12 * factor)
      s.field_error("factor", fmt::format("is {} but max_position_embeddings / original_max_position_embeddings = {}: "
                                          "transformers 4.48-4.57 and 5.x would compute different frequencies",
                                          num(factor), num(implied)));
  }
  const double beta_fast = s.number_or({"beta_fast"}, 32.0), beta_slow = s.number_or({"beta_slow"}, 1.0);
  const bool truncate = s.boolean_or({"truncate"}, true);
  const int dim = 2 * static_cast<int>(r.inv_freq.size());
  auto correction_dim = [&](double rotations) {
    return dim * std::log(O / (rotations * 2 * std::numbers::pi)) / (2 * std::log(theta));
  };
  double low = correction_dim(beta_fast), high = correction_dim(beta_slow);
  if (truncate) low = std::floor(low), high = std::ceil(high);
  low = std::max(low, 0.0);
  high = std::min(high, static_cast<double>(dim - 1));
  if (low == high) high += 0.001;
  for (size_t j = 0; j < r.inv_freq.size(); ++j) {
    const double ramp = std::clamp((static_cast<double>(j) - low) / (high - low), 0.0, 1.0);
    r.inv_freq[j] = r.inv_freq[j] / factor * ramp + r.inv_freq[j] * (1 - ramp);
  }
  auto mscale = [](double scale, double m) { return scale <= 1 ? 1.0 : 0.1 * m * std::log(scale) + 1.0; };
  const double m = s.number_or({"mscale"}, 0), m_all = s.number_or({"mscale_all_dim"}, 0);
  if (s.has("attention_factor"))
    r.attention_factor = positive(s, "attention_factor");
  else if (m != 0 && m_all != 0)
    r.attention_factor = mscale(factor, m) / mscale(factor, m_all);
  else
    r.attention_factor = mscale(factor, 1.0);
  r.description += fmt::format(", yarn (factor {}, original {}, beta_fast {}, beta_slow {}, attention factor {:.6g})",
                               num(factor), num(O), num(beta_fast), num(beta_slow), r.attention_factor);
}

}  // namespace

Rope plain_rope(int rotary_dim, double theta) {
  Rope r;
  r.inv_freq.resize(static_cast<size_t>(std::max(rotary_dim, 0) / 2));
  for (size_t j = 0; j < r.inv_freq.size(); ++j)
    r.inv_freq[j] = std::pow(theta, -2.0 * static_cast<double>(j) / rotary_dim);
  r.description = "theta " + num(theta);
  return r;
}

Rope read_rope(const JsonConfig& c, int rotary_dim, double theta, int64_t max_positions) {
  Rope r = plain_rope(rotary_dim, theta);
  const auto scaling = find_scaling(c);
  if (!scaling) return r;
  const JsonConfig s = c.sub(scaling->key);
  if (scaling->type == "linear")
    linear(s, r);
  else if (scaling->type == "llama3")
    llama3(s, r);
  else if (scaling->type == "yarn")
    yarn(s, r, theta, max_positions);
  else
    c.field_error(scaling->key,
                  "has rope_type \"" + scaling->type +
                      "\", which streamgauge does not support (supported: default, linear, llama3, yarn)");
  return r;
}

Rope read_phi3_rope(const JsonConfig& c, int rotary_dim, double theta, int64_t max_positions) {
  Rope r = plain_rope(rotary_dim, theta);
  const auto scaling = find_scaling(c);
  if (!scaling) return r;
  // Phi3Config renames the legacy types "su" and "yarn" to longrope and accepts no other.
  if (scaling->type != "longrope" && scaling->type != "su" && scaling->type != "yarn")
    c.field_error(scaling->key, "has rope_type \"" + scaling->type +
                                    "\", which a phi3 model does not support (supported: default, longrope)");
  const JsonConfig s = c.sub(scaling->key);
  const size_t half = r.inv_freq.size();
  auto factors = [&](const char* field) {
    if (!s.has(field) || !s.json()[field].is_array() || s.json()[field].size() != half)
      s.field_error(field, fmt::format("must be a list of {} numbers (rotary dims / 2)", half));
    std::vector<double> f;
    for (const auto& v : s.json()[field]) {
      if (!v.is_number() || !(v.get<double>() > 0) || !std::isfinite(v.get<double>()))
        s.field_error(field, "must hold positive numbers");
      f.push_back(v.get<double>());
    }
    return f;
  };
  const std::vector<double> short_factor = factors("short_factor"), long_factor = factors("long_factor");
  // The original context O: config.json's top-level original_max_position_embeddings
  // (Phi3Config's default 4096), as HF's _compute_longrope_parameters reads it.
  double O = 4096;
  if (c.has("original_max_position_embeddings"))
    O = positive(c, "original_max_position_embeddings");
  else if (s.has("original_max_position_embeddings"))
    O = positive(s, "original_max_position_embeddings");
  if (O != std::floor(O)) c.field_error("original_max_position_embeddings", "must be a whole number of positions");
  const double factor = static_cast<double>(max_positions) / O;
  if (s.has("attention_factor"))
    r.attention_factor = positive(s, "attention_factor");
  else
    r.attention_factor = factor <= 1 ? 1.0 : std::sqrt(1 + std::log(factor) / std::log(O));
  r.long_inv_freq = r.inv_freq;
  for (size_t j = 0; j < half; ++j) {
    r.inv_freq[j] /= short_factor[j];
    r.long_inv_freq[j] /= long_factor[j];
  }
  r.long_after = static_cast<int64_t>(O);
  r.description +=
      fmt::format(", longrope (short factors up to {} positions, long factors beyond; attention factor {:.6g})", num(O),
                  r.attention_factor);
  return r;
}

void refuse_rope_scaling(const JsonConfig& c) {
  if (const auto scaling = find_scaling(c))
    c.field_error(scaling->key, "has rope_type \"" + scaling->type + "\", which streamgauge does not support for " +
                                    c.string_or({"model_type"}, "this model type"));
}

}  // namespace sg
