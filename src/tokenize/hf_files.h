#pragma once
// Reading HuggingFace tokenizer files into a BpeSpec: a `tokenizers`
// tokenizer.json, or the older vocab.json + merges.txt (+ tokenizer_config.json)
// built the way transformers builds the class that tokenizer_config names.
#include <filesystem>
#include <optional>

#include <nlohmann/json.hpp>

#include "tokenize/byte_level_bpe.h"
#include "util/error.h"
#include "util/json_file.h"

namespace sg::tok {

// A well-formed file describing a tokenizer this module does not implement
// (the message names the component); load() may then fall back to another file.
class Unsupported : public Error {
 public:
  using Error::Error;
};

// The tokenizer_config.json in `dir`, if there is one.
std::optional<nlohmann::json> read_tokenizer_config(const std::filesystem::path& dir);

// `config`: the tokenizer_config.json beside the file, consulted for the names of BOS/EOS.
BpeSpec parse_tokenizer_json(const std::filesystem::path& file, const std::optional<nlohmann::json>& config);

BpeSpec parse_vocab_merges(const std::filesystem::path& dir);

}  // namespace sg::tok
