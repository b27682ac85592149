#include "tokenize/tokenizer.h"

#include "tokenize/byte_level_bpe.h"
#include "tokenize/hf_files.h"
#include "tokenize/sentencepiece_tokenizer.h"
#include "util/error.h"

namespace sg {

namespace fs = std::filesystem;

Tokenizer::~Tokenizer() = default;

namespace {

std::unique_ptr<Tokenizer> load_json_file(const fs::path& file) {
  // vocab.json / tokenizer_config.json named directly stand for their folder.
  const std::string name = file.filename().string();
  if (name == "vocab.json" || name == "tokenizer_config.json") return Tokenizer::load(file.parent_path());
  return tok::make_byte_level_bpe(tok::parse_tokenizer_json(file, tok::read_tokenizer_config(file.parent_path())));
}

}  // namespace

std::unique_ptr<Tokenizer> Tokenizer::load(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path json = path / "tokenizer.json", model = path / "tokenizer.model";
    if (fs::is_regular_file(json)) {
      try {
        return load_json_file(json);
      } catch (const tok::Unsupported&) {
        // E.g. a Llama-2 tokenizer.json (Metaspace, byte fallback): the
        // SentencePiece model beside it describes the same tokenizer.
        if (!fs::is_regular_file(model)) throw;
      }
      return tok::load_sentencepiece(model, tok::read_tokenizer_config(path));
    }
    if (fs::is_regular_file(path / "vocab.json") && fs::is_regular_file(path / "merges.txt")) {
      return tok::make_byte_level_bpe(tok::parse_vocab_merges(path));
    }
    if (fs::is_regular_file(model)) return tok::load_sentencepiece(model, tok::read_tokenizer_config(path));
    fail("{}: no tokenizer found (looked for tokenizer.json, vocab.json + merges.txt, tokenizer.model)", path.string());
  }
  if (!fs::is_regular_file(path, ec)) fail("{}: no such tokenizer file or directory", path.string());
  const std::string ext = path.extension().string();
  if (ext == ".json") return load_json_file(path);
  if (ext == ".model") return tok::load_sentencepiece(path, tok::read_tokenizer_config(path.parent_path()));
  fail("{}: not a tokenizer file (expected a .json tokenizer or a SentencePiece .model)", path.string());
}

bool Tokenizer::found_in(const fs::path& dir) {
  std::error_code ec;
  return fs::is_regular_file(dir / "tokenizer.json", ec) ||
         (fs::is_regular_file(dir / "vocab.json", ec) && fs::is_regular_file(dir / "merges.txt", ec)) ||
         fs::is_regular_file(dir / "tokenizer.model", ec);
}

}  // namespace sg
