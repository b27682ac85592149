#pragma once
// One error type for everything a user can cause (bad files, bad arguments).
// Its message is a complete one-line sentence naming the file, tensor or field;
// the CLI prints it as "streamgauge: error: <message>" and exits with code 2.
#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace sg {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

template <typename... Args>
[[noreturn]] void fail(fmt::format_string<Args...> format, Args&&... args) {
  throw Error(fmt::format(format, std::forward<Args>(args)...));
}

// Prints "streamgauge: warning: <message>" on stderr.
void warn(const std::string& message);

template <typename... Args>
void warnf(fmt::format_string<Args...> format, Args&&... args) {
  warn(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace sg
