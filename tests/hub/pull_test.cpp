// `pull` against the loopback hub: the cache it writes must be exactly what
// huggingface_hub's snapshot_download writes, and every failure must leave no
// corrupt blob behind.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "hub/digest.h"
#include "hub/pull.h"
#include "hub/resolve.h"
#include "hub_env.h"
#include "loopback_hub.h"
#include "support/test_support.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace fs = std::filesystem;
using namespace sg::hub;
using sg::test::LoopbackHub;

namespace {

const std::string kRepo = "sg-test/neox-parallel";
const std::string kCommit = "89abcdef0123456789abcdef0123456789abcdef";
const std::string kSpecial = R"({"eos_token": "<|endoftext|>"})";

class HubPull : public ::testing::Test {
 protected:
  void SetUp() override {
    sg::test::clear_hub_env();
    dir_ = sg::test::scratch_dir("hub-pull");
    cache_ = dir_ / "cache";
    const fs::path golden = sg::test::shared_dir() / "golden" / "models" / "neox_parallel";
    config_ = sg::read_file(golden / "config.json");
    weights_ = sg::read_file(golden / "model.safetensors");
    hub_.add_repo(kRepo, kCommit,
                  {{"config.json", config_, false},
                   {"model.safetensors", weights_, true},
                   {"tokenizer/special_tokens_map.json", kSpecial, false},
                   {"pytorch_model.bin", "pickled duplicate of the weights", true},
                   {"README.md", "# neox-parallel\n", false}});
  }

  PullOptions options() const {
    PullOptions o;
    o.cache_dir = cache_;
    o.endpoint = hub_.endpoint();
    o.show_progress = false;
    return o;
  }

  std::string pull_error(const std::string& model, const PullOptions& o) {
    try {
      pull(model, o);
    } catch (const sg::Error& e) {
      return e.what();
    }
    return "";
  }

  fs::path storage() const { return cache_ / repo_folder_name(kRepo); }
  fs::path snapshot() const { return storage() / "snapshots" / kCommit; }

  size_t count_requests(bool cdn) const {
    const auto log = hub_.requests();
    return std::count_if(log.begin(), log.end(), [&](const LoopbackHub::Request& r) { return r.cdn == cdn; });
  }

  // Files anywhere in the cache whose name ends in ".incomplete".
  size_t incomplete_files() const {
    size_t n = 0;
    if (fs::exists(cache_))
      for (const auto& e : fs::recursive_directory_iterator(cache_)) n += e.path().extension() == ".incomplete";
    return n;
  }

  LoopbackHub hub_;
  fs::path dir_, cache_;
  std::string config_, weights_;
};

}  // namespace

