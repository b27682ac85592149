#include "hub/resolve.h"

#include <pwd.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::hub {

namespace fs = std::filesystem;

namespace {

std::optional<std::string> env(const char* name) {
  const char* v = std::getenv(name);
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

fs::path home_dir() {
  if (auto h = env("HOME")) return *h;
  if (const passwd* pw = ::getpwuid(::getuid()); pw && pw->pw_dir) return pw->pw_dir;
  fail("cannot locate the HuggingFace cache: HOME is not set");
}

// "~/x" -> "$HOME/x", as Python's os.path.expanduser does for these variables.
fs::path expand_user(const std::string& p) {
  if (p == "~") return home_dir();
  if (p.rfind("~/", 0) == 0) return home_dir() / p.substr(2);
  return p;
}

std::string trim(std::string s) {
  size_t b = 0, e = s.size();
  while (b < e && std::isspace(static_cast<unsigned char>(s[b]))) ++b;
  while (e > b && std::isspace(static_cast<unsigned char>(s[e - 1]))) --e;
  return s.substr(b, e - b);
}

bool is_word_char(char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; }

// One part of a repo id: what huggingface_hub's validate_repo_id accepts, in ASCII:
// [\w.-]{1,96} starting and ending with a word character.
bool valid_repo_part(std::string_view s) {
  if (s.empty() || s.size() > 96) return false;
  for (char c : s)
    if (!is_word_char(c) && c != '-' && c != '.') return false;
  return is_word_char(s.front()) && is_word_char(s.back());
}

bool valid_repo_id(std::string_view id) {
  // "--" is the cache's separator and ".." a traversal; the hub forbids both.
  if (id.find("--") != std::string_view::npos || id.find("..") != std::string_view::npos) return false;
  if (id.size() >= 4 && id.substr(id.size() - 4) == ".git") return false;
  const size_t slash = id.find('/');
  if (slash == std::string_view::npos) return valid_repo_part(id);
  return valid_repo_part(id.substr(0, slash)) && valid_repo_part(id.substr(slash + 1));
}

// Branch, tag or commit: also a path below refs/, so no empty, "." or ".." part.
bool valid_revision(std::string_view rev) {
  if (rev.empty() || rev.size() > 255) return false;
  for (char c : rev)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-' && c != '/') return false;
  size_t start = 0;
  while (true) {
    const size_t end = rev.find('/', start);
    const std::string_view part = rev.substr(start, end == std::string_view::npos ? rev.npos : end - start);
    if (part.empty() || part == "." || part == "..") return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

// An argument that is obviously meant as a file system path (not a repo id).
bool looks_like_path(const std::string& arg) {
  if (arg.empty()) return true;
  const std::string name = arg.substr(0, arg.find('@'));
  return name.front() == '/' || name.front() == '.' || name.front() == '~' ||
         std::count(name.begin(), name.end(), '/') > 1;
}

}  // namespace

fs::path hf_home() {
  if (auto h = env("HF_HOME")) return expand_user(*h);
  if (auto x = env("XDG_CACHE_HOME")) return expand_user(*x) / "huggingface";
  return home_dir() / ".cache" / "huggingface";
}

fs::path hub_cache_dir() {
  if (auto c = env("HF_HUB_CACHE")) return expand_user(*c);
  if (auto c = env("HUGGINGFACE_HUB_CACHE")) return expand_user(*c);
  return hf_home() / "hub";
}

bool hub_offline() {
  auto v = env("HF_HUB_OFFLINE");
  if (!v) v = env("TRANSFORMERS_OFFLINE");
  if (!v) return false;
  std::string u = *v;
  for (char& c : u) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return u == "1" || u == "ON" || u == "YES" || u == "TRUE";
}

std::string hub_endpoint() {
  std::string e = env("HF_ENDPOINT").value_or("https://huggingface.co");
  while (!e.empty() && e.back() == '/') e.pop_back();
  return e;
}

std::optional<std::string> hub_token() {
  for (const char* name : {"HF_TOKEN", "HUGGING_FACE_HUB_TOKEN"}) {
    if (auto t = env(name)) {
      std::string s = trim(*t);
      if (!s.empty()) return s;
    }
  }
  const fs::path file = env("HF_TOKEN_PATH") ? expand_user(*env("HF_TOKEN_PATH")) : hf_home() / "token";
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return std::nullopt;
  std::string s = trim(read_file(file));
  if (s.empty()) return std::nullopt;
  return s;
}

std::string repo_folder_name(const std::string& repo_id) {
  std::string out = "models";
  size_t start = 0;
  while (true) {
    const size_t slash = repo_id.find('/', start);
    out += "--" + repo_id.substr(start, slash == std::string::npos ? std::string::npos : slash - start);
    if (slash == std::string::npos) return out;
    start = slash + 1;
  }
}

bool is_commit_hash(std::string_view s) {
  if (s.size() != 40) return false;
  for (char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c)) && (c < 'a' || c > 'f')) return false;
  return true;
}

ModelRef parse_model_ref(const std::string& arg) {
  ModelRef ref;
  const size_t at = arg.find('@');
  ref.repo_id = arg.substr(0, at);
  if (at != std::string::npos) ref.revision = arg.substr(at + 1);
  if (!valid_repo_id(ref.repo_id))
    fail("'{}' is not a model name of the form ORG/NAME[@REVISION] (letters, digits, '.', '_', '-')", arg);
  if (!valid_revision(ref.revision))
    fail("'{}' has an invalid revision '{}' (expected a branch, tag or commit hash)", arg, ref.revision);
  return ref;
}

std::optional<fs::path> find_snapshot(const fs::path& cache, const ModelRef& ref) {
  const fs::path storage = cache / repo_folder_name(ref.repo_id);
  std::string commit = ref.revision;
  std::error_code ec;
  if (!is_commit_hash(commit)) {
    const fs::path ref_file = storage / "refs" / ref.revision;
    if (!fs::is_regular_file(ref_file, ec)) return std::nullopt;
    // huggingface_hub writes the bare hash; tolerate a trailing newline from hand edits.
    commit = trim(read_file(ref_file));
    if (!is_commit_hash(commit)) fail("{} does not hold a commit hash (a corrupt cache entry?)", ref_file.string());
  }
  const fs::path snapshot = storage / "snapshots" / commit;
  if (!fs::is_directory(snapshot, ec)) return std::nullopt;
  return snapshot;
}

fs::path resolve_model(const std::string& arg) {
  std::error_code ec;
  if (!arg.empty() && fs::is_directory(arg, ec)) return arg;
  if (looks_like_path(arg)) fail("model directory '{}' does not exist", arg);
  const ModelRef ref = parse_model_ref(arg);
  const fs::path cache = hub_cache_dir();
  const auto snapshot = find_snapshot(cache, ref);
  if (!snapshot) {
    const char* offline = hub_offline() ? " (HF_HUB_OFFLINE is set: unset it first)" : "";
    fail(
        "model '{}' is neither a local directory nor in the HuggingFace cache {}; download it with "
        "`streamgauge pull {}`{}",
        arg, cache.string(), arg, offline);
  }
  if (!fs::is_regular_file(*snapshot / "config.json", ec))
    fail(
        "the cached snapshot {} of '{}' has no config.json (an incomplete download?); complete it with "
        "`streamgauge pull {}`",
        snapshot->string(), arg, arg);
  return *snapshot;
}

}  // namespace sg::hub
