#pragma once
// Parallel text pairs for the `align` experiment: the seed's generated math
// problems (preset `zh-en-math`) and user-supplied JSONL files.
//
// JSONL form, one object per line (blank lines are skipped):
//   text:  {"a": "<text>", "b": "<text>", "category": 0}   (category optional:
//          an integer or a string)
//   ids:   {"a_ids": [1, 2, 3], "b_ids": [4, 5]}             (models without a
//          tokenizer; category optional as above)
// "a" plays the seed's zh side, "b" its en side. A file uses one form throughout.
#include <nlohmann/json.hpp>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "experiments/pyrandom.h"

namespace sg::align {

// One problem of the seed's generate_problems().
struct Problem {
  std::string zh;
  std::string en;
  int category = 0;
};

// The seed's generate_problems(n, seed), byte for byte and in the same order:
// n // 5 problems per category (5 categories, so n % 5 problems are dropped, as in
// the seed), drawn from random.Random(seed), then shuffled. When `trace` is given,
// every _randbelow call is appended to it (the problems.json trace format).
std::vector<Problem> generate_problems(size_t n, int64_t seed, std::vector<rnd::RandbelowCall>* trace = nullptr);

enum class PairForm { text, ids };

// One pair; only the members of its set's form are filled.
struct Pair {
  std::string a, b;                   // PairForm::text
  std::vector<int32_t> a_ids, b_ids;  // PairForm::ids
  nlohmann::json category;            // null when absent, else an integer or a string
};

struct PairSet {
  PairForm form = PairForm::text;
  std::vector<Pair> pairs;
};

// The presets `streamgauge pairs` and `align --preset` know.
std::vector<std::string> preset_names();
// A preset as a text PairSet (zh-en-math: a = zh, b = en, category = the seed's).
// Throws sg::Error for an unknown name (listing the known ones) or an n outside
// [5, 1000000].
PairSet preset_pairs(std::string_view name, size_t n, int64_t seed);

// Parses JSONL; `source` names the input in errors ("pairs.jsonl:7: ...").
// Requires at least one pair; every error is one line naming source and line.
PairSet parse_pairs_jsonl(std::string_view content, const std::string& source);
PairSet read_pairs_jsonl(const std::filesystem::path& path);

// One JSON object per line, keys in the order a, b, category (or a_ids, b_ids,
// category), UTF-8 kept as is; parse_pairs_jsonl() reads it back unchanged.
std::string pairs_to_jsonl(const PairSet& set);
// Atomic write of pairs_to_jsonl().
void write_pairs_jsonl(const std::filesystem::path& path, const PairSet& set);

}  // namespace sg::align
