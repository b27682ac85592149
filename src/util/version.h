#pragma once

namespace sg {
// The project version (CMake's project(VERSION)), e.g. "0.1.0".
const char* version();
}  // namespace sg
