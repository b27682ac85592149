#include "experiments/problems.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <limits>

#include "util/atomic_file.h"
#include "util/error.h"
#include "util/json_file.h"

namespace sg::align {

// Transcription of the seed's generate_problems(). Every draw happens in the
// seed's program order (`a, b = rng.randint(..), rng.randint(..)` draws a, then
// b, then the op choice). The only non-ASCII characters besides CJK ideographs are
// U+00D7 MULTIPLICATION SIGN and U+3002 IDEOGRAPHIC FULL STOP, written as escapes
// so no editor can silently substitute look-alikes; zh commas and the category-2
// question mark are ASCII, as in the seed.
std::vector<Problem> generate_problems(size_t n, int64_t seed, std::vector<rnd::RandbelowCall>* trace) {
  rnd::PyRandom rng(seed);
  rng.set_trace(trace);
  std::vector<Problem> problems;
  const size_t per_cat = n / 5;
  problems.reserve(per_cat * 5);
  const std::vector<std::string> ops = {"plus", "times"};

  for (size_t i = 0; i < per_cat; ++i) {
    const int64_t a = rng.randint(10, 999);
    const int64_t b = rng.randint(10, 999);
    const bool plus = rng.choice(ops) == "plus";
    const char* sign = plus ? "+" : "\u00d7";
    problems.push_back(
        {fmt::format("计算 {} {} {} 的值\u3002", a, sign, b), fmt::format("Calculate {} {} {}.", a, sign, b), 0});
  }
  for (size_t i = 0; i < per_cat; ++i) {
    const int64_t n_val = rng.randint(5, 20);
    const int64_t k_val = rng.randint(1, std::min<int64_t>(n_val - 1, 8));
    problems.push_back({fmt::format("求组合数 C({}, {}) 的值\u3002", n_val, k_val),
                        fmt::format("Find the value of C({}, {}).", n_val, k_val), 1});
  }
  for (size_t i = 0; i < per_cat; ++i) {
    const int64_t a = rng.randint(50, 9999);
    const int64_t b = rng.randint(3, 37);
    problems.push_back({fmt::format("{} 除以 {} 的余数是多少?", a, b),
                        fmt::format("What is the remainder when {} is divided by {}?", a, b), 2});
  }
  for (size_t i = 0; i < per_cat; ++i) {
    const int64_t w = rng.randint(2, 50);
    const int64_t h = rng.randint(2, 50);
    problems.push_back({fmt::format("一个长方形的长为 {},宽为 {},求其面积\u3002", w, h),
                        fmt::format("A rectangle has length {} and width {}. Find its area.", w, h), 3});
  }
  for (size_t i = 0; i < per_cat; ++i) {
    const int64_t a1 = rng.randint(1, 20);
    const int64_t d = rng.randint(1, 10);
    const int64_t n_terms = rng.randint(5, 30);
    problems.push_back({fmt::format("等差数列首项为 {},公差为 {},求前 {} 项之和\u3002", a1, d, n_terms),
                        fmt::format("An arithmetic sequence has first term {} and common difference {}. "
                                    "Find the sum of the first {} terms.",
                                    a1, d, n_terms),
                        4});
  }
  rng.shuffle(problems);
  return problems;
}

namespace {
constexpr std::string_view kZhEnMath = "zh-en-math";
// A bound far above any useful experiment that keeps a mistyped n from exhausting memory.
constexpr size_t kMaxPresetPairs = 1'000'000;
}  // namespace

std::vector<std::string> preset_names() { return {std::string(kZhEnMath)}; }

PairSet preset_pairs(std::string_view name, size_t n, int64_t seed) {
  if (name != kZhEnMath) {
    fail("unknown pair preset '{}' (known presets: {})", name, fmt::join(preset_names(), ", "));
  }
  if (n < 5 || n > kMaxPresetPairs) {
    fail(
        "preset {}: n must be between 5 and {} (it draws n // 5 problems in each of 5 "
        "categories), got {}",
        name, kMaxPresetPairs, n);
  }
  PairSet set;
  set.form = PairForm::text;
  for (auto& p : generate_problems(n, seed)) {
    Pair pair;
    pair.a = std::move(p.zh);
    pair.b = std::move(p.en);
    pair.category = p.category;
    set.pairs.push_back(std::move(pair));
  }
  return set;
}

namespace {

using nlohmann::json;

std::vector<int32_t> parse_ids(const json& v, std::string_view key, const std::string& where) {
  if (!v.is_array()) fail("{}: \"{}\" must be an array of token ids", where, key);
  if (v.empty()) fail("{}: \"{}\" is empty (a text needs at least one token)", where, key);
  std::vector<int32_t> ids;
  ids.reserve(v.size());
  for (size_t i = 0; i < v.size(); ++i) {
    const json& x = v[i];
    const bool ok = (x.is_number_unsigned() && x.get<uint64_t>() <= uint64_t{std::numeric_limits<int32_t>::max()}) ||
                    (x.is_number_integer() && !x.is_number_unsigned() && x.get<int64_t>() >= 0 &&
                     x.get<int64_t>() <= std::numeric_limits<int32_t>::max());
    if (!ok) {
      fail("{}: \"{}\"[{}] is not a token id (a non-negative integer below 2^31)", where, key, i);
    }
    ids.push_back(static_cast<int32_t>(x.get<int64_t>()));
  }
  return ids;
}

std::string parse_text(const json& v, std::string_view key, const std::string& where) {
  if (!v.is_string()) fail("{}: \"{}\" must be a string", where, key);
  std::string s = v.get<std::string>();
  if (s.empty()) fail("{}: \"{}\" is an empty string", where, key);
  return s;
}

std::string dump_or_fail(const json& v) {
  try {
    return v.dump();
  } catch (const json::exception& e) {
    fail("cannot write pair as JSON: {}", json_error_message(e));
  }
}

void append_ids(std::string& out, const std::vector<int32_t>& ids) {
  out += '[';
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ", ";
    out += std::to_string(ids[i]);
  }
  out += ']';
}

}  // namespace

