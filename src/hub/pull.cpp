#include "hub/pull.h"

#include <fcntl.h>
#include <fnmatch.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <exception>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "hub/digest.h"
#include "hub/http.h"
#include "hub/resolve.h"
#include "hub/transfer_progress.h"
#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::hub {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kMaxListingBytes = 32 << 20;  // a listing of ~100k files; real repos are far smaller
constexpr int kMaxResumes = 3;                 // broken transfers resumed within one pull

struct RepoFile {
  std::string name;
  std::optional<uint64_t> size;
  std::string lfs_sha256;  // LFS files: sha256 of the content
  std::string blob_id;     // git blob id (of the LFS pointer for LFS files)
};

struct Listing {
  std::string commit;
  std::vector<RepoFile> files;
};

// What the resolve endpoint says about one file.
struct FileMeta {
  std::string etag;  // names the blob
  uint64_t size = 0;
  std::string location;  // where the content is (the CDN for LFS files)
};

struct Context {
  const HttpClient* http = nullptr;
  ModelRef ref;
  std::string commit;
  fs::path cache, storage, snapshot;
  TransferProgress* progress = nullptr;
  std::atomic<bool> failed{false};  // one file failed: the others stop
  std::atomic<uint64_t> bytes{0};
  std::atomic<size_t> downloaded{0};
};

bool is_hex(std::string_view s, size_t n) {
  return s.size() == n &&
         std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

std::optional<uint64_t> parse_u64(const std::string* s) {
  if (!s || s->empty()) return std::nullopt;
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s->data(), s->data() + s->size(), v);
  if (ec != std::errc() || end != s->data() + s->size()) return std::nullopt;
  return v;
}

bool is_pickle_weight(const std::string& name) {
  for (const char* ext : {".bin", ".pt", ".pth", ".ckpt"}) {
    const size_t n = std::strlen(ext);
    if (name.size() >= n && name.compare(name.size() - n, n, ext) == 0) return true;
  }
  return false;
}

// The hub's JSON error message ({"error": "..."}), if any, for error reports.
std::string hub_message(const HttpResponse& r) {
  json j = json::parse(r.body, nullptr, false);
  if (j.is_object() && j.contains("error") && j["error"].is_string()) {
    std::string m = j["error"].get<std::string>().substr(0, 200);
    std::replace(m.begin(), m.end(), '\n', ' ');
    return ": " + m;
  }
  return "";
}

[[noreturn]] void fail_status(const Context& ctx, const HttpResponse& r, const std::string& what) {
  const std::string& repo = ctx.ref.repo_id;
  const std::string& endpoint = ctx.http->endpoint();
  const std::string* code = r.header("x-error-code");
  switch (r.status) {
    case 401:
      if (ctx.http->has_token())
        fail("{} rejected the token for {} (401 Unauthorized); check HF_TOKEN or the token file", endpoint, repo);
      fail(
          "{} is private, gated or missing at {} (401 Unauthorized); set HF_TOKEN or log in with "
          "`huggingface-cli login`",
          repo, endpoint);
    case 403:
      fail("access to {} is forbidden (403){}; a gated model must be accepted on its hub page first", repo,
           hub_message(r));
    case 404:
      if (code && *code == "RevisionNotFound")
        fail("revision '{}' of {} not found at {}", ctx.ref.revision, repo, endpoint);
      if (code && *code == "EntryNotFound") fail("{} of {} not found at {} (404)", what, repo, endpoint);
      fail("repository {} not found at {} (404)", repo, endpoint);
    default: fail("{} of {}: HTTP {} from {}{}", what, repo, r.status, r.url, hub_message(r));
  }
}

// ---- listing ---------------------------------------------------------------

