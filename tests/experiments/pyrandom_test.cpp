// The two random streams against the golden traces of shared/golden
// (alignment.json for numpy's RandomState, problems.json for CPython's random).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>

#include "experiments/problems.h"
#include "experiments/pyrandom.h"
#include "support/test_support.h"

namespace {

using nlohmann::json;

json load_golden(const std::string& name) {
  std::ifstream in(sg::test::shared_dir() / "golden" / name);
  EXPECT_TRUE(in) << name;
  return json::parse(in);
}

const json& alignment() {
  static const json j = load_golden("alignment.json");
  return j;
}
const json& problems() {
  static const json j = load_golden("problems.json");
  return j;
}

TEST(AlignMt19937, NumpySeedingIsInitGenrand) {
  sg::rnd::Mt19937 mt;
  mt.init_genrand(42);
  for (const auto& w : alignment()["rng"]["first_genrand_uint32_after_seed_42"]) {
    EXPECT_EQ(mt.next_u32(), w.get<uint32_t>());
  }
  EXPECT_EQ(mt.words_consumed(), 8u);
}

TEST(AlignMt19937, PythonSeedingIsInitByArray) {
  sg::rnd::PyRandom rng(42);
  // getrandbits(32) is one raw word.
  for (const auto& w : problems()["first_genrand_uint32_after_seed"]) {
    EXPECT_EQ(rng.getrandbits(32), w.get<uint64_t>());
  }
}

TEST(AlignPyRandom, NegativeSeedIsItsAbsoluteValue) {
  sg::rnd::PyRandom a(-42), b(42);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.getrandbits(32), b.getrandbits(32));
}

TEST(AlignPyRandom, WideGetrandbitsIsLittleEndianWords) {
  // getrandbits(40) = word0 | (word1 >> 24) << 32, as CPython's word array.
  sg::rnd::PyRandom a(7), b(7);
  const uint64_t w0 = b.getrandbits(32), w1 = b.getrandbits(32);
  EXPECT_EQ(a.getrandbits(40), w0 | ((w1 >> 24) << 32));
}

TEST(AlignPyRandom, RandbelowTraceOfGenerateProblems) {
  std::vector<sg::rnd::RandbelowCall> trace;
  const auto got = sg::align::generate_problems(200, 42, &trace);
  const auto& calls = problems()["randbelow_trace"]["calls"];
  ASSERT_EQ(trace.size(), calls.size());
  for (size_t i = 0; i < trace.size(); ++i) {
    ASSERT_EQ(trace[i].n, calls[i][0].get<uint64_t>()) << "call " << i;
    ASSERT_EQ(trace[i].result, calls[i][1].get<uint64_t>()) << "call " << i;
    ASSERT_EQ(trace[i].words, calls[i][2].get<uint64_t>()) << "call " << i;
  }
}

TEST(AlignPyRandom, ErrorsInsteadOfUndefinedBehaviour) {
  sg::rnd::PyRandom rng(1);
  EXPECT_THROW(rng.randint(5, 4), sg::Error);
  EXPECT_THROW(rng.randbelow(0), sg::Error);
  EXPECT_THROW(rng.getrandbits(0), sg::Error);
  EXPECT_THROW(rng.choice(std::vector<int>{}), sg::Error);
  EXPECT_EQ(rng.randint(3, 3), 3);
}

std::vector<uint32_t> as_perm(const json& j) { return j.get<std::vector<uint32_t>>(); }

TEST(AlignNumpyRandomState, PermutationsFromAFreshState) {
  for (const auto& [key, perms] : alignment()["permutations"].items()) {
    const size_t n = std::stoul(key.substr(2));  // "N=10"
    sg::rnd::NumpyRandomState rs(42);
    for (const auto& p : perms) EXPECT_EQ(rs.permutation(n), as_perm(p)) << key;
  }
  sg::rnd::NumpyRandomState rs(42);
  EXPECT_EQ(rs.permutation(10), (std::vector<uint32_t>{8, 1, 5, 0, 7, 2, 9, 4, 3, 6}));
}

TEST(AlignNumpyRandomState, FirstPermutationTrace) {
  // The loop of permutation(10), step by step: (i, j, words consumed).
  sg::rnd::NumpyRandomState rs(42);
  const auto& trace = alignment()["trace_first_permutation_N10"];
  size_t step = 0;
  for (uint32_t i = 9; i >= 1; --i, ++step) {
    const uint64_t before = rs.generator().words_consumed();
    const uint32_t j = rs.random_interval(i);
    ASSERT_LT(step, trace.size());
    EXPECT_EQ(i, trace[step]["i"].get<uint32_t>());
    EXPECT_EQ(j, trace[step]["j"].get<uint32_t>());
    EXPECT_EQ(rs.generator().words_consumed() - before, trace[step]["words"].get<uint64_t>());
  }
  EXPECT_EQ(step, trace.size());
}

TEST(AlignNumpyRandomState, EdgeCases) {
  sg::rnd::NumpyRandomState rs(42);
  EXPECT_EQ(rs.random_interval(0), 0u);
  EXPECT_TRUE(rs.permutation(0).empty());
  EXPECT_EQ(rs.permutation(1), std::vector<uint32_t>{0});
  EXPECT_EQ(rs.generator().words_consumed(), 0u);  // none of these draws
}

}  // namespace
