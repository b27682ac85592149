#include "util/version.h"

namespace sg {
const char* version() { return SG_VERSION; }
}  // namespace sg
