#include "engine/engine.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>

#include <sys/mman.h>

#include "engine/kernels.h"
#include "util/error.h"
#include "util/progress.h"

namespace sg {

namespace {

constexpr int kNumPoints = static_cast<int>(Point::Count);

// Which observers want which capture point, resolved once per forward.
class Dispatch {
 public:
  Dispatch(const ArchSpec& arch, std::span<Observer* const> observers) : layers_(arch.n_layers) {
    subs_.resize(static_cast<size_t>(kNumPoints) * (layers_ + 1));
    for (const PointId& p : capture_points(arch))
      for (Observer* o : observers)
        if (o->wants(p)) {
          slot(p).push_back(o);
          last_layer_ = std::max(last_layer_, deepest_layer(p));
        }
  }
  // The embedding needs no layer; the final norm and logits need all of them.
  int deepest_layer(const PointId& p) const {
    if (p.layer >= 0) return p.layer;
    return p.point == Point::Embed || p.point == Point::PosEmbed ? -1 : layers_ - 1;
  }
  bool wants(Point p, int layer = -1) const { return !slot({p, layer}).empty(); }
  // Layers that must run: up to the deepest one anybody observes.
  int layers_needed() const { return last_layer_ + 1; }
  void fire(Point p, int layer, const Batch& b, const float* rows, int64_t width) const {
    const PointId id{p, layer};
    for (Observer* o : slot(id)) o->on_activation(id, b, rows, width);
  }
  // offsets: kernels::pattern_offsets of the batch.
  void fire_patterns(int layer, const Batch& b, const float* probs, int heads,
                     const std::vector<int64_t>& offsets) const {
    for (Observer* o : slot({Point::AttnPattern, layer})) o->on_patterns(layer, b, probs, heads, offsets);
  }
  void fire_entropies(int layer, const Batch& b, const double* rows, int heads) const {
    const PointId id{Point::AttnEntropy, layer};
    for (Observer* o : slot(id)) o->on_entropies(id, b, rows, heads);
  }

