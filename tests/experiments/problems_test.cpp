// The zh-en-math preset against problems.json, and the pairs JSONL format.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "experiments/problems.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace {

using nlohmann::json;
using sg::align::PairForm;
using sg::align::PairSet;

TEST(AlignProblems, ReproducesTheGoldenSetByteForByte) {
  std::ifstream in(sg::test::shared_dir() / "golden" / "problems.json");
  const json golden = json::parse(in);
  const auto& want = golden["problems"];
  const auto got = sg::align::generate_problems(200, 42);
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i) {
    EXPECT_EQ(got[i].zh, want[i]["zh"].get<std::string>()) << "problem " << i;
    EXPECT_EQ(got[i].en, want[i]["en"].get<std::string>()) << "problem " << i;
    EXPECT_EQ(got[i].category, want[i]["category"].get<int>()) << "problem " << i;
  }
}

TEST(AlignProblems, NIsFloorDividedIntoFiveCategories) {
  EXPECT_EQ(sg::align::generate_problems(7, 42).size(), 5u);
  EXPECT_TRUE(sg::align::generate_problems(4, 42).empty());
  // A different seed gives a different set.
  EXPECT_NE(sg::align::generate_problems(10, 1)[0].zh + sg::align::generate_problems(10, 1)[1].zh,
            sg::align::generate_problems(10, 42)[0].zh + sg::align::generate_problems(10, 42)[1].zh);
}

TEST(AlignPresets, ZhEnMathIsTheSeedSetAsPairs) {
  const PairSet set = sg::align::preset_pairs("zh-en-math", 200, 42);
  const auto problems = sg::align::generate_problems(200, 42);
  ASSERT_EQ(set.pairs.size(), 200u);
  EXPECT_EQ(set.form, PairForm::text);
  EXPECT_EQ(set.pairs[0].a, problems[0].zh);
  EXPECT_EQ(set.pairs[0].b, problems[0].en);
  EXPECT_EQ(set.pairs[0].category, problems[0].category);
  EXPECT_THROW(sg::align::preset_pairs("nope", 200, 42), sg::Error);
  EXPECT_THROW(sg::align::preset_pairs("zh-en-math", 4, 42), sg::Error);
}

TEST(AlignPairsJsonl, PresetRoundTripsAndKeepsUtf8) {
  const PairSet set = sg::align::preset_pairs("zh-en-math", 10, 42);
  const std::string text = sg::align::pairs_to_jsonl(set);
  // One object per line, UTF-8 unescaped, Python-like spacing.
  EXPECT_EQ(text.substr(0, text.find('\n')), "{\"a\": \"" + set.pairs[0].a + "\", \"b\": \"" + set.pairs[0].b +
                                                 "\", \"category\": " + set.pairs[0].category.dump() + "}");
  const PairSet back = sg::align::parse_pairs_jsonl(text, "mem.jsonl");
  ASSERT_EQ(back.pairs.size(), set.pairs.size());
  for (size_t i = 0; i < set.pairs.size(); ++i) {
    EXPECT_EQ(back.pairs[i].a, set.pairs[i].a);
    EXPECT_EQ(back.pairs[i].b, set.pairs[i].b);
    EXPECT_EQ(back.pairs[i].category, set.pairs[i].category);
  }
  EXPECT_EQ(sg::align::pairs_to_jsonl(back), text);
}

TEST(AlignPairsJsonl, IdsFormAndFileRoundTrip) {
  const std::string text =
      "{\"a_ids\": [1, 2, 3], \"b_ids\": [4], \"category\": \"x\"}\r\n"
      "\n"
      "   \n"
      "{\"b_ids\": [2147483647], \"a_ids\": [0]}";
  const PairSet set = sg::align::parse_pairs_jsonl(text, "ids.jsonl");
  ASSERT_EQ(set.pairs.size(), 2u);
  EXPECT_EQ(set.form, PairForm::ids);
  EXPECT_EQ(set.pairs[0].a_ids, (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(set.pairs[0].category, "x");
  EXPECT_TRUE(set.pairs[1].category.is_null());
  EXPECT_EQ(set.pairs[1].b_ids, (std::vector<int32_t>{2147483647}));

  const auto dir = sg::test::scratch_dir("pairs_jsonl");
  sg::align::write_pairs_jsonl(dir / "p.jsonl", set);
  EXPECT_EQ(sg::read_file(dir / "p.jsonl"),
            "{\"a_ids\": [1, 2, 3], \"b_ids\": [4], \"category\": \"x\"}\n"
            "{\"a_ids\": [0], \"b_ids\": [2147483647]}\n");
  EXPECT_EQ(sg::align::read_pairs_jsonl(dir / "p.jsonl").pairs.size(), 2u);
  EXPECT_THROW(sg::align::read_pairs_jsonl(dir / "missing.jsonl"), sg::Error);
}

// Every malformed input gives one sg::Error naming the file and line.
TEST(AlignPairsJsonl, ErrorsNameFileAndLine) {
  const std::string ok = "{\"a\": \"x\", \"b\": \"y\"}\n";
  struct Case {
    std::string text;
    std::string expect;  // substring of the message
  };
  const std::vector<Case> cases = {
      {ok + ok + "{\"a\": \"x\", \"b\": }\n", "f.jsonl:3: not valid JSON"},
      {ok + "[1, 2]\n", "f.jsonl:2: expected a JSON object"},
      {"{\"a\": \"x\"}\n", "f.jsonl:1: needs both \"a\" and \"b\""},
      {"{\"category\": 1}\n", "f.jsonl:1: needs \"a\" and \"b\""},
      {"{\"a\": \"x\", \"b\": \"y\", \"catgory\": 1}\n", "f.jsonl:1: unknown key \"catgory\""},
      {"{\"a\": \"x\", \"b\": 3}\n", "f.jsonl:1: \"b\" must be a string"},
      {"{\"a\": \"\", \"b\": \"y\"}\n", "f.jsonl:1: \"a\" is an empty string"},
      {"{\"a\": \"x\", \"b\": \"y\", \"category\": true}\n", "f.jsonl:1: \"category\""},
      {ok + "{\"a_ids\": [1], \"b_ids\": [2]}\n", "f.jsonl:2: mixes token ids and text"},
      {"{\"a\": \"x\", \"a_ids\": [1]}\n", "f.jsonl:1: has both text"},
      {"{\"a_ids\": [1, -2], \"b_ids\": [2]}\n", "f.jsonl:1: \"a_ids\"[1] is not a token id"},
      {"{\"a_ids\": [1.5], \"b_ids\": [2]}\n", "f.jsonl:1: \"a_ids\"[0] is not a token id"},
      {"{\"a_ids\": [2147483648], \"b_ids\": [2]}\n", "\"a_ids\"[0] is not a token id"},
      {"{\"a_ids\": [], \"b_ids\": [2]}\n", "f.jsonl:1: \"a_ids\" is empty"},
      {"{\"a_ids\": 1, \"b_ids\": [2]}\n", "f.jsonl:1: \"a_ids\" must be an array"},
      {"{\"a\": \"\xff\", \"b\": \"y\"}\n", "f.jsonl:1: not valid JSON"},
      {"\n\n", "f.jsonl: contains no pairs"},
      {"", "f.jsonl: contains no pairs"},
  };
  for (const auto& c : cases) {
    try {
      sg::align::parse_pairs_jsonl(c.text, "f.jsonl");
      ADD_FAILURE() << "no error for: " << c.text;
    } catch (const sg::Error& e) {
      const std::string msg = e.what();
      EXPECT_NE(msg.find(c.expect), std::string::npos) << msg;
      EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
    }
  }
}

}  // namespace
