#include "loopback_hub.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cctype>
#include <stdexcept>

#include "hub/digest.h"

namespace sg::test {

namespace {

constexpr size_t kMaxRequestBytes = 16 * 1024;

int listen_loopback(int& port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error("socket() failed");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);  // 127.0.0.1 only
  addr.sin_port = 0;                              // an ephemeral port
  socklen_t len = sizeof addr;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(fd, 16) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    ::close(fd);
    throw std::runtime_error("cannot listen on 127.0.0.1");
  }
  port = ntohs(addr.sin_port);
  return fd;
}

bool send_all(int fd, const char* data, size_t n) {
  while (n > 0) {
    const ssize_t w = ::send(fd, data, n, MSG_NOSIGNAL);
    if (w <= 0) return false;
    data += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

std::string percent_decode(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size() && std::isxdigit(static_cast<unsigned char>(s[i + 1])) &&
        std::isxdigit(static_cast<unsigned char>(s[i + 2]))) {
      out += static_cast<char>(std::stoi(s.substr(i + 1, 2), nullptr, 16));
      i += 2;
    } else {
      out += s[i];
    }
  }
  return out;
}

std::string status_text(int status) {
  switch (status) {
    case 200: return "OK";
    case 206: return "Partial Content";
    case 302: return "Found";
    case 401: return "Unauthorized";
    case 404: return "Not Found";
    default: return "Error";
  }
}

}  // namespace

LoopbackHub::LoopbackHub() {
  hub_fd_ = listen_loopback(hub_port_);
  cdn_fd_ = listen_loopback(cdn_port_);
  thread_ = std::thread([this] { run(); });
}

LoopbackHub::~LoopbackHub() {
  stop_ = true;
  thread_.join();
  ::close(hub_fd_);
  ::close(cdn_fd_);
}

std::string LoopbackHub::endpoint() const { return fmt::format("http://127.0.0.1:{}", hub_port_); }

void LoopbackHub::add_repo(const std::string& repo_id, const std::string& commit, std::vector<File> files) {
  std::lock_guard lock(mutex_);
  repos_.push_back({repo_id, commit, std::move(files)});
}

void LoopbackHub::require_token(const std::string& token) {
  std::lock_guard lock(mutex_);
  token_ = token;
}

void LoopbackHub::cut_transfers(size_t after_bytes, int times) {
  std::lock_guard lock(mutex_);
  cut_after_ = after_bytes;
  cuts_left_ = times;
}

void LoopbackHub::corrupt_lfs(bool on) {
  std::lock_guard lock(mutex_);
  corrupt_ = on;
}

void LoopbackHub::inject_listing_name(const std::string& name) {
  std::lock_guard lock(mutex_);
  injected_name_ = name;
}

void LoopbackHub::redirect_lfs_to(const std::string& url) {
  std::lock_guard lock(mutex_);
  lfs_redirect_ = url;
}

void LoopbackHub::huge_headers(bool on) {
  std::lock_guard lock(mutex_);
  huge_headers_ = on;
}

void LoopbackHub::pad_listing(size_t bytes) {
  std::lock_guard lock(mutex_);
  listing_padding_ = bytes;
}

void LoopbackHub::ignore_range(bool on) {
  std::lock_guard lock(mutex_);
  ignore_range_ = on;
}

std::vector<LoopbackHub::Request> LoopbackHub::requests() const {
  std::lock_guard lock(mutex_);
  return log_;
}

void LoopbackHub::clear_requests() {
  std::lock_guard lock(mutex_);
  log_.clear();
}

