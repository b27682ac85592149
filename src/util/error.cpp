#include "util/error.h"

#include <cstdio>

namespace sg {

void warn(const std::string& message) { std::fprintf(stderr, "streamgauge: warning: %s\n", message.c_str()); }

}  // namespace sg
