// Pairs JSONL reader on arbitrary bytes: every input either parses or throws
// sg::Error; whatever parses survives a write/read round trip unchanged.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "experiments/problems.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  sg::align::PairSet set;
  try {
    set = sg::align::parse_pairs_jsonl(text, "fuzz.jsonl");
  } catch (const sg::Error&) {
    return 0;
  }
  const std::string written = sg::align::pairs_to_jsonl(set);
  const sg::align::PairSet back = sg::align::parse_pairs_jsonl(written, "roundtrip.jsonl");
  if (sg::align::pairs_to_jsonl(back) != written) std::abort();
  return 0;
}
