// Fingerprints: the sha256 of every captured tensor of every supported golden
// model on the golden README's three sequences, recorded in
// tests/fingerprints.json. The engine promises the same bits on any x86-64-v3
// CPU, whatever the thread count; this test holds it to the recorded ones.
//
// File: {golden model name: {capture name: sha256 hex of the tensor's raw
// little-endian float32 bytes}}, capture names as `streamgauge capture MODEL
// --ids-file <the three sequences> --hooks '*'` writes them (seq{i}.{point}; the
// three sequences run as one batch, as capture runs them). Golden models the
// code cannot load (unsupported families or options) have no entry.
//
// Regenerate (after a deliberate change of the numerics):
//   SG_UPDATE_FINGERPRINTS=1 build/tests/engine/test_engine --gtest_filter='Fingerprints.*'
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <bit>
#include <cstdlib>
#include <iostream>

#include "engine/capture_store.h"
#include "engine/engine.h"
#include "hub/digest.h"
#include "report/json_io.h"
#include "support/test_support.h"
#include "util/error.h"

namespace sg {
namespace {

static_assert(std::endian::native == std::endian::little, "fingerprints hash little-endian float32 bytes");

const std::filesystem::path kFile = std::filesystem::path(SG_SOURCE_DIR) / "tests" / "fingerprints.json";

// {model: {capture: sha256}} for every golden model Model::load accepts.
nlohmann::json compute_fingerprints() {
  const auto models_dir = test::shared_dir() / "golden" / "models";
  std::vector<std::filesystem::path> dirs;
  for (const auto& e : std::filesystem::directory_iterator(models_dir))
    if (e.is_directory()) dirs.push_back(e.path());
  std::sort(dirs.begin(), dirs.end());
  const auto seqs = test::golden_readme_sequences();
  nlohmann::json out = nlohmann::json::object();
  for (const auto& dir : dirs) {
    std::unique_ptr<Model> model;
    try {
      model = Model::load(dir);
    } catch (const Error&) {
      continue;  // a family or option streamgauge does not support (yet)
    }
    Engine engine(*model);
    CaptureStore store({"*"});
    Observer* obs[] = {&store};
    engine.run(Batch::of(seqs), obs);
    nlohmann::json& m = out[dir.filename().string()];
    m = nlohmann::json::object();
    for (const auto& [name, t] : store.tensors())
      m[name] = hub::sha256_hex(
          std::string_view(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float)));
  }
  return out;
}

TEST(Fingerprints, EveryCaptureOfEverySupportedGoldenModelMatchesTheRecordedHash) {
  const nlohmann::json now = compute_fingerprints();
  ASSERT_FALSE(now.empty()) << "no golden model could be loaded";
  if (const char* update = std::getenv("SG_UPDATE_FINGERPRINTS"); update && std::string(update) == "1") {
    report::write_json(kFile, now);
    size_t n = 0;
    for (const auto& [model, captures] : now.items()) n += captures.size();
    std::cout << fmt::format("SG_UPDATE_FINGERPRINTS=1: wrote {} fingerprints of {} models to {}\n", n, now.size(),
                             kFile.string());
    RecordProperty("updated", kFile.string());
    return;
  }
  ASSERT_TRUE(std::filesystem::exists(kFile)) << kFile << " is missing; create it with SG_UPDATE_FINGERPRINTS=1";
  const nlohmann::json recorded = report::read_json(kFile);
  const std::string regenerate =
      " (if the change is deliberate: SG_UPDATE_FINGERPRINTS=1 test_engine --gtest_filter='Fingerprints.*')";
  for (const auto& [model, captures] : recorded.items())
    if (!now.contains(model))
      ADD_FAILURE() << model << ": recorded, but the golden model no longer loads" << regenerate;
  size_t compared = 0, mismatched = 0;
  for (const auto& [model, captures] : now.items()) {
    if (!recorded.contains(model)) {
      ADD_FAILURE() << model << ": loads now but has no recorded fingerprints" << regenerate;
      continue;
    }
    const auto& want = recorded[model];
    for (const auto& [name, hash] : captures.items()) {
      if (!want.contains(name)) {
        ADD_FAILURE() << model << " " << name << ": captured, but not recorded" << regenerate;
        continue;
      }
      ++compared;
      if (want[name] != hash) {
        ++mismatched;
        ADD_FAILURE() << model << " " << name << ": sha256 " << hash.get<std::string>() << ", recorded "
                      << want[name].get<std::string>();
      }
    }
    for (const auto& [name, hash] : want.items())
      if (!captures.contains(name)) ADD_FAILURE() << model << " " << name << ": recorded, but no longer captured";
  }
  EXPECT_EQ(mismatched, 0u) << mismatched << " of " << compared << " tensors differ from their recorded bits"
                            << regenerate;
  EXPECT_GT(compared, 0u);
}

}  // namespace
}  // namespace sg