 private:
  std::vector<Observer*>& slot(const PointId& p) {
    return subs_[static_cast<size_t>(p.point) * (layers_ + 1) + (p.layer + 1)];
  }
  const std::vector<Observer*>& slot(const PointId& p) const {
    return subs_[static_cast<size_t>(p.point) * (layers_ + 1) + (p.layer + 1)];
  }
  int layers_;
  int last_layer_ = -1;
  std::vector<std::vector<Observer*>> subs_;
};

// The block input of the first layer: token embeddings (times Gemma's scale)
// plus learned positions (`scratch` takes them).
void embed(const Model& model, const Batch& batch, int64_t past, const Dispatch& dispatch, float* x, float* scratch) {
  const ArchSpec& a = model.arch();
  const ModelWeights& w = model.weights();
  const int64_t N = batch.n_tokens(), d = a.d_model;
  const size_t esize = dtype_size(w.embed->dtype);
  const float embed_scale = static_cast<float>(a.embed_scale);
  for (int64_t r = 0; r < N; ++r) {
    float* row = x + r * d;
    to_f32(w.embed->dtype, w.embed->data + batch.tokens[r] * d * esize, row, d);
    if (embed_scale != 1.0f)
      for (int64_t i = 0; i < d; ++i) row[i] *= embed_scale;
  }
  dispatch.fire(Point::Embed, -1, batch, x, d);
  if (!w.pos_embed) return;
  float* pos = scratch;
  const size_t psize = dtype_size(w.pos_embed->dtype);
  for (size_t s = 0; s < batch.n_sequences(); ++s)  // a token's position is its index in its sequence
    for (int64_t t = 0; t < batch.length(s); ++t)
      to_f32(w.pos_embed->dtype, w.pos_embed->data + (past + t) * d * psize, pos + (batch.begin(s) + t) * d, d);
  dispatch.fire(Point::PosEmbed, -1, batch, pos, d);
  kernels::add(x, pos, nullptr, x, N * d);
}

}  // namespace

// Buffers of 2 MiB and more are aligned to, and asked to be backed by, huge
// pages: a first forward then takes a few page faults instead of thousands.
float* Workspace::get(Slot slot, int64_t n) {
  Buffer& b = buffers_[static_cast<size_t>(slot)];
  if (n <= b.size) return b.data.get();
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = static_cast<size_t>(n) * sizeof(float);
  const size_t align = bytes >= kHuge ? kHuge : 64;
  void* p = std::aligned_alloc(align, (bytes + align - 1) / align * align);
  if (!p) throw std::bad_alloc();
  if (align == kHuge) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: ignored where unsupported
  b = {std::unique_ptr<float[], Free>(static_cast<float*>(p)), n};
  return b.data.get();
}

void Workspace::Free::operator()(float* p) const { std::free(p); }

Engine::Engine(const Model& model, MatmulPrecision precision) : model_(model), linear_(model, precision) {}

void Engine::validate(const Batch& b, int64_t past) const {
  const ArchSpec& a = model_.arch();
  if (past > 0 && b.n_sequences() != 1) fail("internal: a cached run takes one sequence");
  for (size_t s = 0; s < b.n_sequences(); ++s) {
    const int64_t T = b.length(s);
    if (T == 0) fail("sequence {} is empty", s);
    if (past + T > a.max_positions)
      fail("sequence {} has {} tokens, more than the model's {} positions (max_position_embeddings)", s, past + T,
           a.max_positions);
    for (int64_t r = b.begin(s); r < b.begin(s) + T; ++r)
      if (b.tokens[r] < 0 || b.tokens[r] >= a.vocab_size)
        fail("sequence {}: token id {} at position {} is outside the vocabulary (0..{})", s, b.tokens[r],
             r - b.begin(s), a.vocab_size - 1);
  }
}

void Engine::run(const Batch& batch, std::span<Observer* const> observers, const RunOptions& options, KvCache* cache) {
  const int64_t past = cache ? cache->length : 0;
  validate(batch, past);
  const ArchSpec& a = model_.arch();
  const ModelWeights& w = model_.weights();
  const Dispatch dispatch(a, observers);
  const int64_t N = batch.n_tokens(), d = a.d_model;
  const int H = a.n_heads, KV = a.n_kv_heads, hd = a.d_head;
  const int64_t q_width = int64_t{H} * hd, kv_width = int64_t{KV} * hd;
  if (N == 0) return;
  const Model::Stage& stage = model_.stage();
  if ((!stage.first() && !options.stage_input) || (!stage.last() && !options.stage_output))
    fail("internal: stage {} of {} runs without its stage input or output", stage.index + 1, stage.count);
  if (cache && stage.count > 1) fail("internal: a cached run needs the whole model");

  // Activation buffers, reused between runs; x is the block input, next receives
  // the block output, and the two swap after each block.
  using Slot = Workspace::Slot;
  float* x = work_.get(Slot::X, N * d);
  float* next = work_.get(Slot::Next, N * d);
  float* h1 = work_.get(Slot::H1, N * d);
  float* h2 = work_.get(Slot::H2, N * d);
  float* attn_out = work_.get(Slot::AttnOut, N * d);
  float* mlp_out = work_.get(Slot::MlpOut, N * d);

  if (stage.first())
    embed(model_, batch, past, dispatch, x, next);
  else  // a later stage of the layer pipeline
    std::copy(options.stage_input, options.stage_input + N * d, x);

  // The layers to run: a stage's own; else up to the deepest one anybody observes.
  const int first_layer = stage.first_layer;
  const int n_layers = stage.count > 1 ? stage.end_layer : dispatch.layers_needed();
  float* z = work_.get(Slot::Z, N * q_width);
  // The QKV projection's output; attention reads the heads in place.
  const bool separate = w.qkv_layout == QkvLayout::Separate;
  const int64_t qkv_width = q_width + 2 * kv_width;
  float* qkv = work_.get(Slot::Qkv, N * qkv_width);
  kernels::Heads q{}, k{}, v{};
  if (separate) {  // [Q | K | V] blocks of rows [N, heads, hd]
    q = {qkv, q_width, hd};
    k = {qkv + N * q_width, kv_width, hd};
    v = {qkv + N * (q_width + kv_width), kv_width, hd};
  } else if (w.qkv_layout == QkvLayout::FusedPerHead) {  // GPT-NeoX: row = [head][q|k|v][hd]
    q = {qkv, qkv_width, 3 * hd};
    k = {qkv + hd, qkv_width, 3 * hd};
    v = {qkv + 2 * hd, qkv_width, 3 * hd};
  } else {  // GPT-2: row = [Q|K|V][head][hd]
    q = {qkv, qkv_width, hd};
    k = {qkv + q_width, qkv_width, hd};
    v = {qkv + q_width + kv_width, qkv_width, hd};
  }
  float* patterns = nullptr;
  const std::vector<int64_t> pattern_offsets = kernels::pattern_offsets(batch, H);
  if (a.rotary != RotaryStyle::None && past + batch.max_length() > rope_positions_) {
    rope_positions_ = std::min(a.max_positions, std::max(past + batch.max_length(), 2 * rope_positions_));
    ropes_.clear();
    for (const Rope& r : a.ropes) ropes_.emplace_back(r, rope_positions_);
  }
  float* raw = a.any_post_norm() ? work_.get(Slot::Raw, N * d) : nullptr;  // a sublayer's output before its norm

  // The model's norm over rows of `width` values (d_model unless given).
  auto norm = [&](const NormWeights& nw, const float* in, float* out, int64_t rows = -1, int64_t width = -1) {
    if (rows < 0) rows = N, width = d;
    if (a.norm == NormKind::LayerNorm)
      kernels::layer_norm(in, rows, width, model_.vec(nw.weight), model_.vec(nw.bias), a.norm_eps, out);
    else
      kernels::rms_norm(in, rows, width, model_.vec(nw.weight), a.norm_eps, out);
  };

  // A sparse mixture-of-experts MLP (ArchSpec::moe) on rows `in`, into `out`.
  // Each expert multiplies all the tokens routed to it at once (gathered into
  // contiguous rows); a token's output adds its experts' weighted outputs in
  // ascending expert order (as HF's index_add_ loop), then the gated shared expert.
  // Every product row is the same bits whatever else is in the batch.
  auto sparse_mlp = [&](int l, const float* in, float* out) {
    const LayerWeights& L = w.layers[l];
    const int E = a.moe.n_experts;
    float* probs = work_.get(Slot::RouterProbs, N * E);
    float* weights = work_.get(Slot::RouterWeights, N * E);
    linear_.apply(L.router, in, N, probs);
    kernels::softmax_rows(probs, N, E);
    kernels::route_top_k(probs, N, E, a.moe.top_k, a.moe.norm_topk_prob, weights);
    dispatch.fire(Point::RouterProbs, l, batch, probs, E);
    dispatch.fire(Point::RouterWeights, l, batch, weights, E);
    std::fill(out, out + N * d, 0.0f);
    float* xs = work_.get(Slot::ExpertIn, N * d);
    float* ys = work_.get(Slot::ExpertOut, N * d);
    std::vector<int64_t> rows;
    for (int e = 0; e < E; ++e) {
      rows.clear();
      for (int64_t r = 0; r < N; ++r)  // (an expert selected with a weight of 0 would add 0)
        if (weights[r * E + e] != 0.0f) rows.push_back(r);
      if (rows.empty()) continue;
      const int64_t n = static_cast<int64_t>(rows.size());
      for (int64_t i = 0; i < n; ++i) std::copy_n(in + rows[i] * d, d, xs + i * d);
      const GatedMlp& ex = L.experts[e];
      linear_.mlp(ex.up, &ex.gate, a.activation, ex.down, xs, n, ys);
#pragma omp parallel for schedule(static) if (n * d >= (int64_t{1} << 16))
      for (int64_t i = 0; i < n; ++i) {
        const float wt = weights[rows[i] * E + e];
        float* o = out + rows[i] * d;
        for (int64_t j = 0; j < d; ++j) o[j] += wt * ys[i * d + j];
      }
    }
    if (a.moe.d_shared > 0) {
      float* gate = work_.get(Slot::SharedGate, N);
      linear_.apply(L.shared_gate, in, N, gate);
      kernels::sigmoid_span(gate, N);
      linear_.mlp(L.shared.up, &L.shared.gate, a.activation, L.shared.down, in, N, ys);
#pragma omp parallel for schedule(static) if (N * d >= (int64_t{1} << 16))
      for (int64_t r = 0; r < N; ++r)
        for (int64_t j = 0; j < d; ++j) out[r * d + j] += gate[r] * ys[r * d + j];
    }
  };

  if (cache) {
    if (n_layers < a.n_layers) fail("internal: a cached run must run every layer");
    if (crosses_long_rope(past, past + N))
      fail("internal: a cached run may not cross a longrope model's {} positions (rerun the whole sequence)",
           a.ropes.front().long_after);
    cache->k.resize(static_cast<size_t>(a.n_layers));
    cache->v.resize(static_cast<size_t>(a.n_layers));
  }
  Progress progress(options.progress_label, static_cast<size_t>(std::max(0, n_layers - first_layer)));
  for (int l = first_layer; l < n_layers; ++l) {
    if (options.between_layers) options.between_layers();
    const LayerWeights& L = w.layers[l];
    const LayerSpec& spec = a.layers[l];
    dispatch.fire(Point::ResidPre, l, batch, x, d);

    // Attention, reading the normed block input (or, without pre-norms, the block input itself).
    const float* attn_in = x;
    if (a.pre_norms) {
      norm(L.ln1, x, h1);
      attn_in = h1;
    }
    dispatch.fire(Point::Ln1Out, l, batch, attn_in, d);
    if (separate) {
      linear_.apply(L.q, attn_in, N, q.data);
      linear_.apply(L.k, attn_in, N, k.data);
      linear_.apply(L.v, attn_in, N, v.data);
    } else {
      linear_.apply(L.qkv, attn_in, N, qkv);
    }
    if (a.qk_norm) {
      if (!separate) fail("internal: q/k norms need separate q, k, v projections");
      if (a.qk_norm_across_heads) {  // over each row's whole projection (OLMo 2)
        norm(L.q_norm, q.data, q.data, N, q_width);
        norm(L.k_norm, k.data, k.data, N, kv_width);
      } else {  // each head's q and k over its d_head values (rows [N, heads, hd])
        norm(L.q_norm, q.data, q.data, N * H, hd);
        norm(L.k_norm, k.data, k.data, N * KV, hd);
      }
    }
    const bool want_pattern = dispatch.wants(Point::AttnPattern, l);
    if (want_pattern && cache) fail("attention patterns cannot be captured in a cached run");
    if (want_pattern) patterns = work_.get(Slot::Patterns, pattern_offsets.back());
    const bool want_entropy = dispatch.wants(Point::AttnEntropy, l);
    if (want_entropy) entropies_.resize(static_cast<size_t>(N * H));
    double* entropies = want_entropy ? entropies_.data() : nullptr;
    const kernels::Rotary rotary{a.rotary, ropes_.empty() ? nullptr : &ropes_[spec.rope]};
    const kernels::ScoreRule rule{spec.attn_scale, spec.window, spec.attn_softcap};
    if (cache) {  // the new keys and values join the cached ones; attention reads them all from there
      auto append = [&](const kernels::Heads& from, std::vector<float>& to) {
        to.resize(static_cast<size_t>((past + N) * kv_width));
        for (int64_t r = 0; r < N; ++r)
          for (int g = 0; g < KV; ++g)
            std::copy(from.at(r, g), from.at(r, g) + hd, to.data() + (past + r) * kv_width + int64_t{g} * hd);
        return kernels::Heads{to.data(), kv_width, hd};
      };
      const kernels::Heads ck = append(k, cache->k[l]), cv = append(v, cache->v[l]);
      kernels::attention(batch, q, ck, cv, H, KV, hd, rotary, rule, z, nullptr, past, entropies);
    } else {
      kernels::attention(batch, q, k, v, H, KV, hd, rotary, rule, z, want_pattern ? patterns : nullptr, 0, entropies);
    }
    if (want_pattern) dispatch.fire_patterns(l, batch, patterns, H, pattern_offsets);
    if (want_entropy) dispatch.fire_entropies(l, batch, entropies, H);
    if (spec.post_attn_norm) {  // Gemma 2: what is added is the normed output
      linear_.apply(L.o, z, N, raw);
      dispatch.fire(Point::AttnRaw, l, batch, raw, d);
      norm(L.attn_post, raw, attn_out);
    } else {
      linear_.apply(L.o, z, N, attn_out);
    }
    dispatch.fire(Point::AttnOut, l, batch, attn_out, d);

    // MLP, reading the block input (parallel) or the stream after attention
    // (sequential), normed unless the model has no pre-norms.
    const float* mlp_in;
    if (a.parallel_residual) {
      if (a.pre_norms && !a.shared_norm) norm(L.ln2, x, h2);
      mlp_in = !a.pre_norms ? x : a.shared_norm ? h1 : h2;
    } else {
      kernels::add(x, attn_out, nullptr, next, N * d);
      dispatch.fire(Point::ResidMid, l, batch, next, d);
      kernels::check_residual(l, "resid_mid", x, attn_out, nullptr, next, N * d);
      mlp_in = next;
      if (a.pre_norms) {
        norm(L.ln2, next, h2);
        mlp_in = h2;
      }
    }
    dispatch.fire(Point::Ln2Out, l, batch, mlp_in, d);
    float* mlp_dst = spec.post_mlp_norm ? raw : mlp_out;
    if (spec.moe) {
      sparse_mlp(l, mlp_in, mlp_dst);
    } else {
      // The activation (and SwiGLU's product with up) is fused into the GEMM.
      const Linear* gate = a.gated_mlp ? &L.gate : nullptr;
      linear_.mlp(L.up, gate, a.activation, L.down, mlp_in, N, mlp_dst);
    }
    if (spec.post_mlp_norm) {
      dispatch.fire(Point::MlpRaw, l, batch, raw, d);
      norm(L.mlp_post, raw, mlp_out);
    }
    dispatch.fire(Point::MlpOut, l, batch, mlp_out, d);

    // resid_post = (resid_pre + attn_out) + mlp_out; for sequential blocks the
    // same float additions as resid_mid + mlp_out.
    if (a.parallel_residual)
      kernels::add(x, attn_out, mlp_out, next, N * d);
    else
      kernels::add(next, mlp_out, nullptr, next, N * d);
    kernels::check_residual(l, "resid_post", x, attn_out, mlp_out, next, N * d);
    std::swap(x, next);
    dispatch.fire(Point::ResidPost, l, batch, x, d);
    progress.tick();
  }

  if (cache) cache->length += N;
  if (!stage.last()) {
    std::copy(x, x + N * d, options.stage_output);
    return;
  }
  if (n_layers < a.n_layers || !(dispatch.wants(Point::LnFinalOut) || dispatch.wants(Point::Logits))) return;
  if (options.between_layers) options.between_layers();
  norm(w.final_norm, x, h1);
  dispatch.fire(Point::LnFinalOut, -1, batch, h1, d);
  if (dispatch.wants(Point::Logits)) {
    if (!w.unembed.weight)
      fail("{}: the checkpoint has no unembedding tensor: logits are unavailable", model_.dir().string());
    std::vector<float> logits(N * static_cast<int64_t>(a.vocab_size));
    linear_.apply(w.unembed, h1, N, logits.data());
    if (a.final_softcap > 0)
      kernels::softcap(logits.data(), static_cast<int64_t>(logits.size()), static_cast<float>(a.final_softcap));
    dispatch.fire(Point::Logits, -1, batch, logits.data(), a.vocab_size);
  }
}

namespace {
// Keeps the logits of the last token of the (single) sequence.
class LastLogits : public Observer {
 public:
  bool wants(const PointId& p) override { return p.point == Point::Logits; }
  void on_activation(const PointId&, const Batch& b, const float* rows, int64_t width) override {
    const float* last = rows + b.last_row(0) * width;
    argmax = static_cast<int32_t>(std::max_element(last, last + width) - last);
  }
  int32_t argmax = -1;
};
}  // namespace

bool Engine::crosses_long_rope(int64_t from, int64_t to) const {
  if (from == 0) return false;  // nothing cached yet
  for (const Rope& r : model_.arch().ropes)
    if (!r.long_inv_freq.empty() && from <= r.long_after && to > r.long_after) return true;
  return false;
}

Generation Engine::generate(const std::vector<int32_t>& prompt, int n, const std::vector<int32_t>& stop,
                            const std::function<void(int32_t)>& on_token) {
  Generation g;
  if (n <= 0) return g;
  KvCache cache;
  LastLogits last;
  Observer* obs[] = {&last};
  std::vector<int32_t> next = prompt;  // what the next forward runs: the prompt, then one token at a time
  std::vector<int32_t> all = prompt;   // the whole sequence so far
  while (static_cast<int>(g.tokens.size()) < n) {
    if (cache.length + static_cast<int64_t>(next.size()) > model_.arch().max_positions) {
      g.end = Generation::End::PositionLimit;
      break;
    }
    // Past a longrope model's original length every position rotates with the
    // long factors, the earlier ones too (HF's choice by the largest position):
    // the cache starts over with the whole sequence, as a rerun would compute it.
    if (crosses_long_rope(cache.length, cache.length + static_cast<int64_t>(next.size()))) {
      cache = KvCache{};
      next = all;
    }
    run(Batch::of(std::span(&next, 1)), obs, {}, &cache);
    g.tokens.push_back(last.argmax);
    if (on_token) on_token(last.argmax);
    if (std::find(stop.begin(), stop.end(), last.argmax) != stop.end()) {
      g.end = Generation::End::Stop;
      break;
    }
    next = {last.argmax};
    all.push_back(last.argmax);
  }
  return g;
}

}  // namespace sg
