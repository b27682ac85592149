#pragma once
// The prompt sets of the seed notebooks, verbatim, so each experiment can be
// rerun on exactly the seed's inputs.
#include <string>
#include <string_view>
#include <vector>

namespace sg {

struct PromptPreset {
  std::string_view name;         // "ffn-1.4b"
  std::string_view description;  // where it comes from
  std::vector<std::string> texts;
};

// nullptr if unknown.
const PromptPreset* find_prompt_preset(std::string_view name);
std::vector<std::string_view> prompt_preset_names();

}  // namespace sg
