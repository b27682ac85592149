#pragma once
// Prompt inputs shared by the experiments (gains, residual, ...), as the CLI
// names them:
//   --prompts PRESET|FILE   a built-in preset (the seeds' prompt lists), a text
//                           file (one prompt per line) or JSONL ({"text": ...}
//                           or {"ids": [...]} per line)
//   --ids-file FILE.jsonl   token ids directly (no tokenizer needed)
//   --tokenizer PATH        tokenizer file or directory (default: the model's)
// Texts are tokenized as HF's tokenizer(text) does: with the special tokens the
// tokenizer adds by default.
#include <cstdint>
#include <string>
#include <vector>

#include "model/model.h"

namespace sg {

struct Prompt {
  std::string text;  // empty when given as ids
  std::vector<int32_t> ids;
};

struct PromptSet {
  std::vector<Prompt> prompts;
  std::string source;               // "preset ffn-1.4b", "file prompts.txt", "ids file x.jsonl"
  std::string special_tokens_note;  // what the tokenizer added, or "token ids given directly"
  std::string tokenizer;            // path of the tokenizer used ("" for ids)
  std::vector<std::vector<int32_t>> sequences() const;
};

struct PromptsInput {
  std::string prompts;  // preset name or file
  std::string ids_file;
  std::string tokenizer;
  std::string default_preset;  // used when neither prompts nor ids_file is given
  // Checks the files given (util/paths.h: check_input_file), before any model
  // is loaded; throws sg::Error naming the option, the path and the reason.
  void check() const;
  PromptSet resolve(const Model& model) const;
};

// Tokenizes the prompts of `set` given as text (as HF's tokenizer(text): with
// the special tokens the tokenizer adds by default) with `tokenizer` (a file or
// directory; "" for the model's own) and fills in special_tokens_note and
// tokenizer. A set given wholly as ids needs no tokenizer. Throws sg::Error.
void tokenize_prompts(PromptSet& set, const Model& model, const std::string& tokenizer = {});

}  // namespace sg
