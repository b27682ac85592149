// libFuzzer: the safetensors header parser on arbitrary bytes. Any input must
// either parse into a consistent header or raise sg::Error; never crash.
#include <cstddef>
#include <cstdint>

#include "io/safetensors.h"
#include "util/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto h = sg::parse_safetensors_header(reinterpret_cast<const std::byte*>(data), size, "fuzz");
    for (auto& t : h.tensors)
      if (t.end > size - h.data_start || t.begin > t.end) __builtin_trap();  // validation missed something
  } catch (const sg::Error&) {
  }
  return 0;
}