Listing fetch_listing(const Context& ctx) {
  HttpRequest req;
  req.url = ctx.http->endpoint() + "/api/models/" + url_escape(ctx.ref.repo_id, true) + "/revision/" +
            url_escape(ctx.ref.revision, false) + "?blobs=true";
  req.max_body = kMaxListingBytes;
  const HttpResponse r = ctx.http->send(req);
  if (!r.ok_transport()) fail("cannot reach the hub at {}: {}", ctx.http->endpoint(), r.error);
  if (r.status != 200) fail_status(ctx, r, "the file listing");

  const std::string& repo = ctx.ref.repo_id;
  json j = json::parse(r.body, nullptr, false);
  if (!j.is_object()) fail("the hub's file listing of {} is not a JSON object", repo);
  Listing out;
  if (!j.contains("sha") || !j["sha"].is_string() || !is_commit_hash(j["sha"].get<std::string>()))
    fail("the hub's file listing of {} has no valid commit hash (field 'sha')", repo);
  out.commit = j["sha"].get<std::string>();
  if (!j.contains("siblings") || !j["siblings"].is_array())
    fail("the hub's file listing of {} has no file list (field 'siblings')", repo);
  for (const json& s : j["siblings"]) {
    if (!s.is_object() || !s.contains("rfilename") || !s["rfilename"].is_string())
      fail("the hub's file listing of {} has an entry without a file name (field 'siblings[].rfilename')", repo);
    RepoFile f;
    f.name = s["rfilename"].get<std::string>();
    // Checked for every entry, selected or not: a listing that tries to escape
    // the snapshot folder is not trusted at all.
    if (!is_safe_repo_filename(f.name))
      fail("the hub's file listing of {} names an unsafe file '{}'; refusing to download", repo, f.name);
    if (s.contains("size") && s["size"].is_number_unsigned()) f.size = s["size"].get<uint64_t>();
    if (s.contains("blobId")) {
      if (!s["blobId"].is_string() || !is_hex(s["blobId"].get<std::string>(), 40))
        fail("the hub's file listing of {} has an invalid blobId for {}", repo, f.name);
      f.blob_id = s["blobId"].get<std::string>();
    }
    if (s.contains("lfs") && !s["lfs"].is_null()) {
      const json& lfs = s["lfs"];
      if (!lfs.is_object() || !lfs.contains("sha256") || !lfs["sha256"].is_string() ||
          !is_hex(lfs["sha256"].get<std::string>(), 64))
        fail("the hub's file listing of {} has an invalid lfs.sha256 for {}", repo, f.name);
      f.lfs_sha256 = lfs["sha256"].get<std::string>();
      if (lfs.contains("size") && lfs["size"].is_number_unsigned()) f.size = lfs["size"].get<uint64_t>();
    }
    out.files.push_back(std::move(f));
  }
  return out;
}

std::vector<RepoFile> select_files(const Listing& listing, const std::vector<std::string>& include,
                                   const ModelRef& ref) {
  std::vector<std::string> patterns = include.empty() ? default_include_patterns() : include;
  for (auto& p : patterns)
    if (!p.empty() && p.back() == '/') p += '*';  // "dir/" means everything below it, as in huggingface_hub
  const bool has_safetensors = std::any_of(listing.files.begin(), listing.files.end(), [](const RepoFile& f) {
    return f.name.size() > 12 && f.name.compare(f.name.size() - 12, 12, ".safetensors") == 0;
  });
  if (!has_safetensors && include.empty())
    fail(
        "{}@{} has no .safetensors weights (streamgauge reads only safetensors); use --include to fetch other "
        "files anyway",
        ref.repo_id, ref.revision);
  std::vector<RepoFile> out;
  for (const RepoFile& f : listing.files) {
    // Pickled weights duplicate the safetensors ones and streamgauge cannot read them.
    if (has_safetensors && is_pickle_weight(f.name)) continue;
    if (std::any_of(patterns.begin(), patterns.end(),
                    [&](const std::string& p) { return ::fnmatch(p.c_str(), f.name.c_str(), 0) == 0; }))
      out.push_back(f);
  }
  if (out.empty()) fail("no file of {}@{} matches the include patterns", ref.repo_id, ref.revision);
  return out;
}

