// Writes a random-weight HF-format GPT-NeoX model of a benchmark shape:
//   make_model DIR pythia-410m|pythia-1.4b F32|BF16|F16
#include <cstdio>
#include <string>

#include "io/dtype.h"
#include "model/synthetic.h"
#include "util/error.h"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make_model DIR pythia-410m|pythia-1.4b F32|BF16|F16\n");
    return 2;
  }
  const std::string shape = argv[2];
  sg::SyntheticSpec spec;
  if (shape == "pythia-410m") {
    spec = sg::SyntheticSpec::pythia_410m();
  } else if (shape == "pythia-1.4b") {
    spec = sg::SyntheticSpec::pythia_1_4b();
  } else {
    std::fprintf(stderr, "make_model: unknown shape %s\n", argv[2]);
    return 2;
  }
  const auto dtype = sg::parse_dtype(argv[3]);
  if (!dtype) {
    std::fprintf(stderr, "make_model: unknown dtype %s\n", argv[3]);
    return 2;
  }
  spec.dtype = *dtype;
  try {
    sg::write_synthetic_model(argv[1], spec);
  } catch (const sg::Error& e) {
    std::fprintf(stderr, "make_model: %s\n", e.what());
    return 2;
  }
  return 0;
}
