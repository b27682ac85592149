#include "experiments/prompt_presets.h"

namespace sg {

namespace {
const std::vector<PromptPreset>& presets() {
  static const std::vector<PromptPreset> all = {
      {"ffn-1.4b",
       "seed 000 (FFN Expansion Analysis, Pythia-1.4B): TEST_PROMPTS",
       {
           "The capital of France is Paris, which is known for the Eiffel Tower.",
           "Machine learning models learn patterns from data by optimizing loss functions.",
           "The transformer architecture uses self-attention to process sequences.",
           "Once upon a time in a faraway kingdom, there lived a wise old wizard.",
           "Water boils at 100 degrees Celsius under standard atmospheric pressure.",
           "If all mammals are warm-blooded and whales are mammals, then whales are warm-blooded.",
           "Functional programming emphasizes immutability and pure functions without side effects.",
           "The speed of light in a vacuum is approximately 299,792,458 meters per second.",
       }},
      {"ffn-6.9b",
       "seed 001 (funnel analysis, Pythia-6.9B): TEST_PROMPTS",
       {
           "The capital of France is Paris, which is known for the Eiffel Tower.",
           "In mathematics, the Pythagorean theorem states that in a right triangle",
           "The quick brown fox jumps over the lazy dog near the river bank.",
           "Artificial intelligence has made significant progress in recent years",
           "The chemical formula for water is H2O, consisting of two hydrogen atoms",
           "Shakespeare wrote many famous plays including Hamlet and Macbeth",
           "The speed of light in vacuum is approximately 299,792 kilometers per second",
           "Mount Everest is the highest mountain on Earth, located in the Himalayas",
       }},
      {"canonical",
       "seed 004 (residual gain and H25): CANONICAL_PROMPTS",
       {
           "The capital of France is",
           "Water freezes at",
           "The quick brown fox",
       }},
  };
  return all;
}
}  // namespace

const PromptPreset* find_prompt_preset(std::string_view name) {
  for (auto& p : presets())
    if (p.name == name) return &p;
  return nullptr;
}

std::vector<std::string_view> prompt_preset_names() {
  std::vector<std::string_view> out;
  for (auto& p : presets()) out.push_back(p.name);
  return out;
}

}  // namespace sg
