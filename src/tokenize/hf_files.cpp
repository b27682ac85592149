#include "tokenize/hf_files.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "util/atomic_file.h"
#include "util/lines.h"

namespace sg::tok {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Qwen2's pre-tokenizer regex (transformers' tokenization_qwen2.py PRETOKENIZE_REGEX):
// like GPT-2's, but letters take one leading non-letter, digits are single and
// line breaks are kept with the punctuation or whitespace before them.
constexpr const char* kQwen2Regex =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

std::string type_of(const json& j) {
  if (!j.is_object() || !j.contains("type") || !j["type"].is_string()) return "";
  return j["type"].get<std::string>();
}

bool flag(const json& j, const char* key, bool fallback) {
  if (!j.is_object() || !j.contains(key) || j[key].is_null()) return fallback;
  return j[key].get<bool>();
}

// A special token as tokenizer_config.json writes it: a string or {"content": ...}.
std::optional<std::string> token_name(const json& j) {
  if (j.is_string()) return j.get<std::string>();
  if (j.is_object() && j.contains("content") && j["content"].is_string()) return j["content"].get<std::string>();
  return std::nullopt;
}

std::optional<int32_t> find_id(const BpeSpec& spec, const std::string& content) {
  for (const AddedToken& a : spec.added)
    if (a.content == content) return a.id;
  for (const auto& [tok, id] : spec.vocab)
    if (tok == content) return id;
  return std::nullopt;
}

Normalizer parse_normalizer(const json& j, const std::string& where) {
  std::vector<NormStep> steps;
  auto add = [&](auto&& self, const json& n) -> void {
    if (n.is_null()) return;
    const std::string type = type_of(n);
    if (type == "NFC")
      steps.push_back(NormStep::NFC);
    else if (type == "NFD")
      steps.push_back(NormStep::NFD);
    else if (type == "NFKC")
      steps.push_back(NormStep::NFKC);
    else if (type == "NFKD")
      steps.push_back(NormStep::NFKD);
    else if (type == "Lowercase")
      steps.push_back(NormStep::Lowercase);
    else if (type == "Sequence") {
      for (const json& sub : n.at("normalizers")) self(self, sub);
    } else {
      throw Unsupported(fmt::format(
          "{}: normalizer {:?} is not supported (supported: NFC, NFD, NFKC, NFKD, Lowercase, Sequence)", where, type));
    }
  };
  add(add, j);
  return Normalizer(std::move(steps));
}

SplitBehavior parse_behavior(const std::string& s, const std::string& where) {
  if (s == "Isolated") return SplitBehavior::Isolated;
  if (s == "Removed") return SplitBehavior::Removed;
  if (s == "MergedWithPrevious") return SplitBehavior::MergedWithPrevious;
  if (s == "MergedWithNext") return SplitBehavior::MergedWithNext;
  if (s == "Contiguous") return SplitBehavior::Contiguous;
  throw Unsupported(fmt::format("{}: Split behavior {:?} is not supported", where, s));
}

// A literal string pattern as a PCRE2 pattern (HF escapes it the same way).
std::string quote_literal(const std::string& s) { return "\\Q" + s + "\\E"; }

std::vector<PreTokStep> parse_pre_tokenizer(const json& j, const std::string& where) {
  std::vector<PreTokStep> steps;
  auto add = [&](auto&& self, const json& p) -> void {
    if (p.is_null()) return;
    const std::string type = type_of(p);
    if (type == "Sequence") {
      for (const json& sub : p.at("pretokenizers")) self(self, sub);
    } else if (type == "ByteLevel") {
      PreTokStep st;
      st.byte_level = true;
      st.add_prefix_space = flag(p, "add_prefix_space", true);
      if (flag(p, "use_regex", true)) st.regex = std::make_shared<Regex>(gpt2_regex(), where + ": ByteLevel regex");
      steps.push_back(std::move(st));
    } else if (type == "Split") {
      PreTokStep st;
      const json& pattern = p.at("pattern");
      std::string regex;
      if (pattern.contains("Regex"))
        regex = pattern["Regex"].get<std::string>();
      else if (pattern.contains("String"))
        regex = quote_literal(pattern["String"].get<std::string>());
      else
        throw Unsupported(fmt::format("{}: Split pattern must be Regex or String", where));
      st.regex = std::make_shared<Regex>(regex, where + ": Split pattern");
      st.behavior = parse_behavior(p.at("behavior").get<std::string>(), where);
      st.invert = flag(p, "invert", false);
      steps.push_back(std::move(st));
    } else {
      throw Unsupported(
          fmt::format("{}: pre_tokenizer {:?} is not supported (supported: ByteLevel, Split, Sequence)", where, type));
    }
  };
  add(add, j);
  return steps;
}