// ---- one file --------------------------------------------------------------

FileMeta fetch_meta(const Context& ctx, const RepoFile& f) {
  HttpRequest req;
  req.head = true;
  req.url = ctx.http->endpoint() + "/" + url_escape(ctx.ref.repo_id, true) + "/resolve/" + ctx.commit + "/" +
            url_escape(f.name, true);
  req.headers = {"Accept-Encoding: identity"};  // the real size, not a compressed one
  // A renamed repository redirects within the hub (followed); an LFS file
  // redirects to its CDN: that URL is where the content is downloaded from.
  req.redirects = Redirects::SameOrigin;
  req.keep_going = [&] { return !ctx.failed; };
  const HttpResponse r = ctx.http->send(req);
  if (r.aborted) fail("cancelled");
  if (!r.ok_transport()) fail("cannot reach the hub at {}: {}", ctx.http->endpoint(), r.error);
  if (r.status >= 400 || r.status < 200) fail_status(ctx, r, f.name);

  const std::string* commit = r.header("x-repo-commit");
  if (!commit || *commit != ctx.commit)
    fail("{} of {}: the hub did not confirm commit {} (X-Repo-Commit: {})", f.name, ctx.ref.repo_id, ctx.commit,
         commit ? *commit : "missing");
  const std::string* raw = r.header("x-linked-etag");
  if (!raw) raw = r.header("etag");
  std::string etag = raw ? *raw : "";
  if (etag.rfind("W/", 0) == 0) etag.erase(0, 2);
  etag.erase(std::remove(etag.begin(), etag.end(), '"'), etag.end());
  // The etag becomes a file name in blobs/: only a bare hash is acceptable.
  if (!is_hex(etag, 64) && !is_hex(etag, 40))
    fail("{} of {}: the hub sent no usable ETag ('{}')", f.name, ctx.ref.repo_id, raw ? *raw : "");
  const std::string* size_header = r.header("x-linked-size");
  if (!size_header) size_header = r.header("content-length");
  const auto size = parse_u64(size_header);
  if (!size) fail("{} of {}: the hub sent no file size", f.name, ctx.ref.repo_id);

  FileMeta m{etag, *size, r.url};
  if (r.status >= 300) {
    const std::string* location = r.header("location");
    if (!location) fail("{} of {}: a redirect without a Location", f.name, ctx.ref.repo_id);
    m.location = resolve_url(r.url, *location);
  }
  return m;
}

// flock(2) on the lock file huggingface_hub uses for the same blob (Python's
// filelock takes flock on Unix), so a Python download and ours never interleave.
class BlobLock {
 public:
  explicit BlobLock(const fs::path& path) {
    fs::create_directories(path.parent_path());
    fd_ = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0) fail("cannot create the lock file {}: {}", path.string(), std::strerror(errno));
    while (::flock(fd_, LOCK_EX) != 0) {
      if (errno != EINTR) {
        ::close(fd_);
        fail("cannot lock {}: {}", path.string(), std::strerror(errno));
      }
    }
  }
  ~BlobLock() {
    ::flock(fd_, LOCK_UN);
    ::close(fd_);
  }
  BlobLock(const BlobLock&) = delete;
  BlobLock& operator=(const BlobLock&) = delete;

 private:
  int fd_ = -1;
};

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }

 private:
  int fd_;
};

