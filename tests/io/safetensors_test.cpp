// safetensors parsing: every malformed header is refused with a one-line error
// naming the file and (where there is one) the tensor.
#include "io/safetensors.h"

#include <gtest/gtest.h>

#include "io/safetensors_writer.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg {
namespace {

std::string with_header(const std::string& json, size_t data_bytes) {
  std::string out(8, '\0');
  const uint64_t n = json.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + json + std::string(data_bytes, '\0');
}

std::string parse_error(const std::string& bytes) {
  try {
    parse_safetensors_header(reinterpret_cast<const std::byte*>(bytes.data()), bytes.size(), "x.safetensors");
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(SafetensorsHeader, AcceptsAValidFile) {
  const auto h = parse_safetensors_header(
      reinterpret_cast<const std::byte*>(
          with_header(R"({"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"format":"pt"}})", 16)
              .data()),
      8 + 88 + 16, "x");
  ASSERT_EQ(h.tensors.size(), 1u);
  EXPECT_EQ(h.tensors[0].shape, (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(h.metadata.at("format"), "pt");
}

TEST(SafetensorsHeader, RefusesMalformedHeaders) {
  struct Case {
    std::string bytes, expect;
  };
  const std::vector<Case> cases = {
      {"abc", "truncated"},
      {with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})", 4), "run past the end"},
      {with_header(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8), "needs 12 bytes"},
      {with_header(
           R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
           12),
       "overlap"},
      {with_header(R"({"a":{"dtype":"Q4","shape":[2],"data_offsets":[0,8]}})", 8), "unknown dtype"},
      {with_header(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8), "shape"},
      {with_header(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}})", 8), "reversed"},
      {with_header(R"({"a":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,8]}})", 8), "overflow"},
      {with_header(R"([1,2])", 0), "not a JSON object"},
      {with_header(R"({"a":)", 0), "not valid JSON"},
  };
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto err = parse_error(cases[i].bytes);
    EXPECT_NE(err.find("x.safetensors"), std::string::npos) << i << ": " << err;
    EXPECT_NE(err.find(cases[i].expect), std::string::npos) << i << ": " << err;
    EXPECT_EQ(err.find('\n'), std::string::npos) << "one line";
  }
  // Header length larger than the file.
  std::string big(8, '\0');
  big[0] = static_cast<char>(0xff);
  big[1] = static_cast<char>(0xff);
  EXPECT_NE(parse_error(big + "{}").find("larger than the file"), std::string::npos);
}

TEST(SafetensorsWriter, RoundTrips) {
  auto dir = test::scratch_dir("st");
  SafetensorsWriter w;
  w.add_f32("x", {2, 3}, {1, 2, 3, 4, 5, 6});
  w.add_i64("ids", {7, 8});
  w.set_metadata("format", "pt");
  w.write(dir / "a.safetensors");
  SafetensorsFile f(dir / "a.safetensors");
  ASSERT_NE(f.find("x"), nullptr);
  EXPECT_EQ(f.find("x")->shape, (std::vector<int64_t>{2, 3}));
  float v[6];
  std::memcpy(v, f.find("x")->data, sizeof v);
  EXPECT_EQ(v[5], 6.0f);
  EXPECT_EQ(f.metadata().at("format"), "pt");
}

TEST(TensorStore, MissingCheckpointNamesTheDirectory) {
  auto dir = test::scratch_dir("empty_model");
  try {
    TensorStore::open_dir(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("model.safetensors"), std::string::npos) << e.what();
  }
}

TEST(TensorStore, OpensShardsAndRejectsAMissingShard) {
  const auto src = test::shared_dir() / "golden/models/neox_parallel_sharded";
  auto store = TensorStore::open_dir(src);
  EXPECT_EQ(store->files().size(), 2u);
  EXPECT_NE(store->find("gpt_neox.embed_in.weight"), nullptr);

  auto dir = test::scratch_dir("sharded");
  for (auto& e : std::filesystem::directory_iterator(src))
    if (e.path().filename().string().find("00002") == std::string::npos)
      std::filesystem::copy(e.path(), dir / e.path().filename());
  try {
    TensorStore::open_dir(dir);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("missing"), std::string::npos) << e.what();
  }
}

TEST(TensorStore, TruncatedFileIsRefused) {
  const auto src = test::shared_dir() / "golden/models/neox_parallel/model.safetensors";
  auto dir = test::scratch_dir("trunc");
  std::string bytes = read_file(src);
  write_file_atomic(dir / "model.safetensors", bytes.substr(0, bytes.size() - 100));
  try {
    TensorStore::open_dir(dir);
    FAIL();
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("model.safetensors"), std::string::npos) << m;
    EXPECT_NE(m.find("truncated"), std::string::npos) << m;
  }
}

}  // namespace
}  // namespace sg