// Adds the post-processor's tokens around a single sequence to spec.prefix/suffix.
void parse_post_processor(const json& j, BpeSpec& spec, const std::string& where) {
  if (j.is_null()) return;
  const std::string type = type_of(j);
  if (type == "ByteLevel") return;  // only trims offsets
  if (type == "Sequence") {
    for (const json& sub : j.at("processors")) parse_post_processor(sub, spec, where);
    return;
  }
  if (type == "TemplateProcessing") {
    bool seen_sequence = false;
    for (const json& item : j.at("single")) {
      if (item.contains("Sequence")) {
        seen_sequence = true;
        continue;
      }
      const std::string name = item.at("SpecialToken").at("id").get<std::string>();
      const json& special = j.at("special_tokens");
      if (!special.contains(name))
        fail("{}: TemplateProcessing uses {:?}, missing from its special_tokens", where, name);
      for (const json& id : special[name].at("ids"))
        (seen_sequence ? spec.suffix : spec.prefix).push_back(id.get<int32_t>());
    }
    return;
  }
  if (type == "RobertaProcessing" || type == "BertProcessing") {
    spec.prefix.push_back(j.at("cls").at(1).get<int32_t>());
    spec.suffix.push_back(j.at("sep").at(1).get<int32_t>());
    return;
  }
  throw Unsupported(fmt::format("{}: post_processor {:?} is not supported", where, type));
}

bool parse_decoder(const json& j, const std::string& where) {
  if (j.is_null()) return false;
  const std::string type = type_of(j);
  if (type == "ByteLevel") return true;
  if (type == "Sequence" && j.contains("decoders") && j["decoders"].size() == 1)
    return parse_decoder(j["decoders"][0], where);
  throw Unsupported(fmt::format("{}: decoder {:?} is not supported (supported: ByteLevel)", where, type));
}

// `where()` names the place for the error message (formatted only on error:
// this runs once per merge).
template <typename Where>
std::pair<std::string, std::string> split_merge(std::string_view line, Where&& where) {
  const size_t space = line.find(' ');
  if (space == std::string::npos || space == 0 || space + 1 >= line.size() ||
      line.find(' ', space + 1) != std::string::npos) {
    fail("{}: a merge must be two tokens separated by one space, got {:?}", where(), line);
  }
  return {std::string(line.substr(0, space)), std::string(line.substr(space + 1))};
}

// vocab.json ({"token": id, ...}) streamed into `out` without building a JSON
// tree (151k entries for Qwen2: the tree was most of the loading time).
class VocabReader : public nlohmann::json_sax<json> {
 public:
  VocabReader(std::vector<std::pair<std::string, int32_t>>& out, const std::string& file) : out_(out), file_(file) {}
  bool null() override { return bad_value(); }
  bool boolean(bool) override { return bad_value(); }
  bool number_integer(number_integer_t v) override { return add(v); }
  bool number_unsigned(number_unsigned_t v) override {
    return v > static_cast<number_unsigned_t>(INT32_MAX) ? bad_value() : add(static_cast<number_integer_t>(v));
  }
  bool number_float(number_float_t, const string_t&) override { return bad_value(); }
  bool string(string_t&) override { return bad_value(); }
  bool binary(binary_t&) override { return bad_value(); }
  bool start_object(std::size_t) override {
    if (depth_++ != 0) return bad_value();
    return true;
  }
  bool end_object() override {
    --depth_;
    return true;
  }
  bool start_array(std::size_t) override { return bad_value(); }
  bool end_array() override { return true; }
  bool key(string_t& k) override {
    key_ = std::move(k);
    return true;
  }
  bool parse_error(std::size_t, const std::string&, const nlohmann::detail::exception& e) override {
    fail("{}: malformed JSON: {}", file_, e.what());
  }

 private:
  bool add(number_integer_t v) {
    if (depth_ != 1 || v < INT32_MIN || v > INT32_MAX) return bad_value();
    out_.emplace_back(std::move(key_), static_cast<int32_t>(v));
    return true;
  }
  bool bad_value() { fail("{}: expected a JSON object token -> id (integer)", file_); }
  std::vector<std::pair<std::string, int32_t>>& out_;
  const std::string& file_;
  std::string key_;
  int depth_ = 0;
};

AddedToken parse_added_token(const json& a, int32_t id) {
  AddedToken t;
  t.id = id;
  t.content = a.at("content").get<std::string>();
  t.special = flag(a, "special", false);
  t.single_word = flag(a, "single_word", false);
  t.lstrip = flag(a, "lstrip", false);
  t.rstrip = flag(a, "rstrip", false);
  t.normalized = flag(a, "normalized", !t.special);
  return t;
}