bool pwrite_all(int fd, const char* data, size_t n, uint64_t offset) {
  while (n > 0) {
    const ssize_t w = ::pwrite(fd, data, n, static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
    offset += static_cast<uint64_t>(w);
  }
  return true;
}

// Streams the content into blobs/{etag}.incomplete (resuming what a broken
// transfer left there), verifies it, and renames it to `blob`. A failure leaves
// either a resumable .incomplete file or nothing; never a wrong blob.
void download_blob(Context& ctx, const RepoFile& f, const FileMeta& meta, const fs::path& blob) {
  fs::path incomplete = blob;
  incomplete += ".incomplete";
  // A transfer cancelled before its first byte leaves an empty .incomplete that
  // helps no later resume: remove it (a non-empty one is kept for resuming).
  struct RemoveIfEmpty {
    const fs::path& path;
    ~RemoveIfEmpty() {
      std::error_code ec;
      if (fs::file_size(path, ec) == 0 && !ec) fs::remove(path, ec);
    }
  } cleanup{incomplete};
  Fd fd(::open(incomplete.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666));
  if (fd.get() < 0) fail("cannot write {}: {}", incomplete.string(), std::strerror(errno));
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) fail("cannot stat {}: {}", incomplete.string(), std::strerror(errno));

  // The hash the hub's listing promises: sha256 for LFS files, the git blob id otherwise.
  const bool lfs = !f.lfs_sha256.empty() || (f.blob_id.empty() && meta.etag.size() == 64);
  const std::string expected = !f.lfs_sha256.empty() ? f.lfs_sha256 : !f.blob_id.empty() ? f.blob_id : meta.etag;
  Digest digest(lfs ? Digest::Kind::Sha256 : Digest::Kind::GitBlobSha1, meta.size);

  uint64_t offset = static_cast<uint64_t>(st.st_size);
  if (offset > meta.size) {
    if (::ftruncate(fd.get(), 0) != 0) fail("cannot truncate {}", incomplete.string());
    offset = 0;
  }
  // Resuming: the kept prefix enters the digest first.
  {
    std::vector<char> buf(1 << 20);
    for (uint64_t pos = 0; pos < offset;) {
      const ssize_t n =
          ::pread(fd.get(), buf.data(), std::min<uint64_t>(buf.size(), offset - pos), static_cast<off_t>(pos));
      if (n <= 0) fail("cannot read {}: {}", incomplete.string(), std::strerror(errno));
      digest.update(buf.data(), static_cast<size_t>(n));
      pos += static_cast<uint64_t>(n);
    }
  }
  ctx.progress->skip_bytes(offset);

  for (int attempt = 0; offset < meta.size; ++attempt) {
    std::string problem;  // set by the body callback, which must not throw
    bool first = true;
    HttpRequest req;
    req.url = meta.location;
    if (offset > 0) req.headers.push_back(fmt::format("Range: bytes={}-", offset));
    req.keep_going = [&] { return !ctx.failed; };
    req.on_body = [&](const HttpResponse& head, std::string_view chunk) {
      if (first) {
        first = false;
        if (head.status == 206) {
          const std::string* range = head.header("content-range");
          if (!range || range->rfind(fmt::format("bytes {}-", offset), 0) != 0) {
            problem = "the server answered the Range request with another range";
            return false;
          }
        } else if (offset > 0) {  // the server ignored Range: the whole file comes again
          if (::ftruncate(fd.get(), 0) != 0) {
            problem = "cannot truncate " + incomplete.string();
            return false;
          }
          ctx.progress->discard_bytes(offset);
          offset = 0;
          digest.reset();
        }
      }
      if (offset + chunk.size() > meta.size) {
        problem = fmt::format("the server sent more than the {} bytes it announced", meta.size);
        return false;
      }
      if (!pwrite_all(fd.get(), chunk.data(), chunk.size(), offset)) {
        problem = fmt::format("cannot write {}: {}", incomplete.string(), std::strerror(errno));
        return false;
      }
      digest.update(chunk.data(), chunk.size());
      offset += chunk.size();
      ctx.bytes += chunk.size();
      ctx.progress->add_bytes(chunk.size());
      return true;
    };
    const HttpResponse r = ctx.http->send(req);
    if (r.aborted) fail("{} of {}: {}", f.name, ctx.ref.repo_id, problem.empty() ? "cancelled" : problem);
    if (!r.error.empty()) {
      if (r.interrupted && attempt < kMaxResumes) continue;  // resume from `offset`
      fail("the download of {} of {} broke off at {} of {} bytes ({}); run the same pull again to resume", f.name,
           ctx.ref.repo_id, offset, meta.size, r.error);
    }
    if (r.status == 416 && offset > 0 && attempt < kMaxResumes) {  // the kept prefix is unusable
      if (::ftruncate(fd.get(), 0) != 0) fail("cannot truncate {}", incomplete.string());
      ctx.progress->discard_bytes(offset);
      offset = 0;
      digest.reset();
      continue;
    }
    if (r.status < 200 || r.status >= 300) fail_status(ctx, r, f.name);
    if (offset < meta.size)
      fail("the download of {} of {} ended at {} of {} bytes; run the same pull again to resume", f.name,
           ctx.ref.repo_id, offset, meta.size);
  }

  const std::string actual = digest.hex();
  if (actual != expected) {
    ::close(fd.release());
    std::error_code ec;
    fs::remove(incomplete, ec);
    fail(
        "checksum mismatch for {} of {}: the hub's metadata says {} {}, the downloaded bytes give {}; the "
        "download was discarded and nothing was linked",
        f.name, ctx.ref.repo_id, lfs ? "sha256" : "git blob id", expected, actual);
  }
  if (::fsync(fd.get()) != 0) fail("cannot write {}: {}", incomplete.string(), std::strerror(errno));
  ::close(fd.release());
  std::error_code ec;
  fs::rename(incomplete, blob, ec);
  if (ec) fail("cannot move {} into place: {}", incomplete.string(), ec.message());
}

