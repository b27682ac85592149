// libstreamgauge is the union of the module object libraries (see CMakeLists.txt);
// CMake wants at least one source of its own.