// BOS/EOS names: tokenizer_config.json's bos_token/eos_token when given,
// else the GPT-2 family convention (<|endoftext|> is both) when that token exists.
void set_bos_eos(BpeSpec& spec, const std::optional<json>& config, bool gpt2_defaults) {
  auto lookup = [&](const char* key) -> std::optional<int32_t> {
    if (config && config->contains(key)) {
      if (auto name = token_name((*config)[key])) return find_id(spec, *name);
      return std::nullopt;  // explicitly null
    }
    if (gpt2_defaults) return find_id(spec, "<|endoftext|>");
    return std::nullopt;
  };
  spec.bos = lookup("bos_token");
  spec.eos = lookup("eos_token");
}

template <typename F>
auto with_json_errors(const fs::path& file, F&& body) {
  try {
    return body();
  } catch (const json::exception& e) {
    fail("{}: unexpected content: {}", file.string(), e.what());
  }
}

}  // namespace

std::optional<json> read_tokenizer_config(const fs::path& dir) {
  const fs::path file = dir / "tokenizer_config.json";
  if (!fs::is_regular_file(file)) return std::nullopt;
  json j = read_json(file);
  if (!j.is_object()) fail("{}: expected a JSON object", file.string());
  return j;
}

BpeSpec parse_tokenizer_json(const fs::path& file, const std::optional<json>& config) {
  const json j = read_json(file);
  const std::string where = file.string();
  return with_json_errors(file, [&] {
    BpeSpec spec;
    spec.source = where;
    if (!j.is_object() || !j.contains("model")) fail("{}: not a tokenizer.json (no \"model\")", where);
    const json& model = j["model"];
    const std::string model_type = type_of(model);
    if (!(model_type == "BPE" || (model_type.empty() && model.contains("merges")))) {
      throw Unsupported(fmt::format("{}: model type {:?} is not supported (only BPE)", where, model_type));
    }
    if (flag(model, "byte_fallback", false))
      throw Unsupported(fmt::format("{}: BPE byte_fallback is not supported", where));
    if (model.contains("dropout") && !model["dropout"].is_null() && model["dropout"].get<double>() > 0) {
      throw Unsupported(fmt::format("{}: BPE dropout is not supported", where));
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      if (model.contains(key) && !model[key].is_null() && !model[key].get<std::string>().empty()) {
        throw Unsupported(fmt::format("{}: BPE {} is not supported", where, key));
      }
    }
    for (const auto& [tok, id] : model.at("vocab").items()) spec.vocab.emplace_back(tok, id.get<int32_t>());
    for (const json& m : model.at("merges")) {
      if (m.is_string())
        spec.merges.push_back(split_merge(m.get_ref<const std::string&>(), [&] { return where; }));
      else
        spec.merges.emplace_back(m.at(0).get<std::string>(), m.at(1).get<std::string>());
    }
    if (model.contains("unk_token") && !model["unk_token"].is_null())
      spec.unk_token = model["unk_token"].get<std::string>();
    spec.fuse_unk = flag(model, "fuse_unk", false);
    spec.ignore_merges = flag(model, "ignore_merges", false);
    if (j.contains("added_tokens")) {
      for (const json& a : j["added_tokens"]) spec.added.push_back(parse_added_token(a, a.at("id").get<int32_t>()));
    }
    spec.normalizer = parse_normalizer(j.value("normalizer", json()), where);
    spec.pre_tokenizer = parse_pre_tokenizer(j.value("pre_tokenizer", json()), where);
    if (spec.pre_tokenizer.empty() || !spec.pre_tokenizer.back().byte_level) {
      throw Unsupported(
          fmt::format("{}: only byte-level BPE is supported (the pre_tokenizer has no final ByteLevel step)", where));
    }
    parse_post_processor(j.value("post_processor", json()), spec, where);
    spec.byte_level_decoder = parse_decoder(j.value("decoder", json()), where);
    set_bos_eos(spec, config, true);
    // Without names from tokenizer_config.json, a post-processor that adds one
    // token at the start (end) is adding the BOS (EOS).
    if (!spec.bos && spec.prefix.size() == 1) spec.bos = spec.prefix[0];
    if (!spec.eos && spec.suffix.size() == 1) spec.eos = spec.suffix[0];
    return spec;
  });
}

