// Writes a random-weight HF-format model of a benchmark shape (streamed to
// disk: memory stays small whatever the size):
//   make_model DIR SHAPE F32|BF16|F16 [LAYERS]
// SHAPE: pythia-410m, pythia-1.4b, pythia-6.9b (GPT-NeoX, the synthetic writer);
// llama-3.2-1b (d 2048, 32/8 heads of 64, d_mlp 8192, vocab 128256, tied, rope
// theta 5e5, llama3 scaling x32), llama-3.1-8b (d 4096, 32/8 heads of 128,
// d_mlp 14336, vocab 128256, untied, llama3 scaling x8), qwen2.5-3b (d 2048,
// 16/2 heads of 128, d_mlp 11008, vocab 151936, tied, theta 1e6). LAYERS cuts
// the layer count.
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>

#include "io/dtype.h"
#include "model/synthetic.h"
#include "util/error.h"

namespace {

// A Llama-family shape: type, layers, d, heads, kv heads, head dim, d_mlp,
// vocab, tied, rope theta, llama3 scaling factor (0: none).
sg::RandomModelSpec llama_shape(const char* type, int layers, int d, int heads, int kv, int hd, int mlp, int vocab,
                                bool tied, double theta, double llama3_factor) {
  sg::RandomModelSpec r;
  r.model_type = type;
  r.n_layers = layers;
  r.d_model = d;
  r.n_heads = heads;
  r.n_kv_heads = kv;
  r.head_dim = hd;
  r.d_mlp = mlp;
  r.vocab_size = vocab;
  r.max_positions = 131072;
  r.rope_theta = theta;
  if (llama3_factor > 0) {
    r.rope_scaling = "llama3";
    r.rope_factor = llama3_factor;
  }
  r.tied = tied;
  r.biases = false;  // (qwen2: q, k, v biases whatever this says)
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const std::map<std::string, sg::RandomModelSpec> random = {
      {"llama-3.2-1b", llama_shape("llama", 16, 2048, 32, 8, 64, 8192, 128256, true, 500000, 32)},
      {"llama-3.1-8b", llama_shape("llama", 32, 4096, 32, 8, 128, 14336, 128256, false, 500000, 8)},
      {"qwen2.5-3b", llama_shape("qwen2", 36, 2048, 16, 2, 128, 11008, 151936, true, 1000000, 0)},
  };
  const std::map<std::string, sg::SyntheticSpec> neox = {
      {"pythia-410m", sg::SyntheticSpec::pythia_410m()},
      {"pythia-1.4b", sg::SyntheticSpec::pythia_1_4b()},
      {"pythia-6.9b", {32, 4096, 32, 16384, 50432, 2048, 0.25, true, sg::DType::F32, 6900}},
  };
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: make_model DIR SHAPE F32|BF16|F16 [LAYERS]; shapes:");
    for (const auto& [name, _] : neox) std::fprintf(stderr, " %s", name.c_str());
    for (const auto& [name, _] : random) std::fprintf(stderr, " %s", name.c_str());
    std::fprintf(stderr, "\n");
    return 2;
  }
  const std::string shape = argv[2];
  const auto dtype = sg::parse_dtype(argv[3]);
  if (!dtype) {
    std::fprintf(stderr, "make_model: unknown dtype %s\n", argv[3]);
    return 2;
  }
  const int layers = argc == 5 ? std::atoi(argv[4]) : 0;
  if (argc == 5 && layers <= 0) {
    std::fprintf(stderr, "make_model: LAYERS must be a positive integer, not %s\n", argv[4]);
    return 2;
  }
  try {
    if (auto r = random.find(shape); r != random.end()) {
      sg::RandomModelSpec spec = r->second;
      spec.dtype = *dtype;
      spec.seed = 1230;
      if (layers > 0) spec.n_layers = layers;
      sg::write_random_model(argv[1], spec);
    } else if (auto n = neox.find(shape); n != neox.end()) {
      sg::SyntheticSpec spec = n->second;
      spec.dtype = *dtype;
      if (layers > 0) spec.n_layers = layers;
      sg::write_synthetic_model(argv[1], spec);
    } else {
      std::fprintf(stderr, "make_model: unknown shape %s\n", argv[2]);
      return 2;
    }
  } catch (const sg::Error& e) {
    std::fprintf(stderr, "make_model: %s\n", e.what());
    return 2;
  }
  return 0;
}
