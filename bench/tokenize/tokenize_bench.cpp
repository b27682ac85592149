// Tokenizer throughput: encodes a deterministic ~10 MB mixed English/Chinese
// text paragraph by paragraph (one encode() call per line, no special tokens)
// on one thread and prints MB/s for the first pass (cold BPE cache) and the
// best of the following passes. compare_hf.sh runs HuggingFace's tokenizers on
// the same text (--save-text) and compares the ids (--save-ids).
//
//   tokenize_bench TOKENIZER [--mb 10] [--passes 3] [--text FILE]
//                            [--save-text FILE] [--save-ids FILE]
#include <fmt/format.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tokenize/tokenizer.h"
#include "util/atomic_file.h"

namespace {

// splitmix64: a fixed generator so every run (and every machine) gets the same text.
struct Rng {
  uint64_t state;
  uint64_t next() {
    uint64_t z = (state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
  }
  size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

const char* const kEnglish[] = {"the",        "of",          "and",           "to",
                                "in",         "is",          "was",           "that",
                                "for",        "on",          "with",          "as",
                                "by",         "at",          "from",          "this",
                                "which",      "model",       "language",      "transformer",
                                "attention",  "residual",    "stream",        "layer",
                                "token",      "tokenizer",   "research",      "interpretability",
                                "measure",    "gain",        "sublayer",      "network",
                                "training",   "data",        "learning",      "results",
                                "experiment", "significant", "however",       "therefore",
                                "because",    "although",    "university",    "government",
                                "history",    "century",     "river",         "mountain",
                                "city",       "people",      "children",      "water",
                                "light",      "temperature", "approximately", "don't",
                                "it's",       "they're",     "we've",         "I'm",
                                "you'll",     "she'd",       "Paris",         "London",
                                "Beijing",    "Shanghai",    "Einstein",      "Newton",
                                "GPT-2",      "Pythia",      "Qwen",          "NASA",
                                "COVID-19",   "e-mail",      "well-known",    "state-of-the-art",
                                "naïve",      "café",        "résumé",        "Zürich",
                                "quick",      "brown",       "fox",           "jumps",
                                "over",       "lazy",        "dog",           "once",
                                "upon",       "time",        "kingdom",       "wise",
                                "old",        "king"};
const char* const kPunct[] = {",", ",", ";", ":", " -", " (", ")", "\"", "'"};
// 160 frequent Chinese characters.
const char* const kChinese =
    "的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面"
    "而方后多定行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性"
    "好应开它合还因由其些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第"
    "向道命此变条只没结解问意建月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管";
const char* const kChinesePunct[] = {"，", "，", "。", "、", "；", "：", "？", "！"};

std::string chinese_char(Rng& rng) {
  const size_t n = std::char_traits<char>::length(kChinese) / 3;  // each is 3 UTF-8 bytes
  return std::string(kChinese + 3 * rng.below(n), 3);
}

std::string english_sentence(Rng& rng) {
  std::string s;
  const size_t words = 6 + rng.below(18);
  for (size_t i = 0; i < words; ++i) {
    if (i > 0) s += ' ';
    if (rng.below(12) == 0) {
      s += std::to_string(rng.below(100000));
    } else {
      std::string w = kEnglish[rng.below(std::size(kEnglish))];
      if (i == 0 && w[0] >= 'a' && w[0] <= 'z') w[0] = static_cast<char>(w[0] - 'a' + 'A');
      s += w;
    }
    if (i + 1 < words && rng.below(10) == 0) s += kPunct[rng.below(std::size(kPunct))];
  }
  s += rng.below(5) == 0 ? "?" : ".";
  return s;
}

std::string chinese_sentence(Rng& rng) {
  std::string s;
  const size_t clauses = 1 + rng.below(3);
  for (size_t c = 0; c < clauses; ++c) {
    const size_t chars = 4 + rng.below(14);
    for (size_t i = 0; i < chars; ++i) {
      if (rng.below(40) == 0) {
        s += std::to_string(rng.below(2025));
      } else if (rng.below(60) == 0) {
        s += kEnglish[rng.below(std::size(kEnglish))];  // inline English, as in real mixed text
      } else {
        s += chinese_char(rng);
      }
    }
    s += c + 1 < clauses ? kChinesePunct[rng.below(2)] : kChinesePunct[2 + rng.below(6)];
  }
  return s;
}

// Paragraphs of 1-3 KB, one per line; about 60% English and 40% Chinese bytes.
std::string make_text(size_t bytes) {
  Rng rng{20240601};
  std::string text;
  text.reserve(bytes + 4096);
  while (text.size() < bytes) {
    const size_t target = 1000 + rng.below(2000);
    std::string para;
    const bool chinese = rng.below(5) < 2;
    while (para.size() < target) {
      if (!para.empty()) para += chinese ? "" : " ";
      para += chinese ? chinese_sentence(rng) : english_sentence(rng);
    }
    text += para;
    text += '\n';
  }
  return text;
}

std::vector<std::string_view> split_lines(const std::string& text) {
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    lines.emplace_back(text.data() + pos, end - pos);
    pos = end + 1;
  }
  return lines;
}

int run(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr,
                 "usage: tokenize_bench TOKENIZER [--mb 10] [--passes 3] [--text FILE] "
                 "[--save-text FILE] [--save-ids FILE]\n");
    return 2;
  }
  std::string source = argv[1], text_file, save_text, save_ids;
  double mb = 10;
  int passes = 3;
  for (int i = 2; i + 1 < argc; i += 2) {
    const std::string key = argv[i], value = argv[i + 1];
    if (key == "--mb")
      mb = std::stod(value);
    else if (key == "--passes")
      passes = std::max(2, std::stoi(value));
    else if (key == "--text")
      text_file = value;
    else if (key == "--save-text")
      save_text = value;
    else if (key == "--save-ids")
      save_ids = value;
    else
      throw std::runtime_error("unknown option " + key);
  }
  const std::string text = text_file.empty() ? make_text(static_cast<size_t>(mb * 1e6)) : sg::read_file(text_file);
  if (!save_text.empty()) sg::write_file_atomic(save_text, text);
  const auto lines = split_lines(text);

  const auto load_start = std::chrono::steady_clock::now();
  const auto tokenizer = sg::Tokenizer::load(source);
  const double load_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - load_start).count();

  std::vector<std::vector<int32_t>> ids(lines.size());
  double first = 0, best = 1e300;
  size_t n_tokens = 0;
  for (int pass = 0; pass < passes; ++pass) {
    const auto t0 = std::chrono::steady_clock::now();
    for (size_t i = 0; i < lines.size(); ++i) ids[i] = tokenizer->encode(lines[i], false);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (pass == 0)
      first = s;
    else
      best = std::min(best, s);
  }
  for (const auto& v : ids) n_tokens += v.size();
  const double mbytes = static_cast<double>(text.size()) / 1e6;
  fmt::print(
      "streamgauge  {:<40} load {:6.2f} s  {:7.2f} MB  {:9} tokens  first pass {:6.2f} MB/s  best {:6.2f} MB/s\n",
      source, load_s, mbytes, n_tokens, mbytes / first, mbytes / best);
  if (!save_ids.empty()) {
    std::string out;
    for (const auto& v : ids) {
      for (size_t k = 0; k < v.size(); ++k) {
        if (k) out += ' ';
        out += std::to_string(v[k]);
      }
      out += '\n';
    }
    sg::write_file_atomic(save_ids, out);
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tokenize_bench: error: %s\n", e.what());
    return 2;
  }
}