TEST_F(HubPull, FullDownloadWritesHuggingfaceHubLayout) {
  const PullResult r = pull(kRepo, options());
  EXPECT_EQ(r.commit, kCommit);
  EXPECT_EQ(r.snapshot, snapshot());
  EXPECT_EQ(r.downloaded, 3u);
  EXPECT_EQ(r.bytes, config_.size() + weights_.size() + kSpecial.size());
  // Selection: safetensors, JSON, tokenizer files; no pickled weights, no README.
  std::vector<std::string> files = r.files;
  std::sort(files.begin(), files.end());
  EXPECT_EQ(files, (std::vector<std::string>{"config.json", "model.safetensors", "tokenizer/special_tokens_map.json"}));

  // refs/main holds the bare commit hash (no newline), as snapshot_download writes it.
  EXPECT_EQ(sg::read_file(storage() / "refs" / "main"), kCommit);
  // Blobs are named by etag: the git blob id of regular files, the sha256 of LFS files.
  const std::string config_blob = git_blob_sha1_hex(config_), weights_blob = sha256_hex(weights_);
  EXPECT_EQ(sg::read_file(storage() / "blobs" / config_blob), config_);
  EXPECT_EQ(sg::read_file(storage() / "blobs" / weights_blob), weights_);
  // Snapshot entries are relative symlinks into ../../blobs/ (one more ../ per folder).
  EXPECT_EQ(fs::read_symlink(snapshot() / "config.json"), fs::path("../../blobs/" + config_blob));
  EXPECT_EQ(fs::read_symlink(snapshot() / "model.safetensors"), fs::path("../../blobs/" + weights_blob));
  EXPECT_EQ(fs::read_symlink(snapshot() / "tokenizer" / "special_tokens_map.json"),
            fs::path("../../../blobs/" + git_blob_sha1_hex(kSpecial)));
  EXPECT_EQ(sg::read_file(snapshot() / "model.safetensors"), weights_);
  EXPECT_FALSE(fs::exists(snapshot() / "pytorch_model.bin"));
  EXPECT_FALSE(fs::exists(snapshot() / "README.md"));
  EXPECT_EQ(incomplete_files(), 0u);
  EXPECT_TRUE(fs::exists(cache_ / ".locks" / repo_folder_name(kRepo)));

  // The pulled model is then found by name, offline.
  ::setenv("HF_HUB_CACHE", cache_.c_str(), 1);
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  EXPECT_EQ(resolve_model(kRepo), snapshot());
  EXPECT_EQ(resolve_model(kRepo + "@" + kCommit), snapshot());
}

TEST_F(HubPull, SecondPullDownloadsNothing) {
  pull(kRepo, options());
  hub_.clear_requests();
  const PullResult r = pull(kRepo, options());
  EXPECT_EQ(r.downloaded, 0u);
  EXPECT_EQ(r.bytes, 0u);
  const auto log = hub_.requests();
  ASSERT_EQ(log.size(), 1u);  // the file listing only
  EXPECT_EQ(log[0].path.rfind("/api/models/" + kRepo + "/revision/main", 0), 0u);
}

TEST_F(HubPull, ExistingBlobIsLinkedNotDownloaded) {
  pull(kRepo + "@" + kCommit, options());
  EXPECT_FALSE(fs::exists(storage() / "refs"));  // a commit hash needs no ref
  fs::remove(snapshot() / "model.safetensors");
  hub_.clear_requests();
  const PullResult r = pull(kRepo, options());
  EXPECT_EQ(r.downloaded, 0u);
  EXPECT_EQ(count_requests(/*cdn=*/true), 0u);
  EXPECT_EQ(sg::read_file(snapshot() / "model.safetensors"), weights_);
}

TEST_F(HubPull, ResumesACutTransferWithRange) {
  hub_.cut_transfers(100000, 1);
  const PullResult r = pull(kRepo, options());
  EXPECT_EQ(sg::read_file(snapshot() / "model.safetensors"), weights_);
  std::vector<std::string> ranges;
  for (const auto& q : hub_.requests())
    if (q.cdn) ranges.push_back(q.range);
  EXPECT_EQ(ranges, (std::vector<std::string>{"", "bytes=100000-"}));
  EXPECT_EQ(r.bytes, config_.size() + weights_.size() + kSpecial.size());  // nothing fetched twice
}

TEST_F(HubPull, InterruptedPullResumesInTheNextRun) {
  hub_.cut_transfers(50000, 100);  // every transfer breaks: this pull gives up
  const std::string msg = pull_error(kRepo, options());
  EXPECT_NE(msg.find("broke off"), std::string::npos) << msg;
  EXPECT_NE(msg.find("run the same pull again"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(snapshot() / "model.safetensors"));
  EXPECT_FALSE(fs::exists(storage() / "refs" / "main"));
  const fs::path partial = storage() / "blobs" / (sha256_hex(weights_) + ".incomplete");
  ASSERT_TRUE(fs::exists(partial));
  const auto kept = fs::file_size(partial);
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, weights_.size());

  hub_.cut_transfers(0, 0);
  hub_.clear_requests();
  pull(kRepo, options());
  EXPECT_EQ(sg::read_file(snapshot() / "model.safetensors"), weights_);
  bool resumed = false;
  for (const auto& q : hub_.requests()) resumed |= q.cdn && q.range == "bytes=" + std::to_string(kept) + "-";
  EXPECT_TRUE(resumed);
  EXPECT_EQ(incomplete_files(), 0u);
}