// snapshots/{commit}/{name} -> ../../blobs/{etag} (one more "../" per folder in
// name): relative, as huggingface_hub links, so the cache survives being moved.
void link_pointer(const fs::path& pointer, const std::string& name, const std::string& etag) {
  std::string target;
  for (size_t i = 0, ups = 2 + std::count(name.begin(), name.end(), '/'); i < ups; ++i) target += "../";
  target += "blobs/" + etag;
  fs::create_directories(pointer.parent_path());
  static std::atomic<unsigned> counter{0};
  fs::path tmp = pointer;
  tmp += fmt::format(".tmp-link-{}-{}", ::getpid(), counter++);
  std::error_code ec;
  fs::create_symlink(target, tmp, ec);
  if (!ec) fs::rename(tmp, pointer, ec);  // atomic replacement of a stale link
  if (ec) {
    fs::remove(tmp, ec);
    fail("cannot link {}: {}", pointer.string(), ec.message());
  }
}

void fetch_file(Context& ctx, const RepoFile& f) {
  const FileMeta meta = fetch_meta(ctx, f);
  const std::string expected = !f.lfs_sha256.empty() ? f.lfs_sha256 : f.blob_id;
  if (!expected.empty() && meta.etag != expected)
    fail("{} of {}: the hub's ETag {} does not match its file listing ({})", f.name, ctx.ref.repo_id, meta.etag,
         expected);
  if (f.size && *f.size != meta.size)
    fail("{} of {}: the hub announces {} bytes but its file listing says {}", f.name, ctx.ref.repo_id, meta.size,
         *f.size);

  const fs::path blob = ctx.storage / "blobs" / meta.etag;
  {
    BlobLock lock(ctx.cache / ".locks" / repo_folder_name(ctx.ref.repo_id) / (meta.etag + ".lock"));
    std::error_code ec;
    if (!fs::exists(blob, ec)) {
      download_blob(ctx, f, meta, blob);
      ++ctx.downloaded;
    } else {
      ctx.progress->skip_bytes(meta.size);
    }
  }
  link_pointer(ctx.snapshot / f.name, f.name, meta.etag);
  ctx.progress->file_done();
}

}  // namespace

std::vector<std::string> default_include_patterns() {
  return {"*.safetensors", "*.json", "tokenizer*", "*.model", "*.tiktoken", "merges.txt", "vocab.txt"};
}

