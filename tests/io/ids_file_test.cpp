#include "io/ids_file.h"

#include <gtest/gtest.h>

#include "util/error.h"

namespace sg {
namespace {

TEST(IdsFile, ParsesArraysAndObjects) {
  const auto s = parse_ids_jsonl("[1,2,3]\n\n{\"ids\": [4], \"text\": \"x\"}\n", "f.jsonl");
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0], (std::vector<int32_t>{1, 2, 3}));
  EXPECT_EQ(s[1], (std::vector<int32_t>{4}));
}

TEST(IdsFile, ErrorsNameFileAndLine) {
  for (const char* bad : {"[1,2]\n[1,", "[1]\n{\"x\": 1}", "[1]\n[-3]", "[1]\n[]", "[1]\n[1.5]", "\n"}) {
    try {
      parse_ids_jsonl(bad, "f.jsonl");
      FAIL() << bad;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find("f.jsonl"), std::string::npos) << e.what();
    }
  }
}

TEST(IdList, ParsesCommaSeparated) {
  EXPECT_EQ(parse_id_list("5,17, 3"), (std::vector<int32_t>{5, 17, 3}));
  EXPECT_THROW(parse_id_list("5,,3"), Error);
  EXPECT_THROW(parse_id_list("a"), Error);
  EXPECT_THROW(parse_id_list("-1"), Error);
  EXPECT_THROW(parse_id_list("99999999999"), Error);
}

}  // namespace
}  // namespace sg
