#include "tokenize/sentencepiece_tokenizer.h"

#include <sentencepiece_processor.h>

#include "tokenize/byte_level_bpe.h"
#include "tokenize/hf_files.h"
#include "tokenize/utf8.h"
#include "util/error.h"

namespace sg::tok {

namespace {

class SentencePieceTokenizer final : public Tokenizer {
 public:
  SentencePieceTokenizer(const std::filesystem::path& file, const std::optional<nlohmann::json>& config)
      : source_(file.string()) {
    const auto status = sp_.Load(file.string());
    if (!status.ok()) fail("{}: not a usable SentencePiece model: {}", source_, status.ToString());
    if (sp_.bos_id() >= 0) bos_ = sp_.bos_id();
    if (sp_.eos_id() >= 0) eos_ = sp_.eos_id();
    // HF LlamaTokenizer (the class of Llama-2-style tokenizer.model files)
    // adds BOS and not EOS unless tokenizer_config.json says otherwise.
    bool add_bos = true, add_eos = false;
    if (config) {
      if (config->contains("add_bos_token") && (*config)["add_bos_token"].is_boolean())
        add_bos = (*config)["add_bos_token"].get<bool>();
      if (config->contains("add_eos_token") && (*config)["add_eos_token"].is_boolean())
        add_eos = (*config)["add_eos_token"].get<bool>();
    }
    if (add_bos && bos_) prefix_.push_back(*bos_);
    if (add_eos && eos_) suffix_.push_back(*eos_);
  }

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override {
    if (auto bad = find_invalid_utf8(text)) {
      fail("the text is not valid UTF-8 (invalid byte 0x{:02X} at offset {})", static_cast<unsigned char>(text[*bad]),
           *bad);
    }
    std::vector<int> pieces;
    const auto status = sp_.Encode(text, &pieces);
    if (!status.ok()) fail("{}: SentencePiece could not encode the text: {}", source_, status.ToString());
    std::vector<int32_t> out;
    out.reserve(pieces.size() + 2);
    if (add_special) out.insert(out.end(), prefix_.begin(), prefix_.end());
    out.insert(out.end(), pieces.begin(), pieces.end());
    if (add_special) out.insert(out.end(), suffix_.begin(), suffix_.end());
    return out;
  }

  // HF's decoder for Llama-2 tokenizers (Replace "▁" by " ", ByteFallback,
  // Fuse, Strip one leading space): control pieces such as <s> appear as
  // written, "<0xNN>" pieces are bytes (a run that is not valid UTF-8 gives one
  // U+FFFD per byte). Without control pieces this equals SentencePiece's decode.
  std::string decode(std::span<const int32_t> ids) const override {
    std::string out, bytes;
    auto flush_bytes = [&] {
      if (bytes.empty()) return;
      if (!find_invalid_utf8(bytes)) {
        out += bytes;
      } else {
        for (size_t i = 0; i < bytes.size(); ++i) out += "\xEF\xBF\xBD";
      }
      bytes.clear();
    };
    for (int32_t id : ids) {
      if (id < 0 || id >= sp_.GetPieceSize()) continue;
      const std::string& piece = sp_.IdToPiece(id);
      if (piece.size() == 6 && piece.starts_with("<0x") && piece.back() == '>') {
        unsigned value = 0;
        if (std::sscanf(piece.c_str() + 3, "%2x", &value) == 1) {
          bytes.push_back(static_cast<char>(value));
          continue;
        }
      }
      flush_bytes();
      size_t pos = 0;
      for (size_t hit; (hit = piece.find("\xE2\x96\x81", pos)) != std::string::npos; pos = hit + 3) {
        out.append(piece, pos, hit - pos);
        out.push_back(' ');
      }
      out.append(piece, pos);
    }
    flush_bytes();
    if (!out.empty() && out.front() == ' ') out.erase(0, 1);
    return out;
  }

  std::string token(int32_t id) const override {
    if (id < 0 || id >= sp_.GetPieceSize()) {
      fail("token id {} is not in the vocabulary of {} ({} ids)", id, source_, sp_.GetPieceSize());
    }
    return sp_.IdToPiece(id);
  }
  size_t vocab_size() const override { return static_cast<size_t>(sp_.GetPieceSize()); }
  std::string special_tokens_note() const override { return describe_special(*this, prefix_, suffix_); }
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }

 private:
  std::string source_;
  sentencepiece::SentencePieceProcessor sp_;
  std::optional<int32_t> bos_, eos_;
  std::vector<int32_t> prefix_, suffix_;
};

}  // namespace

std::unique_ptr<Tokenizer> load_sentencepiece(const std::filesystem::path& file,
                                              const std::optional<nlohmann::json>& config) {
  return std::make_unique<SentencePieceTokenizer>(file, config);
}

}  // namespace sg::tok
