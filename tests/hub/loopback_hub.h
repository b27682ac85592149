#pragma once
// A miniature HuggingFace hub for the tests: an HTTP/1.1 server on 127.0.0.1
// (ephemeral ports, one thread, one connection at a time, bounded requests)
// speaking the hub's URL scheme:
//   GET  /api/models/{repo}/revision/{rev}[?blobs=true]  the file listing (JSON)
//   HEAD|GET /{repo}/resolve/{rev}/{file}                 regular files: 200 + ETag (git blob id);
//                                                         LFS files: 302 to the "CDN" + X-Linked-Etag/-Size
//   GET  /cdn/{sha256}  (on a second port = another origin) the LFS content, with Range support
// Knobs make it misbehave the ways the client must survive (cut transfers,
// corrupt content, hostile file names, oversized headers, bad redirects), and
// it logs every request so tests can check what was (not) fetched.
#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace sg::test {

class LoopbackHub {
 public:
  struct File {
    std::string name;
    std::string content;
    bool lfs = false;
  };
  struct Request {
    bool cdn = false;
    std::string method, path, authorization, range;
  };

  LoopbackHub();
  ~LoopbackHub();
  LoopbackHub(const LoopbackHub&) = delete;
  LoopbackHub& operator=(const LoopbackHub&) = delete;

  std::string endpoint() const;  // http://127.0.0.1:<port>
  void add_repo(const std::string& repo_id, const std::string& commit, std::vector<File> files);

  void require_token(const std::string& token);       // /api and /resolve answer 401 without it
  void cut_transfers(size_t after_bytes, int times);  // next `times` CDN bodies stop early
  void corrupt_lfs(bool on);                          // the CDN serves one flipped byte
  void inject_listing_name(const std::string& name);  // an extra (hostile) file name in listings
  void redirect_lfs_to(const std::string& url);       // Location of LFS resolves
  void huge_headers(bool on);                         // resolve answers carry 100 kB of headers
  void pad_listing(size_t bytes);                     // listings grow by this many bytes
  void ignore_range(bool on);                         // the CDN answers Range requests with 200

  std::vector<Request> requests() const;
  void clear_requests();

 private:
  struct Repo {
    std::string id, commit;
    std::vector<File> files;
  };
  void run();
  void handle(int fd, bool cdn);
  struct Response {
    std::string head, body;
    size_t send_body = std::string::npos;  // bytes of body actually sent (a cut transfer sends fewer)
  };
  Response respond(const Request& req, bool head);

  int hub_fd_ = -1, cdn_fd_ = -1;
  int hub_port_ = 0, cdn_port_ = 0;
  std::atomic<bool> stop_{false};
  mutable std::mutex mutex_;  // guards everything below
  std::vector<Repo> repos_;
  std::string token_, injected_name_, lfs_redirect_;
  size_t cut_after_ = 0;
  int cuts_left_ = 0;
  size_t listing_padding_ = 0;
  bool corrupt_ = false, huge_headers_ = false, ignore_range_ = false;
  std::vector<Request> log_;
  std::thread thread_;
};

}  // namespace sg::test
