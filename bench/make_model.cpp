// Writes a random-weight HF-format model of a benchmark shape:
//   make_model DIR pythia-410m|pythia-1.4b|llama-3.2-1b F32|BF16|F16 [LAYERS]
// pythia-*: GPT-NeoX (the synthetic writer); llama-3.2-1b: Llama 3.2 1B's shape
// (d 2048, 32/8 heads of 64, d_mlp 8192, vocab 128256, tied, rope theta 5e5,
// llama3 scaling x32), 16 layers unless LAYERS says fewer.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "io/dtype.h"
#include "model/synthetic.h"
#include "util/error.h"

int main(int argc, char** argv) {
  if (argc != 4 && argc != 5) {
    std::fprintf(stderr, "usage: make_model DIR pythia-410m|pythia-1.4b|llama-3.2-1b F32|BF16|F16 [LAYERS]\n");
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
  if (shape == "llama-3.2-1b") {
    sg::RandomModelSpec r;
    r.model_type = "llama";
    r.n_layers = layers > 0 ? layers : 16;
    r.d_model = 2048;
    r.n_heads = 32;
    r.n_kv_heads = 8;
    r.head_dim = 64;
    r.d_mlp = 8192;
    r.vocab_size = 128256;
    r.max_positions = 131072;
    r.rope_theta = 500000;
    r.rope_scaling = "llama3";
    r.rope_factor = 32;
    r.tied = true;
    r.biases = false;
    r.dtype = *dtype;
    r.seed = 1230;
    try {
      sg::write_random_model(argv[1], r);
    } catch (const sg::Error& e) {
      std::fprintf(stderr, "make_model: %s\n", e.what());
      return 2;
    }
    return 0;
  }
  sg::SyntheticSpec spec;
  if (shape == "pythia-410m") {
    spec = sg::SyntheticSpec::pythia_410m();
  } else if (shape == "pythia-1.4b") {
    spec = sg::SyntheticSpec::pythia_1_4b();
  } else {
    std::fprintf(stderr, "make_model: unknown shape %s\n", argv[2]);
    return 2;
  }
  spec.dtype = *dtype;
  if (layers > 0) spec.n_layers = layers;
  try {
    sg::write_synthetic_model(argv[1], spec);
  } catch (const sg::Error& e) {
    std::fprintf(stderr, "make_model: %s\n", e.what());
    return 2;
  }
  return 0;
}