bool is_safe_repo_filename(std::string_view name) {
  if (name.empty() || name.size() > 1024 || name.front() == '/') return false;
  for (char c : name)
    if (static_cast<unsigned char>(c) < 0x20 || c == '\\' || c == 0x7f) return false;
  size_t start = 0;
  while (true) {
    const size_t end = name.find('/', start);
    const std::string_view part = name.substr(start, end == std::string_view::npos ? name.npos : end - start);
    if (part.empty() || part == "." || part == ".." || part.size() > 255) return false;
    if (end == std::string_view::npos) return true;
    start = end + 1;
  }
}

PullResult pull(const std::string& model, const PullOptions& options) {
  Context ctx;
  ctx.ref = parse_model_ref(model);
  if (hub_offline()) fail("HF_HUB_OFFLINE is set, so {} cannot be downloaded; unset it to pull", model);
  const HttpClient http(options.endpoint.empty() ? hub_endpoint() : options.endpoint,
                        options.token ? options.token : hub_token());
  ctx.http = &http;
  ctx.cache = options.cache_dir.empty() ? hub_cache_dir() : options.cache_dir;
  ctx.storage = ctx.cache / repo_folder_name(ctx.ref.repo_id);

  const Listing listing = fetch_listing(ctx);
  ctx.commit = listing.commit;
  ctx.snapshot = ctx.storage / "snapshots" / ctx.commit;
  const std::vector<RepoFile> selected = select_files(listing, options.include, ctx.ref);

  // Files already linked from the snapshot need no network at all (huggingface_hub
  // short-cuts them the same way when the revision is a commit hash).
  std::vector<RepoFile> todo;
  uint64_t total = 0;
  for (const RepoFile& f : selected) {
    std::error_code ec;
    if (fs::is_regular_file(ctx.snapshot / f.name, ec)) continue;
    total += f.size.value_or(0);
    todo.push_back(f);
  }

  PullResult result;
  result.commit = ctx.commit;
  result.snapshot = ctx.snapshot;
  for (const RepoFile& f : selected) result.files.push_back(f.name);

  if (!todo.empty()) {
    std::error_code ec;
    fs::create_directories(ctx.storage / "blobs", ec);
    fs::create_directories(ctx.snapshot, ec);
    if (ec) fail("cannot create {}: {}", ctx.snapshot.string(), ec.message());

    TransferProgress progress("pull " + ctx.ref.repo_id, total, todo.size(), options.show_progress);
    ctx.progress = &progress;
    std::atomic<size_t> next{0};
    std::mutex error_mutex;
    std::exception_ptr first_error;
    auto worker = [&] {
      while (!ctx.failed) {
        const size_t i = next++;
        if (i >= todo.size()) return;
        try {
          fetch_file(ctx, todo[i]);
        } catch (...) {
          std::lock_guard lock(error_mutex);
          if (!first_error) first_error = std::current_exception();
          ctx.failed = true;  // after first_error: a cancelled transfer never wins
        }
      }
    };
    const size_t n_threads = std::clamp<size_t>(static_cast<size_t>(std::max(options.jobs, 1)), 1, todo.size());
    std::vector<std::thread> threads;
    for (size_t t = 1; t < n_threads; ++t) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    if (first_error) std::rethrow_exception(first_error);
  }

  // Like snapshot_download: a branch or tag name records the commit it resolved to.
  // Written last, so a failed pull never makes a name point at a partial snapshot.
  if (ctx.ref.revision != ctx.commit) {
    const fs::path ref = ctx.storage / "refs" / ctx.ref.revision;  // a revision may have slashes (refs/pr/1)
    std::error_code ec;
    fs::create_directories(ref.parent_path(), ec);
    if (ec) fail("cannot create {}: {}", ref.parent_path().string(), ec.message());
    write_file_atomic(ref, ctx.commit);
  }
  result.downloaded = ctx.downloaded;
  result.bytes = ctx.bytes;
  return result;
}

}  // namespace sg::hub
