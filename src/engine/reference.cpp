#include "engine/reference.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numbers>

#include "engine/capture.h"
#include "util/error.h"

namespace sg {

namespace {

using Vec = std::vector<double>;

// Element i of a stored float tensor, widened exactly to double. The 16-bit
// formats are decoded here from their bit patterns (not through io/dtype's
// converters), so a mistake there would show up as a disagreement.
double element(const TensorView& t, int64_t i) {
  switch (t.dtype) {
    case DType::F64: {
      double v;
      std::memcpy(&v, t.data + 8 * i, 8);
      return v;
    }
    case DType::F32: {
      float v;
      std::memcpy(&v, t.data + 4 * i, 4);
      return v;
    }
    case DType::BF16: {  // the upper half of a float32
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      const uint32_t bits = static_cast<uint32_t>(h) << 16;
      float v;
      std::memcpy(&v, &bits, 4);
      return v;
    }
    case DType::F16: {  // sign, 5 exponent bits (bias 15), 10 mantissa bits
      uint16_t h;
      std::memcpy(&h, t.data + 2 * i, 2);
      const int exponent = (h >> 10) & 0x1f, mantissa = h & 0x3ff;
      double v;
      if (exponent == 0x1f)
        v = mantissa ? std::numeric_limits<double>::quiet_NaN() : std::numeric_limits<double>::infinity();
      else if (exponent == 0)
        v = std::ldexp(mantissa, -24);  // subnormal: mantissa * 2^-14 / 2^10
      else
        v = std::ldexp(1024 + mantissa, exponent - 25);  // (1 + mantissa / 2^10) * 2^(exponent - 15)
      return (h & 0x8000) ? -v : v;
    }
    default: break;
  }
  fail("{}: tensor {} has dtype {}, not a float type", t.file ? t.file->string() : "?", t.name, dtype_name(t.dtype));
}

Vec widen(const TensorView& t) {
  Vec v(static_cast<size_t>(t.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = element(t, static_cast<int64_t>(i));
  return v;
}

// A Linear as a dense [out, in] double matrix (whatever its storage: nn.Linear
// [out, in] or Conv1D [in, out]) and its bias (empty if none).
struct Dense {
  int64_t in = 0, out = 0;
  Vec w, b;
};

Dense dense(const Linear& L) {
  if (!L.weight) fail("internal: reference: a projection has no weight");
  Dense m{L.in, L.out, Vec(static_cast<size_t>(L.in * L.out)), {}};
  for (int64_t o = 0; o < L.out; ++o)
    for (int64_t i = 0; i < L.in; ++i)
      m.w[o * L.in + i] = element(*L.weight, L.in_out ? i * L.out + o : (L.row_offset + o) * L.in + i);
  if (L.bias) {
    const Vec b = widen(*L.bias);
    m.b.assign(b.begin() + L.row_offset, b.begin() + L.row_offset + L.out);
  }
  return m;
}

// y[T, out] = x[T, in] W^T + b
Vec apply(const Dense& m, const Vec& x, int64_t T) {
  Vec y(static_cast<size_t>(T * m.out));
  for (int64_t t = 0; t < T; ++t)
    for (int64_t o = 0; o < m.out; ++o) {
      double s = 0;
      for (int64_t i = 0; i < m.in; ++i) s += x[t * m.in + i] * m.w[o * m.in + i];
      y[t * m.out + o] = m.b.empty() ? s : s + m.b[o];
    }
  return y;
}

// LayerNorm (population variance, eps inside the root, then gain and bias) or
// RMSNorm (no mean, then gain), per row of d values (d_model unless given);
// Gemma's gain is 1 + w.
Vec normalize(const ArchSpec& a, const NormWeights& nw, const Vec& x, int64_t T, int64_t d = 0) {
  if (d == 0) d = a.d_model;
  Vec w = widen(*nw.weight);
  if (a.norm_gain_plus_one)
    for (double& g : w) g += 1.0;
  const Vec b = nw.bias ? widen(*nw.bias) : Vec(static_cast<size_t>(d), 0.0);
  Vec y(x.size());
  for (int64_t t = 0; t < T; ++t) {
    const double* r = x.data() + t * d;
    double* out = y.data() + t * d;
    if (a.norm == NormKind::LayerNorm) {
      double mean = 0;
      for (int64_t i = 0; i < d; ++i) mean += r[i];
      mean /= static_cast<double>(d);
      double var = 0;
      for (int64_t i = 0; i < d; ++i) var += (r[i] - mean) * (r[i] - mean);
      var /= static_cast<double>(d);
      const double denom = std::sqrt(var + a.norm_eps);
      for (int64_t i = 0; i < d; ++i) out[i] = (r[i] - mean) / denom * w[i] + b[i];
    } else {
      double ms = 0;
      for (int64_t i = 0; i < d; ++i) ms += r[i] * r[i];
      ms /= static_cast<double>(d);
      const double denom = std::sqrt(ms + a.norm_eps);
      for (int64_t i = 0; i < d; ++i) out[i] = r[i] / denom * w[i];
    }
  }
  return y;
}

double activation(Activation act, double x) {
  switch (act) {
    case Activation::GeluErf: return 0.5 * x * (1.0 + std::erf(x / std::numbers::sqrt2));
    case Activation::GeluTanh:
      return 0.5 * x * (1.0 + std::tanh(std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x)));
    case Activation::Silu: return x / (1.0 + std::exp(-x));
    case Activation::Relu: return x > 0 ? x : 0.0;
  }
  fail("internal: reference: unknown activation");
}

Vec add(const Vec& a, const Vec& b) {
  Vec y(a.size());
  for (size_t i = 0; i < a.size(); ++i) y[i] = a[i] + b[i];
  return y;
}

// Rotary embedding of one head vector v (hd values) at position p: the first
// r dims rotate in pairs, (j, j + r/2) for rotate_half, (2j, 2j + 1) for
// rotate_every_two, by the angle p * inv_freq[j], cos and sin times the rope's
// attention factor.
void rotate(const ArchSpec& a, const std::vector<double>& inv_freq, double attention_factor, double* v, int64_t p) {
  const int r = a.rotary == RotaryStyle::None ? 0 : a.rotary_dim;
  for (int j = 0; j < r / 2; ++j) {
    const double angle = static_cast<double>(p) * inv_freq[j];
    const double c = std::cos(angle) * attention_factor, s = std::sin(angle) * attention_factor;
    const int i0 = a.rotary == RotaryStyle::Half ? j : 2 * j;
    const int i1 = a.rotary == RotaryStyle::Half ? j + r / 2 : 2 * j + 1;
    const double x0 = v[i0], x1 = v[i1];
    v[i0] = x0 * c - x1 * s;
    v[i1] = x1 * c + x0 * s;
  }
}

class Forward {
 public:
  Forward(const Model& model, std::span<const int32_t> tokens)
      : a_(model.arch()), w_(model.weights()), tokens_(tokens), T_(static_cast<int64_t>(tokens.size())) {}

  std::map<std::string, ReferenceTensor> run() {
    const int64_t d = a_.d_model;
    Vec x(static_cast<size_t>(T_ * d));
    for (int64_t t = 0; t < T_; ++t)
      for (int64_t i = 0; i < d; ++i) x[t * d + i] = element(*w_.embed, tokens_[t] * d + i) * a_.embed_scale;
    put({Point::Embed}, {T_, d}, x);
    if (a_.learned_positions) {
      Vec pos(x.size());
      for (int64_t t = 0; t < T_; ++t)
        for (int64_t i = 0; i < d; ++i) pos[t * d + i] = element(*w_.pos_embed, t * d + i);
      put({Point::PosEmbed}, {T_, d}, pos);
      x = add(x, pos);
    }

    for (int l = 0; l < a_.n_layers; ++l) {
      const LayerWeights& L = w_.layers[l];
      const LayerSpec& spec = a_.layers[l];
      put({Point::ResidPre, l}, {T_, d}, x);
      const Vec ln1 = a_.pre_norms ? normalize(a_, L.ln1, x, T_) : x;  // no pre-norms: the raw stream
      put({Point::Ln1Out, l}, {T_, d}, ln1);
      Vec attn_out = attention(l, L, ln1);
      if (spec.post_attn_norm) {
        put({Point::AttnRaw, l}, {T_, d}, attn_out);
        attn_out = normalize(a_, L.attn_post, attn_out, T_);
      }
      put({Point::AttnOut, l}, {T_, d}, attn_out);

      Vec mlp_in, mid;
      if (a_.parallel_residual) {
        mlp_in = a_.shared_norm || !a_.pre_norms ? ln1 : normalize(a_, L.ln2, x, T_);
      } else {
        mid = add(x, attn_out);
        put({Point::ResidMid, l}, {T_, d}, mid);
        mlp_in = a_.pre_norms ? normalize(a_, L.ln2, mid, T_) : mid;
      }
      put({Point::Ln2Out, l}, {T_, d}, mlp_in);
      Vec mlp_out = spec.moe ? sparse_mlp(l, L, mlp_in) : mlp(L, mlp_in);
      if (spec.post_mlp_norm) {
        put({Point::MlpRaw, l}, {T_, d}, mlp_out);
        mlp_out = normalize(a_, L.mlp_post, mlp_out, T_);
      }
      put({Point::MlpOut, l}, {T_, d}, mlp_out);

      x = a_.parallel_residual ? add(add(x, attn_out), mlp_out) : add(mid, mlp_out);
      put({Point::ResidPost, l}, {T_, d}, x);
    }

    const Vec final_norm = normalize(a_, w_.final_norm, x, T_);
    put({Point::LnFinalOut}, {T_, d}, final_norm);
    if (w_.unembed.weight) {
      Vec logits = apply(dense(w_.unembed), final_norm, T_);
      if (a_.final_softcap > 0)
        for (double& z : logits) z = a_.final_softcap * std::tanh(z / a_.final_softcap);
      put({Point::Logits}, {T_, a_.vocab_size}, logits);
    }
    return std::move(out_);
  }

 private:
  // The attention sublayer of layer l on its normalised input h: returns attn_out.
  Vec attention(int l, const LayerWeights& L, const Vec& h) {
    const int H = a_.n_heads, KV = a_.n_kv_heads, hd = a_.d_head;
    // q [T, H, hd], k and v [T, KV, hd], picked out of the projection outputs.
    Vec q(static_cast<size_t>(T_ * H * hd)), k(static_cast<size_t>(T_ * KV * hd)), v(k.size());
    if (w_.qkv_layout == QkvLayout::Separate) {
      q = apply(dense(L.q), h, T_);
      k = apply(dense(L.k), h, T_);
      v = apply(dense(L.v), h, T_);
    } else {
      const Dense m = dense(L.qkv);
      const Vec qkv = apply(m, h, T_);
      const int64_t W = m.out;
      if (w_.qkv_layout == QkvLayout::FusedPerHead && KV != H)
        fail("internal: reference: a per-head fused QKV projection needs as many key/value heads as query heads");
      // Where component c (0 q, 1 k, 2 v) of head g starts within a row.
      auto offset = [&](int c, int g) -> int64_t {
        if (w_.qkv_layout == QkvLayout::FusedPerHead) return (int64_t{g} * 3 + c) * hd;             // [head][q|k|v][hd]
        return (c == 0 ? 0 : int64_t{H} * hd + (c == 2 ? int64_t{KV} * hd : 0)) + int64_t{g} * hd;  // [Q|K|V]
      };
      for (int64_t t = 0; t < T_; ++t)
        for (int e = 0; e < hd; ++e) {
          for (int g = 0; g < H; ++g) q[(t * H + g) * hd + e] = qkv[t * W + offset(0, g) + e];
          for (int g = 0; g < KV; ++g) {
            k[(t * KV + g) * hd + e] = qkv[t * W + offset(1, g) + e];
            v[(t * KV + g) * hd + e] = qkv[t * W + offset(2, g) + e];
          }
        }
    }
    const LayerSpec& spec = a_.layers[l];
    if (a_.qk_norm && a_.qk_norm_across_heads) {  // over each token's whole projection
      q = normalize(a_, L.q_norm, q, T_, int64_t{H} * hd);
      k = normalize(a_, L.k_norm, k, T_, int64_t{KV} * hd);
    } else if (a_.qk_norm) {  // per head, over its hd values
      q = normalize(a_, L.q_norm, q, T_ * H, hd);
      k = normalize(a_, L.k_norm, k, T_ * KV, hd);
    }
    if (a_.rotary != RotaryStyle::None) {
      const Rope& rope = a_.ropes[spec.rope];
      const std::vector<double>& freqs = rope.freqs_for(T_);  // longrope: by the sequence's length
      for (int64_t t = 0; t < T_; ++t) {
        for (int g = 0; g < H; ++g) rotate(a_, freqs, rope.attention_factor, q.data() + (t * H + g) * hd, t);
        for (int g = 0; g < KV; ++g) rotate(a_, freqs, rope.attention_factor, k.data() + (t * KV + g) * hd, t);
      }
    }

    const double scale = spec.attn_scale;
    // Query i sees keys first(i) <= j <= i: all earlier ones, or the last `window`.
    auto first = [&](int64_t i) { return spec.window > 0 ? std::max<int64_t>(0, i - spec.window + 1) : 0; };
    Vec pattern(static_cast<size_t>(int64_t{H} * T_ * T_), 0.0);
    Vec z(static_cast<size_t>(T_ * H * hd), 0.0);
    Vec scores(static_cast<size_t>(T_));
    for (int g = 0; g < H; ++g) {
      const int kvh = g / (H / KV);  // grouped-query attention
      for (int64_t i = 0; i < T_; ++i) {
        double mx = -std::numeric_limits<double>::infinity();
        for (int64_t j = first(i); j <= i; ++j) {  // causal (and windowed)
          double s = 0;
          for (int e = 0; e < hd; ++e) s += q[(i * H + g) * hd + e] * k[(j * KV + kvh) * hd + e];
          scores[j] = s * scale;
          if (spec.attn_softcap > 0) scores[j] = spec.attn_softcap * std::tanh(scores[j] / spec.attn_softcap);
          mx = std::max(mx, scores[j]);
        }
        double sum = 0;
        for (int64_t j = first(i); j <= i; ++j) sum += scores[j] = std::exp(scores[j] - mx);
        double* p = pattern.data() + (g * T_ + i) * T_;
        for (int64_t j = first(i); j <= i; ++j) p[j] = scores[j] / sum;
        for (int e = 0; e < hd; ++e) {
          double acc = 0;
          for (int64_t j = first(i); j <= i; ++j) acc += p[j] * v[(j * KV + kvh) * hd + e];
          z[(i * H + g) * hd + e] = acc;  // heads concatenated in head order
        }
      }
    }
    put({Point::AttnPattern, l}, {H, T_, T_}, pattern);
    Vec entropy(static_cast<size_t>(T_ * H), 0.0);  // [query, head]: -sum_j p_j ln p_j
    for (int g = 0; g < H; ++g)
      for (int64_t i = 0; i < T_; ++i)
        for (int64_t j = first(i); j <= i; ++j) {
          const double p = pattern[(g * T_ + i) * T_ + j];
          if (p > 0) entropy[i * H + g] -= p * std::log(p);
        }
    put({Point::AttnEntropy, l}, {T_, H}, entropy);
    return apply(dense(L.o), z, T_);
  }

  // A sparse mixture of experts, token by token: softmax of the router logits,
  // the top k experts (largest probability first; ties to the lower index),
  // their weights (renormalised if norm_topk_prob), sum_e w_e expert_e(h) in
  // ascending expert order, plus sigmoid(h . w_gate) times the shared expert.
  Vec sparse_mlp(int l, const LayerWeights& L, const Vec& h) {
    const int64_t d = a_.d_model;
    const int E = a_.moe.n_experts;
    const Vec logits = apply(dense(L.router), h, T_);
    Vec probs(logits.size()), weights(logits.size(), 0.0);
    for (int64_t t = 0; t < T_; ++t) {
      const double* g = logits.data() + t * E;
      double* p = probs.data() + t * E;
      const double mx = *std::max_element(g, g + E);
      double sum = 0;
      for (int e = 0; e < E; ++e) sum += p[e] = std::exp(g[e] - mx);
      for (int e = 0; e < E; ++e) p[e] /= sum;
      std::vector<int> order(static_cast<size_t>(E));
      for (int e = 0; e < E; ++e) order[e] = e;
      std::stable_sort(order.begin(), order.end(), [p](int x, int y) { return p[x] > p[y]; });
      double selected = 0;
      for (int i = 0; i < a_.moe.top_k; ++i) selected += p[order[i]];
      for (int i = 0; i < a_.moe.top_k; ++i)
        weights[t * E + order[i]] = a_.moe.norm_topk_prob ? p[order[i]] / selected : p[order[i]];
    }
    put({Point::RouterProbs, l}, {T_, E}, probs);
    put({Point::RouterWeights, l}, {T_, E}, weights);
    Vec out(static_cast<size_t>(T_ * d), 0.0);
    for (int e = 0; e < E; ++e) {
      const Vec y = gated_mlp(L.experts[e], h);
      for (int64_t t = 0; t < T_; ++t)
        for (int64_t i = 0; i < d; ++i) out[t * d + i] += weights[t * E + e] * y[t * d + i];
    }
    if (a_.moe.d_shared > 0) {
      const Vec gate = apply(dense(L.shared_gate), h, T_);
      const Vec y = gated_mlp(L.shared, h);
      for (int64_t t = 0; t < T_; ++t)
        for (int64_t i = 0; i < d; ++i) out[t * d + i] += y[t * d + i] / (1.0 + std::exp(-gate[t]));
    }
    return out;
  }

  Vec gated_mlp(const GatedMlp& m, const Vec& h) {
    Vec hidden = apply(dense(m.up), h, T_);
    const Vec gate = apply(dense(m.gate), h, T_);
    for (size_t i = 0; i < hidden.size(); ++i) hidden[i] *= activation(a_.activation, gate[i]);
    return apply(dense(m.down), hidden, T_);
  }

  // down(act(up(h))), or down(act(gate(h)) * up(h)) for gated MLPs.
  Vec mlp(const LayerWeights& L, const Vec& h) {
    Vec hidden = apply(dense(L.up), h, T_);
    if (a_.gated_mlp) {
      const Vec gate = apply(dense(L.gate), h, T_);
      for (size_t i = 0; i < hidden.size(); ++i) hidden[i] *= activation(a_.activation, gate[i]);
    } else {
      for (double& u : hidden) u = activation(a_.activation, u);
    }
    return apply(dense(L.down), hidden, T_);
  }

  void put(PointId p, std::vector<int64_t> shape, Vec data) { out_[p.name()] = {std::move(shape), std::move(data)}; }

  const ArchSpec& a_;
  const ModelWeights& w_;
  std::span<const int32_t> tokens_;
  int64_t T_;
  std::map<std::string, ReferenceTensor> out_;
};

}  // namespace

std::map<std::string, ReferenceTensor> reference_forward(const Model& model, std::span<const int32_t> tokens) {
  const ArchSpec& a = model.arch();
  const int64_t T = static_cast<int64_t>(tokens.size());
  if (T == 0) fail("reference forward: the sequence is empty");
  if (T > a.max_positions) fail("reference forward: {} tokens, more than the model's {} positions", T, a.max_positions);
  for (int64_t t = 0; t < T; ++t)
    if (tokens[t] < 0 || tokens[t] >= a.vocab_size)
      fail("reference forward: token id {} at position {} is outside the vocabulary (0..{})", tokens[t], t,
           a.vocab_size - 1);
  return Forward(model, tokens).run();
}

}  // namespace sg
