// streamgauge tokenize: show how a tokenizer splits a text (ids and token
// strings), decode ids back to text, or tokenize every text of a file into the
// JSONL that --ids-file reads. The tokenizer is found the way every
// command finds it: a model directory, a tokenizer directory or a tokenizer file.
#include <fmt/format.h>

#include <charconv>
#include <nlohmann/json.hpp>
#include <optional>

#include "cli/commands.h"
#include "tokenize/tokenizer.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/lines.h"

namespace sg::cli {

namespace {

struct TokenizeOptions {
  std::string source;
  std::string text;
  std::string decode;
  std::string file;
  bool json = false;
  bool no_special = false;
};

// "1,2, 3" -> {1, 2, 3}
std::vector<int32_t> parse_ids(const std::string& list) {
  std::vector<int32_t> ids;
  size_t pos = 0;
  while (pos <= list.size()) {
    size_t end = list.find(',', pos);
    if (end == std::string::npos) end = list.size();
    std::string item = list.substr(pos, end - pos);
    item.erase(0, item.find_first_not_of(" \t"));
    item.erase(item.find_last_not_of(" \t") + 1);
    int32_t id = 0;
    const auto [ptr, ec] = std::from_chars(item.data(), item.data() + item.size(), id);
    if (item.empty() || ec != std::errc() || ptr != item.data() + item.size()) {
      fail("--decode: {:?} is not a token id (expected a comma-separated list such as 1,2,3)", item);
    }
    ids.push_back(id);
    pos = end + 1;
  }
  return ids;
}

// JSON text of a value; strings that are not valid UTF-8 get U+FFFD rather than an exception.
std::string dump(const nlohmann::json& j) { return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace); }

// The texts of --file: JSONL with a "text" string per line when the first
// non-blank line is such an object, else one text per line. Blank lines are
// skipped either way, as --ids-file skips them.
std::vector<std::string> read_texts(const std::string& path) {
  const std::string content = read_file(path);
  std::vector<std::string> texts;
  std::optional<bool> jsonl;
  const auto lines = split_lines(content);
  for (size_t i = 0; i < lines.size(); ++i) {
    std::string_view line = lines[i];
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;
    if (!jsonl) {
      const auto j = nlohmann::json::parse(line, nullptr, false);
      jsonl = !j.is_discarded() && j.is_object() && j.contains("text") && j["text"].is_string();
    }
    if (!*jsonl) {
      texts.emplace_back(line);
      continue;
    }
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      fail("{}:{}: not valid JSON ({}); a JSONL file needs an object with a \"text\" string on every line", path, i + 1,
           e.what());
    }
    if (!j.is_object() || !j.contains("text") || !j["text"].is_string()) {
      fail("{}:{}: expected an object with a \"text\" string, as on the first line", path, i + 1);
    }
    texts.push_back(j["text"].get<std::string>());
  }
  if (texts.empty()) fail("{}: no texts", path);
  return texts;
}

void run(const TokenizeOptions& o) {
  const auto tokenizer = Tokenizer::load(o.source);
  if (!o.file.empty()) {
    const auto texts = read_texts(o.file);
    std::string out;
    for (size_t i = 0; i < texts.size(); ++i) {
      std::vector<int32_t> ids;
      try {
        ids = tokenizer->encode(texts[i], !o.no_special);
      } catch (const Error& e) {
        fail("{}: text {}: {}", o.file, i + 1, e.what());
      }
      out += dump({{"ids", ids}});
      out += '\n';
    }
    fmt::print("{}", out);
    return;
  }
  if (!o.decode.empty()) {
    const auto ids = parse_ids(o.decode);
    for (int32_t id : ids)  // as --ids does: an id outside the vocabulary is an error, not dropped
      if (id < 0 || static_cast<size_t>(id) >= tokenizer->vocab_size())
        fail("--decode: token id {} is outside the vocabulary (0..{})", id, tokenizer->vocab_size() - 1);
    const std::string text = tokenizer->decode(ids);
    if (o.json) {
      fmt::print("{}\n", dump({{"text", text}}));
    } else {
      fmt::print("{}\n", text);
    }
    return;
  }
  const auto ids = tokenizer->encode(o.text, !o.no_special);
  std::vector<std::string> tokens;
  tokens.reserve(ids.size());
  for (int32_t id : ids) tokens.push_back(tokenizer->token(id));
  if (o.json) {
    fmt::print("{}\n", dump({{"ids", ids}, {"tokens", tokens}}));
    return;
  }
  fmt::print("{} tokens; the tokenizer {}{}\n", ids.size(), tokenizer->special_tokens_note(),
             o.no_special ? " (not added: --no-special)" : "");
  for (size_t i = 0; i < ids.size(); ++i) fmt::print("{:>8}  {}\n", ids[i], tokens[i]);
}

}  // namespace

void add_tokenize(CLI::App& app) {
  auto opts = std::make_shared<TokenizeOptions>();
  auto* cmd = app.add_subcommand("tokenize", "Show the token ids and strings of a text, or decode ids");
  cmd->footer(
      "Examples:\n  streamgauge tokenize EleutherAI/pythia-1.4b --text 'Hello world'\n"
      "  streamgauge tokenize path/to/tokenizer.json --decode 12092,1533\n"
      "  streamgauge tokenize MODEL --file texts.txt > ids.jsonl   # then: gains MODEL --ids-file ids.jsonl");
  cmd->add_option("source", opts->source,
                  "A model directory, a tokenizer directory or a tokenizer file "
                  "(tokenizer.json, *.json, tokenizer.model)")
      ->required();
  auto* text = cmd->add_option("--text", opts->text, "The text to tokenize");
  auto* decode = cmd->add_option("--decode", opts->decode, "Decode comma-separated ids, e.g. 1,2,3");
  auto* file = cmd->add_option("--file", opts->file,
                               "Tokenize every text of FILE (JSONL with a \"text\" string per line, or plain "
                               "lines; blank lines skipped); prints one {\"ids\": [...]} line per text, the "
                               "format --ids-file reads");
  text->excludes(decode);
  file->excludes(text)->excludes(decode);
  cmd->add_flag("--json", opts->json,
                "Print one JSON object: {\"ids\": [...], \"tokens\": [...]} ({\"text\": ...} with --decode)");
  cmd->add_flag("--no-special", opts->no_special, "Add no BOS/EOS (HF add_special_tokens=False)");
  cmd->callback([opts, text, decode, file] {
    if (text->count() == 0 && decode->count() == 0 && file->count() == 0)
      fail("tokenize: give --text TEXT, --file FILE or --decode IDS");
    run(*opts);
  });
}

}  // namespace sg::cli
