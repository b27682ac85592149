#pragma once
// Models by name: the HuggingFace hub cache as huggingface_hub lays it out.
//
//   <cache>/models--ORG--NAME/refs/<REVISION>          the commit a branch/tag pointed to
//   <cache>/models--ORG--NAME/snapshots/<COMMIT>/<file> relative symlink to ../../blobs/<etag>
//   <cache>/models--ORG--NAME/blobs/<etag>             file content (etag: sha256 or git blob id)
//
// <cache> is HF_HUB_CACHE, else HUGGINGFACE_HUB_CACHE (legacy), else HF_HOME/hub, else
// $XDG_CACHE_HOME/huggingface/hub, else ~/.cache/huggingface/hub (huggingface_hub's
// constants.py order). Resolution never touches the network.
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>

namespace sg::hub {

// MODEL argument -> a local directory containing config.json. An existing directory is
// returned as is; otherwise "ORG/NAME[@REVISION]" is looked up in the HF hub cache
// (HF_HUB_CACHE, else HF_HOME/hub, else ~/.cache/huggingface/hub). Throws sg::Error with a
// helpful message (how to get it: `streamgauge pull ORG/NAME`) when not found.
std::filesystem::path resolve_model(const std::string& arg);

// "ORG/NAME[@REVISION]" split and validated (repo ids as the hub allows them; a
// revision is a branch, tag or commit hash, default "main"). A bare "NAME" is a
// valid repo id too (e.g. "gpt2"). Throws sg::Error.
struct ModelRef {
  std::string repo_id;
  std::string revision = "main";
};
ModelRef parse_model_ref(const std::string& arg);

// Environment, read at each call (tests change it).
std::filesystem::path hub_cache_dir();
std::filesystem::path hf_home();
bool hub_offline();                      // HF_HUB_OFFLINE (or TRANSFORMERS_OFFLINE) is 1/ON/YES/TRUE
std::string hub_endpoint();              // HF_ENDPOINT without trailing '/', default https://huggingface.co
std::optional<std::string> hub_token();  // HF_TOKEN, else the token file (HF_TOKEN_PATH or HF_HOME/token)

// "models--ORG--NAME": the per-repository folder of the cache.
std::string repo_folder_name(const std::string& repo_id);
bool is_commit_hash(std::string_view s);  // 40 lower-case hex digits

// The snapshot folder of `ref` in `cache` (a commit hash directly, a branch or tag
// through refs/), or nullopt when it is not there.
std::optional<std::filesystem::path> find_snapshot(const std::filesystem::path& cache, const ModelRef& ref);

}  // namespace sg::hub