TEST_F(HubPull, ServerIgnoringRangeRestartsFromZero) {
  hub_.cut_transfers(100000, 1);
  hub_.ignore_range(true);
  pull(kRepo, options());
  EXPECT_EQ(sg::read_file(snapshot() / "model.safetensors"), weights_);
  EXPECT_EQ(incomplete_files(), 0u);
}

TEST_F(HubPull, WrongChecksumIsRejectedAndNothingLinked) {
  hub_.corrupt_lfs(true);
  const std::string msg = pull_error(kRepo, options());
  EXPECT_NE(msg.find("checksum mismatch for model.safetensors"), std::string::npos) << msg;
  EXPECT_NE(msg.find(sha256_hex(weights_)), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(snapshot() / "model.safetensors"));
  EXPECT_FALSE(fs::exists(storage() / "blobs" / sha256_hex(weights_)));
  EXPECT_FALSE(fs::exists(storage() / "refs" / "main"));
  // The corrupt download is gone; transfers cancelled alongside it may leave a
  // resumable (correct) prefix.
  EXPECT_FALSE(fs::exists(storage() / "blobs" / (sha256_hex(weights_) + ".incomplete")));
}

TEST_F(HubPull, TokenIsRequiredAndSentOnlyToTheEndpoint) {
  hub_.require_token("hf_secret");
  std::string msg = pull_error(kRepo, options());
  EXPECT_NE(msg.find("401"), std::string::npos) << msg;
  EXPECT_NE(msg.find("HF_TOKEN"), std::string::npos) << msg;

  PullOptions o = options();
  o.token = "hf_wrong";
  msg = pull_error(kRepo, o);
  EXPECT_NE(msg.find("rejected the token"), std::string::npos) << msg;

  hub_.clear_requests();
  ::setenv("HF_TOKEN", "hf_secret", 1);  // the usual way to pass it
  pull(kRepo, options());
  EXPECT_EQ(sg::read_file(snapshot() / "model.safetensors"), weights_);
  for (const auto& q : hub_.requests()) {
    if (q.cdn)
      EXPECT_EQ(q.authorization, "") << "token leaked to the CDN: " << q.path;
    else
      EXPECT_EQ(q.authorization, "Bearer hf_secret") << q.path;
  }
}

