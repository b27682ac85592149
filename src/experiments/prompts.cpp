#include "experiments/prompts.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "experiments/prompt_presets.h"
#include "io/ids_file.h"
#include "tokenize/tokenizer.h"
#include "tokenize/utf8.h"
#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"
#include "util/lines.h"
#include "util/paths.h"

namespace sg {

std::vector<std::vector<int32_t>> PromptSet::sequences() const {
  std::vector<std::vector<int32_t>> out;
  for (auto& p : prompts) out.push_back(p.ids);
  return out;
}

namespace {

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Texts (or ids) from a prompt file.
std::vector<Prompt> read_prompt_file(const std::string& path) {
  const std::string text = read_file(path);
  std::vector<Prompt> out;
  const bool jsonl = ends_with(path, ".jsonl");
  const auto lines = split_lines(text);
  for (size_t i = 0; i < lines.size(); ++i) {
    const std::string line(lines[i]);
    const size_t line_no = i + 1;
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    if (const auto bad = tok::find_invalid_utf8(line))
      fail("{}:{}: not valid UTF-8 (byte {} of the line)", path, line_no, *bad + 1);
    if (!jsonl) {
      out.push_back({line, {}});
      continue;
    }
    const nlohmann::json j = parse_json(line, fmt::format("{}:{}", path, line_no));
    if (j.is_object() && j.contains("text") && j["text"].is_string()) {
      out.push_back({j["text"].get<std::string>(), {}});
    } else if (j.is_object() && j.contains("ids")) {
      out.push_back({"", parse_ids_jsonl(line, fmt::format("{}:{}", path, line_no)).at(0)});
    } else {
      fail("{}:{}: expected {{\"text\": \"...\"}} or {{\"ids\": [...]}}", path, line_no);
    }
  }
  if (out.empty()) fail("{}: no prompts", path);
  return out;
}

}  // namespace

void PromptsInput::check() const {
  if (!ids_file.empty()) {
    if (!prompts.empty()) fail("give either --prompts or --ids-file, not both");
    check_input_file("--ids-file", ids_file);
  } else if (!prompts.empty() && !find_prompt_preset(prompts)) {
    std::error_code ec;
    if (!std::filesystem::exists(std::filesystem::symlink_status(prompts, ec)))
      fail("--prompts: \"{}\" is neither a preset ({}) nor a file", prompts, fmt::join(prompt_preset_names(), ", "));
    check_input_file("--prompts", prompts);
  }
  if (!tokenizer.empty()) {
    std::error_code ec;
    if (!std::filesystem::exists(tokenizer, ec))
      fail("--tokenizer: cannot read {}: {}", tokenizer, std::strerror(ec ? ec.value() : ENOENT));
  }
}

PromptSet PromptsInput::resolve(const Model& model) const {
  PromptSet set;
  if (!ids_file.empty()) {
    if (!prompts.empty()) fail("give either --prompts or --ids-file, not both");
    for (auto& ids : read_ids_file(ids_file)) set.prompts.push_back({"", ids});
    set.source = "ids file " + ids_file;
    set.special_tokens_note = "token ids given directly (no special tokens added)";
    return set;
  }
  const std::string name = prompts.empty() ? default_preset : prompts;
  if (const PromptPreset* preset = find_prompt_preset(name)) {
    for (auto& t : preset->texts) set.prompts.push_back({t, {}});
    set.source = fmt::format("preset {}: {}", preset->name, preset->description);
  } else if (std::filesystem::is_regular_file(name)) {
    set.prompts = read_prompt_file(name);
    set.source = "file " + name;
  } else {
    fail("--prompts: \"{}\" is neither a preset ({}) nor a file", name, fmt::join(prompt_preset_names(), ", "));
  }

  tokenize_prompts(set, model, tokenizer);
  return set;
}

void tokenize_prompts(PromptSet& set, const Model& model, const std::string& tokenizer) {
  bool need_tokenizer = false;
  for (auto& p : set.prompts) need_tokenizer = need_tokenizer || p.ids.empty();
  if (!need_tokenizer) {
    set.special_tokens_note = "token ids given directly (no special tokens added)";
    return;
  }
  const std::filesystem::path tok_path = tokenizer.empty() ? model.dir() : std::filesystem::path(tokenizer);
  if (tokenizer.empty() && !Tokenizer::found_in(model.dir()))
    fail(
        "{}: no tokenizer (tokenizer.json, vocab.json + merges.txt or tokenizer.model); give --tokenizer PATH "
        "or token ids with --ids-file",
        model.dir().string());
  auto tok = Tokenizer::load(tok_path);
  for (auto& p : set.prompts)
    if (p.ids.empty()) {
      p.ids = tok->encode(p.text, /*add_special=*/true);
      if (p.ids.empty()) fail("prompt \"{}\" has no tokens", p.text);
    }
  set.special_tokens_note = tok->special_tokens_note();
  set.tokenizer = tok_path.string();
}

}  // namespace sg
