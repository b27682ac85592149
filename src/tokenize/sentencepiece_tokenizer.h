#pragma once
// SentencePiece models (tokenizer.model, Llama-2 style) through libsentencepiece.
#include <filesystem>
#include <memory>
#include <optional>

#include <nlohmann/json.hpp>

#include "tokenize/tokenizer.h"

namespace sg::tok {

// `config`: the tokenizer_config.json beside the model (add_bos_token / add_eos_token).
std::unique_ptr<Tokenizer> load_sentencepiece(const std::filesystem::path& file,
                                              const std::optional<nlohmann::json>& config);

}  // namespace sg::tok
