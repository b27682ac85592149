// libFuzzer: config.json translation (every family) on arbitrary bytes. Any
// input must give a validated ArchSpec or raise sg::Error; never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "model/model.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const sg::ArchSpec s = sg::translate_config(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    if (s.n_heads % s.n_kv_heads != 0 || s.rotary_dim > s.d_head) __builtin_trap();
  } catch (const sg::Error&) {
  }
  return 0;
}
