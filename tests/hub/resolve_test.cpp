// Resolution of model names through a cache written here in huggingface_hub's
// layout: no server, no network.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "hub/digest.h"
#include "hub/resolve.h"
#include "hub_env.h"
#include "support/test_support.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace sg::hub;

namespace {

const std::string kCommit = "0123456789abcdef0123456789abcdef01234567";

void write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p, std::ios::binary) << content;
}

// What huggingface_hub leaves after snapshot_download("sg-test/tiny"): blobs named by
// etag, relative links from the snapshot, the branch in refs/.
fs::path write_cache(const fs::path& cache, bool with_config = true) {
  const fs::path repo = cache / "models--sg-test--tiny";
  const std::string config = R"({"model_type": "gpt_neox"})";
  const std::string blob = git_blob_sha1_hex(config);
  write(repo / "blobs" / blob, config);
  fs::create_directories(repo / "snapshots" / kCommit);
  if (with_config) fs::create_symlink("../../blobs/" + blob, repo / "snapshots" / kCommit / "config.json");
  write(repo / "refs" / "main", kCommit);
  write(repo / "refs" / "v1.0", kCommit);
  return repo / "snapshots" / kCommit;
}

std::string error_of(const std::string& arg) {
  try {
    resolve_model(arg);
  } catch (const sg::Error& e) {
    return e.what();
  }
  return "";
}

class HubResolve : public ::testing::Test {
 protected:
  void SetUp() override {
    sg::test::clear_hub_env();
    if (const char* home = std::getenv("HOME")) home_ = home;
    dir_ = sg::test::scratch_dir("hub-resolve");
  }
  void TearDown() override {
    if (!home_.empty()) ::setenv("HOME", home_.c_str(), 1);
  }
  fs::path dir_;
  std::string home_;
};

}  // namespace

TEST_F(HubResolve, CacheDirectoryFollowsHuggingfaceHubPrecedence) {
  ::setenv("HOME", (dir_ / "home").c_str(), 1);
  EXPECT_EQ(hub_cache_dir(), dir_ / "home" / ".cache" / "huggingface" / "hub");
  ::setenv("XDG_CACHE_HOME", (dir_ / "xdg").c_str(), 1);
  EXPECT_EQ(hub_cache_dir(), dir_ / "xdg" / "huggingface" / "hub");
  ::setenv("HF_HOME", (dir_ / "hf").c_str(), 1);
  EXPECT_EQ(hub_cache_dir(), dir_ / "hf" / "hub");
  ::setenv("HUGGINGFACE_HUB_CACHE", (dir_ / "legacy").c_str(), 1);
  EXPECT_EQ(hub_cache_dir(), dir_ / "legacy");
  ::setenv("HF_HUB_CACHE", (dir_ / "cache").c_str(), 1);
  EXPECT_EQ(hub_cache_dir(), dir_ / "cache");
  ::setenv("HF_HUB_CACHE", "~/c", 1);
  EXPECT_EQ(hub_cache_dir(), dir_ / "home" / "c");
}

TEST_F(HubResolve, EnvironmentFlagsEndpointAndToken) {
  EXPECT_FALSE(hub_offline());
  ::setenv("HF_HUB_OFFLINE", "yes", 1);
  EXPECT_TRUE(hub_offline());
  ::setenv("HF_HUB_OFFLINE", "0", 1);
  EXPECT_FALSE(hub_offline());

  EXPECT_EQ(hub_endpoint(), "https://huggingface.co");
  ::setenv("HF_ENDPOINT", "https://hub.example.org//", 1);
  EXPECT_EQ(hub_endpoint(), "https://hub.example.org");

  ::setenv("HF_HOME", dir_.c_str(), 1);
  EXPECT_FALSE(hub_token());
  write(dir_ / "token", "hf_from_file\n");  // as `huggingface-cli login` writes it
  EXPECT_EQ(hub_token(), "hf_from_file");
  write(dir_ / "other_token", "hf_other");
  ::setenv("HF_TOKEN_PATH", (dir_ / "other_token").c_str(), 1);
  EXPECT_EQ(hub_token(), "hf_other");
  ::setenv("HF_TOKEN", "hf_env", 1);
  EXPECT_EQ(hub_token(), "hf_env");
}

