#pragma once
// Text <-> token ids, exactly as HuggingFace tokenizes (the ids are the input of
// every measurement, so "almost the same" is wrong).
//
// Two kinds are supported:
//  - byte-level BPE from a `tokenizers` tokenizer.json (GPT-2, GPT-NeoX/Pythia,
//    GPT-J, Qwen2/2.5, ...) or from the older vocab.json + merges.txt
//    (+ tokenizer_config.json) pair, built as transformers builds it for the
//    class named in tokenizer_config.json (GPT2Tokenizer, Qwen2Tokenizer, ...);
//  - SentencePiece models (tokenizer.model, Llama-2 style) through
//    libsentencepiece, with BOS added as HF's LlamaTokenizer does.
//
// Invalid UTF-8: HuggingFace only ever sees Unicode strings, so there is no HF
// behaviour to copy for invalid bytes. encode() rejects them with an sg::Error
// giving the byte offset rather than guessing a replacement; decode() of ids
// whose bytes are not valid UTF-8 (a multi-byte character cut between tokens)
// replaces each invalid sequence with U+FFFD exactly as HF's decoders do.
//
// A Tokenizer is immutable after load(); encode/decode may be called from
// several threads at once.
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace sg {

class Tokenizer {
 public:
  virtual ~Tokenizer();
  // path: a tokenizer file (tokenizer.json / *.json / tokenizer.model), or a directory
  // (model dir or tokenizer dir) searched for tokenizer.json, then vocab.json+merges.txt
  // (+tokenizer_config.json), then tokenizer.model. Throws sg::Error naming the file.
  static std::unique_ptr<Tokenizer> load(const std::filesystem::path& path);
  // True if a directory contains something load() can use.
  static bool found_in(const std::filesystem::path& dir);
  // add_special = HF's add_special_tokens (BOS/EOS per the post-processor / tokenizer_config).
  // Special tokens written in the text (e.g. "<|endoftext|>") are matched as tokens either way.
  virtual std::vector<int32_t> encode(std::string_view text, bool add_special = true) const = 0;
  // As HF decode(skip_special_tokens=False); ids the tokenizer does not know are skipped, as HF does.
  virtual std::string decode(std::span<const int32_t> ids) const = 0;
  // The vocabulary string (e.g. "Ġthe", "▁the"); throws sg::Error for an unknown id.
  virtual std::string token(int32_t id) const = 0;
  // Number of ids (one past the largest id, added tokens included).
  virtual size_t vocab_size() const = 0;
  // One sentence for outputs: which special tokens encode(text, true) adds, e.g.
  // "adds BOS <s> (id 1)" or "adds no special tokens".
  virtual std::string special_tokens_note() const = 0;
  virtual std::optional<int32_t> bos_id() const = 0;
  virtual std::optional<int32_t> eos_id() const = 0;
};

}  // namespace sg
