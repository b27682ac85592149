#pragma once
// Synthetic models: HF-format GPT-NeoX checkpoints (config.json +
// model.safetensors) with random weights from a fixed seed, for benchmarks and
// the offline demo. The same arguments always give the same bytes.
#include <cstdint>
#include <filesystem>
#include <string>

#include "io/dtype.h"

namespace sg {

struct SyntheticSpec {
  int n_layers = 4;
  int d_model = 128;
  int n_heads = 4;
  int d_mlp = 512;
  int vocab_size = 512;
  int max_positions = 2048;
  double rotary_pct = 0.25;
  bool parallel_residual = true;
  DType dtype = DType::F32;  // F32, F16 or BF16
  uint64_t seed = 1234;

  static SyntheticSpec pythia_410m() { return {24, 1024, 16, 4096, 50304, 2048, 0.25, true, DType::F32, 410}; }
  static SyntheticSpec pythia_1_4b() { return {24, 2048, 16, 8192, 50304, 2048, 0.25, true, DType::F32, 1400}; }
};

// The offline demo model: a small Pythia-architecture model (6 layers, d 256)
// with a byte-level tokenizer (256 byte tokens + <|endoftext|>).
SyntheticSpec demo_spec();

// Writes a byte-level BPE tokenizer.json without merges: token id b is byte b
// (GPT-2's byte-to-unicode alphabet), id 256 is <|endoftext|>.
void write_byte_tokenizer(const std::filesystem::path& dir);

// Writes config.json and model.safetensors into dir (created if needed),
// streaming the tensors so memory stays small whatever the model size.
void write_synthetic_model(const std::filesystem::path& dir, const SyntheticSpec& spec);

}  // namespace sg
