// Fuzzes encoding arbitrary bytes: the first byte picks one of the shared
// tokenizers, the rest is the text. Invalid UTF-8 must give sg::Error (never a
// crash); valid text must round-trip through GPT-2 (no normalizer, lossless)
// and never produce ids outside the vocabulary.
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string_view>
#include <vector>

#include "tokenize/tokenizer.h"
#include "util/error.h"

namespace {

struct Tokenizers {
  std::vector<std::unique_ptr<sg::Tokenizer>> all;
  Tokenizers() {
    const std::string shared = SG_SHARED_DIR "/tokenizers/";
    all.push_back(sg::Tokenizer::load(shared + "gpt2"));
    all.push_back(sg::Tokenizer::load(shared + "pythia/20B_tokenizer.json"));
    all.push_back(sg::Tokenizer::load(shared + "qwen2.5"));
    all.push_back(sg::Tokenizer::load(shared + "stories260k"));
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const Tokenizers tokenizers;
  if (size == 0) return 0;
  const size_t which = data[0] % tokenizers.all.size();
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  const sg::Tokenizer& tok = *tokenizers.all[which];
  std::vector<int32_t> ids;
  try {
    ids = tok.encode(text, true);
  } catch (const sg::Error&) {
    return 0;  // invalid UTF-8: rejected with a message, as documented
  }
  for (int32_t id : ids)
    if (id < 0 || static_cast<size_t>(id) >= tok.vocab_size()) std::abort();
  const std::string decoded = tok.decode(ids);
  if (which == 0 && decoded != text) std::abort();  // GPT-2 byte-level BPE is lossless
  return 0;
}