void LoopbackHub::run() {
  while (!stop_) {
    pollfd fds[2] = {{hub_fd_, POLLIN, 0}, {cdn_fd_, POLLIN, 0}};
    if (::poll(fds, 2, 50) <= 0) continue;
    for (int i = 0; i < 2; ++i) {
      if (!(fds[i].revents & POLLIN)) continue;
      const int conn = ::accept4(fds[i].fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (conn < 0) continue;
      handle(conn, i == 1);
      ::close(conn);
    }
  }
}

void LoopbackHub::handle(int fd, bool cdn) {
  // Bounded: a client that stalls or floods cannot hang the tests.
  timeval tv{2, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  std::string raw;
  char buf[4096];
  while (raw.find("\r\n\r\n") == std::string::npos) {
    if (raw.size() > kMaxRequestBytes) return;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return;
    raw.append(buf, static_cast<size_t>(n));
  }
  Request req;
  req.cdn = cdn;
  const size_t line_end = raw.find("\r\n");
  const std::string line = raw.substr(0, line_end);
  const size_t sp1 = line.find(' '), sp2 = line.rfind(' ');
  if (sp1 == std::string::npos || sp2 <= sp1) return;
  req.method = line.substr(0, sp1);
  req.path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  for (size_t pos = line_end + 2; pos < raw.size();) {
    const size_t end = raw.find("\r\n", pos);
    if (end == std::string::npos || end == pos) break;
    const std::string h = raw.substr(pos, end - pos);
    const size_t colon = h.find(':');
    if (colon != std::string::npos) {
      std::string name = h.substr(0, colon);
      for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      const std::string value = h.substr(h.find_first_not_of(' ', colon + 1));
      if (name == "authorization") req.authorization = value;
      if (name == "range") req.range = value;
    }
    pos = end + 2;
  }
  const Response r = respond(req, req.method == "HEAD");
  if (!send_all(fd, r.head.data(), r.head.size())) return;
  if (req.method != "HEAD") send_all(fd, r.body.data(), std::min(r.send_body, r.body.size()));
}

LoopbackHub::Response LoopbackHub::respond(const Request& req, bool head) {
  std::lock_guard lock(mutex_);
  log_.push_back(req);
  Response out;
  auto finish = [&](int status, std::vector<std::string> headers, std::string body) {
    out.head = fmt::format("HTTP/1.1 {} {}\r\nConnection: close\r\n", status, status_text(status));
    bool has_length = false;
    for (const auto& h : headers) {
      out.head += h + "\r\n";
      has_length |= h.rfind("Content-Length:", 0) == 0;
    }
    if (!has_length) out.head += fmt::format("Content-Length: {}\r\n", body.size());
    out.head += "\r\n";
    out.body = std::move(body);
    return out;
  };
  auto error = [&](int status, const std::string& code, const std::string& message,
                   std::vector<std::string> headers = {}) {
    headers.push_back("Content-Type: application/json");
    if (!code.empty()) headers.push_back("X-Error-Code: " + code);
    return finish(status, std::move(headers), nlohmann::json{{"error", message}}.dump());
  };
  const auto find_repo = [&](const std::string& id) -> const Repo* {
    for (const Repo& r : repos_)
      if (r.id == id) return &r;
    return nullptr;
  };

  if (req.cdn) {  // /cdn/{sha256}: content-addressed, no token needed (signed URLs on the real CDN)
    if (req.path.rfind("/cdn/", 0) != 0) return error(404, "", "no such object");
    const std::string sha = req.path.substr(5);
    for (const Repo& repo : repos_) {
      for (const File& f : repo.files) {
        if (!f.lfs || hub::sha256_hex(f.content) != sha) continue;
        std::string content = f.content;
        if (corrupt_ && !content.empty()) content[content.size() / 2] ^= 0x5a;
        size_t start = 0;
        int status = 200;
        std::vector<std::string> headers = {"Content-Type: application/octet-stream"};
        if (req.range.rfind("bytes=", 0) == 0 && !ignore_range_) {
          start = std::stoull(req.range.substr(6));
          if (start >= content.size()) return error(416, "", "range not satisfiable");
          status = 206;
          headers.push_back(fmt::format("Content-Range: bytes {}-{}/{}", start, content.size() - 1, content.size()));
        }
        Response r = finish(status, headers, content.substr(start));
        if (cuts_left_ > 0) {
          --cuts_left_;
          r.send_body = cut_after_;  // the announced Content-Length is not honoured: a broken transfer
        }
        return r;
      }
    }
    return error(404, "", "no such object");
  }

  if (!token_.empty() && req.authorization != "Bearer " + token_)
    return error(401, "", "Invalid username or password.");

  if (req.path.rfind("/api/models/", 0) == 0) {
    std::string rest = req.path.substr(12);
    rest = rest.substr(0, rest.find('?'));
    const size_t at = rest.find("/revision/");
    if (at == std::string::npos) return error(404, "", "Not Found");
    const Repo* repo = find_repo(rest.substr(0, at));
    if (!repo) return error(404, "RepoNotFound", "Repository not found");
    const std::string rev = percent_decode(rest.substr(at + 10));
    if (rev != "main" && rev != repo->commit) return error(404, "RevisionNotFound", "Invalid rev id: " + rev);
    nlohmann::json siblings = nlohmann::json::array();
    for (const File& f : repo->files) {
      nlohmann::json s = {{"rfilename", f.name}, {"size", f.content.size()}};
      if (f.lfs) {
        const std::string pointer =
            "version https://git-lfs.github.com/spec/v1\noid sha256:" + hub::sha256_hex(f.content) + "\nsize " +
            std::to_string(f.content.size()) + "\n";
        s["blobId"] = hub::git_blob_sha1_hex(pointer);
        s["lfs"] = {
            {"sha256", hub::sha256_hex(f.content)}, {"size", f.content.size()}, {"pointerSize", pointer.size()}};
      } else {
        s["blobId"] = hub::git_blob_sha1_hex(f.content);
      }
      siblings.push_back(s);
    }
    if (!injected_name_.empty()) siblings.push_back({{"rfilename", injected_name_}, {"size", 1}});
    nlohmann::json body = {{"id", repo->id}, {"sha", repo->commit}, {"siblings", siblings}};
    if (listing_padding_) body["padding"] = std::string(listing_padding_, ' ');
    return finish(200, {"Content-Type: application/json"}, body.dump());
  }

  const size_t resolve = req.path.find("/resolve/");
  if (resolve != std::string::npos) {
    const Repo* repo = find_repo(req.path.substr(1, resolve - 1));
    if (!repo) return error(404, "RepoNotFound", "Repository not found");
    const std::string rest = req.path.substr(resolve + 9);
    const size_t slash = rest.find('/');
    const std::string rev = rest.substr(0, slash);
    const std::string name = slash == std::string::npos ? "" : percent_decode(rest.substr(slash + 1));
    if (rev != "main" && rev != repo->commit) return error(404, "RevisionNotFound", "Invalid rev id: " + rev);
    std::vector<std::string> headers = {"X-Repo-Commit: " + repo->commit};
    if (huge_headers_)
      for (int i = 0; i < 100; ++i) headers.push_back(fmt::format("X-Padding-{}: {}", i, std::string(1000, 'x')));
    for (const File& f : repo->files) {
      if (f.name != name) continue;
      if (f.lfs) {
        const std::string sha = hub::sha256_hex(f.content);
        headers.push_back("X-Linked-Etag: \"" + sha + "\"");
        headers.push_back("X-Linked-Size: " + std::to_string(f.content.size()));
        headers.push_back("Location: " + (lfs_redirect_.empty()
                                              ? fmt::format("http://127.0.0.1:{}/cdn/{}", cdn_port_, sha)
                                              : lfs_redirect_));
        return finish(302, headers, "");
      }
      headers.push_back("ETag: \"" + hub::git_blob_sha1_hex(f.content) + "\"");
      headers.push_back("Content-Length: " + std::to_string(f.content.size()));
      return finish(200, headers, head ? "" : f.content);
    }
    return error(404, "EntryNotFound", "Entry not found", headers);
  }
  return error(404, "", "Not Found");
}

}  // namespace sg::test