BpeSpec parse_vocab_merges(const fs::path& dir) {
  const fs::path vocab_file = dir / "vocab.json", merges_file = dir / "merges.txt";
  const std::optional<json> config = read_tokenizer_config(dir);
  BpeSpec spec;
  spec.source = (dir / "{vocab.json,merges.txt}").string();

  {
    const std::string text = read_file(vocab_file);
    const std::string name = vocab_file.string();
    VocabReader reader(spec.vocab, name);
    spec.vocab.reserve(text.size() / 16);
    nlohmann::json::sax_parse(text, &reader);
    if (spec.vocab.empty()) fail("{}: expected a JSON object token -> id", name);
  }

  // merges.txt: one "a b" per line; a "#version" first line and empty lines are skipped.
  const std::string text = read_file(merges_file);
  const auto lines = split_lines(text);
  spec.merges.reserve(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string_view line = lines[i];
    if (line.empty() || (i == 0 && line.starts_with("#version"))) continue;
    spec.merges.push_back(split_merge(line, [&] { return fmt::format("{} line {}", merges_file.string(), i + 1); }));
  }

  const fs::path config_file = dir / "tokenizer_config.json";
  return with_json_errors(config_file, [&] {
    const std::string cls = config && config->contains("tokenizer_class") && (*config)["tokenizer_class"].is_string()
                                ? (*config)["tokenizer_class"].get<std::string>()
                                : "GPT2Tokenizer";
    const bool qwen2 = cls == "Qwen2Tokenizer" || cls == "Qwen2TokenizerFast";
    const bool gpt2 = cls == "GPT2Tokenizer" || cls == "GPT2TokenizerFast" || cls == "CodeGenTokenizer" ||
                      cls == "CodeGenTokenizerFast" || cls == "GPTNeoXTokenizerFast";
    if (!qwen2 && !gpt2) {
      throw Unsupported(
          fmt::format("{}: tokenizer_class {:?} is not supported with vocab.json + merges.txt "
                      "(supported: GPT2Tokenizer, CodeGenTokenizer, Qwen2Tokenizer)",
                      config_file.string(), cls));
    }
    // The pipeline transformers' converters build for these classes.
    PreTokStep byte_level;
    byte_level.byte_level = true;
    byte_level.add_prefix_space = config ? flag(*config, "add_prefix_space", false) : false;
    if (qwen2) {
      spec.normalizer = Normalizer({NormStep::NFC});
      PreTokStep split;
      split.regex = std::make_shared<Regex>(kQwen2Regex, spec.source + ": Qwen2 pre-tokenizer");
      split.behavior = SplitBehavior::Isolated;
      spec.pre_tokenizer.push_back(std::move(split));
      byte_level.add_prefix_space = false;
    } else {
      byte_level.regex = std::make_shared<Regex>(gpt2_regex(), spec.source + ": ByteLevel regex");
    }
    spec.pre_tokenizer.push_back(std::move(byte_level));

    // Added tokens: added_tokens_decoder, then the named special tokens that
    // are not there yet (GPT2Tokenizer defaults them to <|endoftext|>).
    if (config && config->contains("added_tokens_decoder")) {
      for (const auto& [id, a] : (*config)["added_tokens_decoder"].items()) {
        int32_t value = -1;
        const auto [end, ec] = std::from_chars(id.data(), id.data() + id.size(), value);
        if (ec != std::errc() || end != id.data() + id.size() || value < 0) {
          fail("{}: added_tokens_decoder key {:?} is not a token id", config_file.string(), id);
        }
        spec.added.push_back(parse_added_token(a, value));
      }
    }
    for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token"}) {
      std::optional<std::string> name;
      if (config && config->contains(key))
        name = token_name((*config)[key]);
      else if (gpt2 && std::string(key) != "pad_token")
        name = "<|endoftext|>";
      if (!name || name->empty()) continue;
      bool present = false;
      for (const AddedToken& a : spec.added) present = present || a.content == *name;
      if (present) continue;
      AddedToken t;
      t.content = *name;
      t.special = true;
      t.normalized = !qwen2;  // Qwen2Tokenizer makes them normalized=False; GPT-2 has no normalizer
      if (auto id = find_id(spec, *name)) {
        t.id = *id;
      } else {
        int32_t next = 0;
        for (const auto& [tok, vid] : spec.vocab) next = std::max(next, vid + 1);
        for (const AddedToken& a : spec.added) next = std::max(next, a.id + 1);
        t.id = next;
      }
      spec.added.push_back(std::move(t));
    }
    std::sort(spec.added.begin(), spec.added.end(),
              [](const AddedToken& a, const AddedToken& b) { return a.id < b.id; });
    set_bos_eos(spec, config, gpt2);
    if (gpt2 && config && flag(*config, "add_bos_token", false) && spec.bos) spec.prefix.push_back(*spec.bos);
    return std::move(spec);  // spec lives outside the lambda: move, not copy
  });
}

}  // namespace sg::tok