TEST_F(HubPull, UnknownRepositoryAndRevisionAreClearErrors) {
  std::string msg = pull_error("sg-test/missing", options());
  EXPECT_NE(msg.find("repository sg-test/missing not found"), std::string::npos) << msg;
  msg = pull_error(kRepo + "@v9", options());
  EXPECT_NE(msg.find("revision 'v9'"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(storage()));
}

TEST_F(HubPull, IncludePatternsSelectFiles) {
  PullOptions o = options();
  o.include = {"*.json"};
  const PullResult r = pull(kRepo, o);
  EXPECT_EQ(r.files.size(), 2u);
  EXPECT_FALSE(fs::exists(snapshot() / "model.safetensors"));
  EXPECT_EQ(count_requests(/*cdn=*/true), 0u);
  o.include = {"*.nothing"};
  EXPECT_NE(pull_error(kRepo, o).find("no file of"), std::string::npos);
}

TEST_F(HubPull, PathTraversalInTheListingWritesNothing) {
  hub_.inject_listing_name("../../x");
  PullOptions o = options();
  o.include = {"*"};
  const std::string msg = pull_error(kRepo, o);
  EXPECT_NE(msg.find("unsafe file '../../x'"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(dir_ / "x"));
  EXPECT_FALSE(fs::exists(cache_ / "x"));
  EXPECT_FALSE(fs::exists(storage() / "x"));
  EXPECT_FALSE(fs::exists(storage() / "snapshots"));
  for (const char* bad : {"../x", "a/../../x", "/etc/passwd", "a//b", "./a", "a\\..\\b", ""})
    EXPECT_FALSE(is_safe_repo_filename(bad)) << bad;
  EXPECT_TRUE(is_safe_repo_filename("tokenizer/vocab.json"));
}

TEST_F(HubPull, RedirectsToOtherSchemesAreRefused) {
  hub_.redirect_lfs_to("file:///etc/passwd");
  std::string msg = pull_error(kRepo, options());
  EXPECT_NE(msg.find("refusing to fetch file:///etc/passwd"), std::string::npos) << msg;
  EXPECT_FALSE(fs::exists(snapshot() / "model.safetensors"));
}

TEST_F(HubPull, OversizedHeadersAreCapped) {
  hub_.huge_headers(true);
  const std::string msg = pull_error(kRepo, options());
  EXPECT_NE(msg.find("headers exceed"), std::string::npos) << msg;
}

TEST_F(HubPull, OversizedListingIsCapped) {
  hub_.pad_listing(33u << 20);
  const std::string msg = pull_error(kRepo, options());
  EXPECT_NE(msg.find("exceeds"), std::string::npos) << msg;
}

TEST_F(HubPull, OfflineModeRefusesToPull) {
  ::setenv("HF_HUB_OFFLINE", "1", 1);
  const std::string msg = pull_error(kRepo, options());
  EXPECT_NE(msg.find("HF_HUB_OFFLINE"), std::string::npos) << msg;
  EXPECT_TRUE(hub_.requests().empty());
}

// The command line end to end (skipped when the streamgauge executable has not
// been built in this build tree: test_hub does not depend on every module).
TEST_F(HubPull, CommandLinePullPrintsTheSnapshot) {
  if (!fs::exists(sg::test::cli_path())) GTEST_SKIP() << "streamgauge is not built";
  const std::string env = "HF_ENDPOINT=" + hub_.endpoint() + " HF_HUB_CACHE=" + cache_.string() + " ";
  auto r = sg::test::run_command(env + sg::test::cli_path().string() + " pull " + kRepo +
                                 " --include '*.json, *.safetensors' -j 2");
  EXPECT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(r.output, snapshot().string() + "\n");
  EXPECT_EQ(sg::read_file(snapshot() / "model.safetensors"), weights_);

  r = sg::test::run_command(env + sg::test::cli_path().string() + " pull sg-test/missing");
  EXPECT_EQ(r.status, 2);
  EXPECT_NE(r.output.find("streamgauge: error: repository sg-test/missing not found"), std::string::npos) << r.output;
}

// A real HF Llama directory served as a repository: the default selection takes
// weights, configs and the SentencePiece model, and leaves other binaries alone.
TEST_F(HubPull, DefaultSelectionFetchesWhatStreamgaugeReads) {
  const fs::path dir = sg::test::shared_dir() / "models" / "stories260k";
  std::vector<LoopbackHub::File> files;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    const std::string name = fs::relative(e.path(), dir).generic_string();
    const bool lfs = e.path().extension() == ".safetensors" || e.path().extension() == ".bin";
    files.push_back({name, sg::read_file(e.path()), lfs});
  }
  hub_.add_repo("sg-test/stories260k", kCommit, files);
  PullResult r = pull("sg-test/stories260k", options());
  std::sort(r.files.begin(), r.files.end());
  EXPECT_EQ(r.files, (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                               "reference_generations.json", "special_tokens_map.json",
                                               "tokenizer.model", "tokenizer_config.json"}));
  const fs::path snap = cache_ / "models--sg-test--stories260k" / "snapshots" / kCommit;
  for (const auto& f : r.files) EXPECT_EQ(sg::read_file(snap / f), sg::read_file(dir / f)) << f;
  EXPECT_FALSE(fs::exists(snap / "original"));
}
