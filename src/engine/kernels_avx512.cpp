// The attention kernel and the activation spans on AVX-512 (attention_kernel.h):
// sixteen-lane registers, the same bits as the AVX2 build. Called only on CPUs
// that have it (kernels.cpp).
#include "engine/attention_kernel.h"

namespace sg::kernels::detail {

const Table& avx512_table() { return table; }

}  // namespace sg::kernels::detail
