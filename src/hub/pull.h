#pragma once
// `streamgauge pull`: fills the HuggingFace hub cache exactly as huggingface_hub's
// snapshot_download does, so Python's transformers finds the files afterwards:
//
//  1. GET {endpoint}/api/models/{repo}/revision/{rev}?blobs=true lists the files
//     of the revision with its commit hash and each file's size and hash
//     (lfs.sha256 for LFS files, blobId = git blob id for the others);
//  2. for each selected file missing from snapshots/{commit}/: HEAD
//     {endpoint}/{repo}/resolve/{commit}/{file} gives X-Repo-Commit, the etag
//     (X-Linked-Etag, else ETag) that names the blob, the size (X-Linked-Size,
//     else Content-Length) and, for LFS files, a redirect to the CDN;
//  3. the content streams into blobs/{etag}.incomplete (resumed with Range when a
//     previous transfer broke off), is checked against the listing's hash, then
//     renamed to blobs/{etag} and linked from snapshots/{commit}/{file} by a
//     relative symlink;
//  4. refs/{rev} receives the commit hash once every file is in place.
// A blob is written under the same lock file huggingface_hub takes
// (.locks/models--ORG--NAME/{etag}.lock), so concurrent Python downloads are safe.
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sg::hub {

struct PullOptions {
  // Glob patterns (fnmatch, '*' also matches '/'); empty: default_include_patterns().
  std::vector<std::string> include;
  std::filesystem::path cache_dir;   // empty: hub_cache_dir()
  std::string endpoint;              // empty: hub_endpoint()
  std::optional<std::string> token;  // nullopt: hub_token()
  int jobs = 4;                      // files downloaded in parallel
  bool show_progress = true;         // a progress bar when stderr is a terminal
};

struct PullResult {
  std::filesystem::path snapshot;  // snapshots/{commit}
  std::string commit;
  std::vector<std::string> files;  // the selected files, repo-relative
  size_t downloaded = 0;           // files fetched over the network this time
  uint64_t bytes = 0;              // bytes received over the network
};

// Downloads MODEL ("ORG/NAME[@REVISION]"); throws sg::Error with a one-line message.
PullResult pull(const std::string& model, const PullOptions& options = {});

// What streamgauge reads: safetensors weights, JSON configs, tokenizer files.
std::vector<std::string> default_include_patterns();

// A repository file name that is safe to place below snapshots/{commit}/:
// relative, '/'-separated, no empty, "." or ".." part, no backslash or control character.
bool is_safe_repo_filename(std::string_view name);

}  // namespace sg::hub