TEST_F(HubResolve, ParsesModelNames) {
  auto ref = parse_model_ref("EleutherAI/pythia-160m");
  EXPECT_EQ(ref.repo_id, "EleutherAI/pythia-160m");
  EXPECT_EQ(ref.revision, "main");
  ref = parse_model_ref("EleutherAI/pythia-160m@step1000");
  EXPECT_EQ(ref.revision, "step1000");
  EXPECT_EQ(parse_model_ref("gpt2").repo_id, "gpt2");
  EXPECT_EQ(parse_model_ref("a/b@refs/pr/1").revision, "refs/pr/1");
  for (const char* bad :
       {"", "a/b/c", "a--b/c", "../x", "-a/b", "a/b.git", "a/b@", "a/b@../../x", "a/b@x//y", "a b/c", "a/b@x y"})
    EXPECT_THROW(parse_model_ref(bad), sg::Error) << bad;
  EXPECT_EQ(repo_folder_name("EleutherAI/pythia-160m"), "models--EleutherAI--pythia-160m");
  EXPECT_EQ(repo_folder_name("gpt2"), "models--gpt2");
}

TEST_F(HubResolve, ExistingDirectoryIsReturnedAsIs) {
  const fs::path golden = sg::test::shared_dir() / "golden" / "models" / "neox_parallel";
  EXPECT_EQ(resolve_model(golden.string()), golden);
  EXPECT_NE(error_of((dir_ / "missing").string()).find("does not exist"), std::string::npos);
  EXPECT_NE(error_of("./missing").find("does not exist"), std::string::npos);
}

TEST_F(HubResolve, FindsAHuggingfaceHubCacheByNameWithoutNetwork) {
  const fs::path cache = dir_ / "hf" / "hub";
  const fs::path snapshot = write_cache(cache);
  ::setenv("HF_HOME", (dir_ / "hf").c_str(), 1);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  ::setenv("http_proxy", "http://192.0.2.1:9", 1);  // any network use would fail loudly
  EXPECT_EQ(resolve_model("sg-test/tiny"), snapshot);
  EXPECT_EQ(resolve_model("sg-test/tiny@main"), snapshot);
  EXPECT_EQ(resolve_model("sg-test/tiny@v1.0"), snapshot);
  EXPECT_EQ(resolve_model("sg-test/tiny@" + kCommit), snapshot);
  EXPECT_TRUE(fs::is_regular_file(resolve_model("sg-test/tiny") / "config.json"));
}

TEST_F(HubResolve, MissingModelsSayHowToGetThem) {
  ::setenv("HF_HUB_CACHE", (dir_ / "cache").c_str(), 1);
  std::string msg = error_of("EleutherAI/pythia-160m");
  EXPECT_NE(msg.find("streamgauge pull EleutherAI/pythia-160m"), std::string::npos) << msg;
  EXPECT_NE(msg.find((dir_ / "cache").string()), std::string::npos) << msg;

  write_cache(dir_ / "cache");
  msg = error_of("sg-test/tiny@v2");  // a revision never pulled
  EXPECT_NE(msg.find("streamgauge pull sg-test/tiny@v2"), std::string::npos) << msg;
  msg = error_of("sg-test/tiny@ffffffffffffffffffffffffffffffffffffffff");
  EXPECT_NE(msg.find("streamgauge pull"), std::string::npos) << msg;
}

TEST_F(HubResolve, IncompleteOrCorruptCacheEntriesAreNamed) {
  ::setenv("HF_HUB_CACHE", dir_.c_str(), 1);
  write_cache(dir_, /*with_config=*/false);
  std::string msg = error_of("sg-test/tiny");
  EXPECT_NE(msg.find("no config.json"), std::string::npos) << msg;

  write(dir_ / "models--sg-test--tiny" / "refs" / "main", "../../../etc");
  msg = error_of("sg-test/tiny");
  EXPECT_NE(msg.find("refs/main"), std::string::npos) << msg;
  EXPECT_NE(msg.find("commit hash"), std::string::npos) << msg;
}