PairSet parse_pairs_jsonl(std::string_view content, const std::string& source) {
  PairSet set;
  bool form_known = false;
  size_t line_no = 0;
  size_t start = 0;
  while (start < content.size()) {
    size_t end = content.find('\n', start);
    if (end == std::string_view::npos) end = content.size();
    std::string_view line = content.substr(start, end - start);
    start = end + 1;
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;

    const std::string where = fmt::format("{}:{}", source, line_no);
    const json obj = parse_json(line, where);
    if (!obj.is_object()) fail("{}: expected a JSON object {{\"a\": ..., \"b\": ...}}", where);

    const bool has_text = obj.contains("a") || obj.contains("b");
    const bool has_ids = obj.contains("a_ids") || obj.contains("b_ids");
    if (has_text && has_ids) fail("{}: has both text (a/b) and token ids (a_ids/b_ids)", where);
    if (!has_text && !has_ids) fail("{}: needs \"a\" and \"b\" (or \"a_ids\" and \"b_ids\")", where);
    const PairForm form = has_ids ? PairForm::ids : PairForm::text;
    if (!form_known) {
      set.form = form;
      form_known = true;
    } else if (form != set.form) {
      fail("{}: mixes token ids and text; use one form in the whole file", where);
    }
    // Reject unknown keys: a typo such as "catgory" would otherwise vanish silently.
    for (const auto& [key, value] : obj.items()) {
      const bool known = key == "category" ||
                         (form == PairForm::text ? (key == "a" || key == "b") : (key == "a_ids" || key == "b_ids"));
      if (!known) {
        fail("{}: unknown key \"{}\" (expected {}, and optionally category)", where, key,
             form == PairForm::text ? "a, b" : "a_ids, b_ids");
      }
    }

    Pair pair;
    if (form == PairForm::text) {
      if (!obj.contains("a") || !obj.contains("b")) fail("{}: needs both \"a\" and \"b\"", where);
      pair.a = parse_text(obj["a"], "a", where);
      pair.b = parse_text(obj["b"], "b", where);
    } else {
      if (!obj.contains("a_ids") || !obj.contains("b_ids")) {
        fail("{}: needs both \"a_ids\" and \"b_ids\"", where);
      }
      pair.a_ids = parse_ids(obj["a_ids"], "a_ids", where);
      pair.b_ids = parse_ids(obj["b_ids"], "b_ids", where);
    }
    if (obj.contains("category")) {
      const json& c = obj["category"];
      if (!(c.is_null() || c.is_number_integer() || c.is_string())) {
        fail("{}: \"category\" must be an integer or a string", where);
      }
      pair.category = c;
    }
    set.pairs.push_back(std::move(pair));
  }
  if (set.pairs.empty()) fail("{}: contains no pairs", source);
  return set;
}

PairSet read_pairs_jsonl(const std::filesystem::path& path) {
  return parse_pairs_jsonl(read_file(path), path.string());
}

std::string pairs_to_jsonl(const PairSet& set) {
  std::string out;
  for (const Pair& p : set.pairs) {
    if (set.form == PairForm::text) {
      out += "{\"a\": " + dump_or_fail(p.a) + ", \"b\": " + dump_or_fail(p.b);
    } else {
      out += "{\"a_ids\": ";
      append_ids(out, p.a_ids);
      out += ", \"b_ids\": ";
      append_ids(out, p.b_ids);
    }
    if (!p.category.is_null()) out += ", \"category\": " + dump_or_fail(p.category);
    out += "}\n";
  }
  return out;
}

void write_pairs_jsonl(const std::filesystem::path& path, const PairSet& set) {
  write_file_atomic(path, pairs_to_jsonl(set));
}

}  // namespace sg::align
