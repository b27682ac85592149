#pragma once
// The byte-level BPE tokenizer, built from a BpeSpec (what a tokenizer.json or a
// vocab.json + merges.txt pair describes, once parsed; see hf_files.cpp).
//
// Encoding follows HuggingFace tokenizers step by step:
//   1. added tokens with normalized=false are split out of the raw text
//      (leftmost-longest match, honouring single_word / lstrip / rstrip);
//   2. each remaining piece is normalized, then added tokens with
//      normalized=true are split out of it;
//   3. the pre-tokenizer steps (Split regexes, then ByteLevel) cut each piece
//      into pre-tokens;
//   4. each pre-token's bytes go through BPE (cached per pre-token);
//   5. the post-processor's tokens are put around the result.
// BPE runs on raw bytes rather than on the ByteLevel alphabet characters: the
// alphabet maps each byte to one character, so the two are the same
// computation, and bytes avoid re-encoding every pre-token.
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tokenize/regex.h"
#include "tokenize/tokenizer.h"
#include "tokenize/unicode.h"

namespace sg::tok {

struct AddedToken {
  std::string content;
  int32_t id = 0;
  bool special = false;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = true;
};

// How a Split pre-tokenizer keeps the matches (HF SplitDelimiterBehavior).
enum class SplitBehavior { Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous };

struct PreTokStep {
  // Split(regex, behavior, invert), or ByteLevel(add_prefix_space, use_regex)
  // whose regex (when used) is GPT-2's with behavior Isolated.
  bool byte_level = false;
  std::shared_ptr<const Regex> regex;  // null for ByteLevel(use_regex=false)
  SplitBehavior behavior = SplitBehavior::Isolated;
  bool invert = false;
  bool add_prefix_space = false;
};

struct BpeSpec {
  std::string source;  // the file(s), for messages
  std::vector<std::pair<std::string, int32_t>> vocab;
  std::vector<std::pair<std::string, std::string>> merges;  // in rank order
  std::optional<std::string> unk_token;
  bool fuse_unk = false;
  bool ignore_merges = false;
  std::vector<AddedToken> added;
  Normalizer normalizer;
  std::vector<PreTokStep> pre_tokenizer;  // ends with a ByteLevel step
  bool byte_level_decoder = true;         // false: tokens are joined with spaces (no decoder)
  std::vector<int32_t> prefix, suffix;    // what the post-processor adds around a single sequence
  std::optional<int32_t> bos, eos;
};

// The GPT-2 pre-tokenizer regex of HF's ByteLevel pre-tokenizer.
const char* gpt2_regex();

// Validates the spec (throws sg::Error naming spec.source) and builds the tokenizer.
std::unique_ptr<Tokenizer> make_byte_level_bpe(BpeSpec spec);

// "adds BOS <s> (id 1)", "adds no special tokens", ...: shared by both tokenizer kinds.
std::string describe_special(const Tokenizer& t, const std::vector<int32_t>& prefix,
                             const std::vector<int32_t>& suffix);

}  // namespace sg::tok
