#include "hub/http.h"

#include <curl/curl.h>

#include <cctype>
#include <memory>
#include <mutex>

#include "util/error.h"

namespace sg::hub {

namespace {

constexpr int kMaxRedirects = 10;

void global_init() {
  // curl_global_init is not thread-safe; pull() runs transfers on several threads.
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct UrlHandle {
  CURLU* h = curl_url();
  ~UrlHandle() { curl_url_cleanup(h); }
  std::string get(CURLUPart part, unsigned flags = 0) const {
    char* out = nullptr;
    if (curl_url_get(h, part, &out, flags) != CURLUE_OK || !out) return {};
    std::string s(out);
    curl_free(out);
    return s;
  }
};

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string scheme_of(const std::string& url) {
  UrlHandle u;
  if (!u.h || curl_url_set(u.h, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
  return lower(u.get(CURLUPART_SCHEME));
}

// State of one transfer shared with the curl callbacks (which must not throw).
struct Transfer {
  const HttpRequest* request = nullptr;
  CURL* curl = nullptr;
  HttpResponse response;
  size_t header_bytes = 0;
  bool header_overflow = false;
  bool body_overflow = false;
  bool aborted = false;
};

size_t on_header(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  t->header_bytes += n;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->header_overflow = true;
    return 0;
  }
  std::string line(data, n);
  while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
  if (line.rfind("HTTP/", 0) == 0) {
    t->response.headers.clear();  // a new response (after "100 Continue" or similar)
  } else if (const size_t colon = line.find(':'); colon != std::string::npos) {
    size_t v = colon + 1;
    while (v < line.size() && (line[v] == ' ' || line[v] == '\t')) ++v;
    t->response.headers.emplace_back(lower(line.substr(0, colon)), line.substr(v));
  }
  return n;
}

size_t on_write(char* data, size_t size, size_t count, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t n = size * count;
  if (t->response.status == 0) curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->response.status);
  const bool ok = t->response.status >= 200 && t->response.status < 300;
  if (ok && t->request->on_body) {
    if (!t->request->on_body(t->response, std::string_view(data, n))) {
      t->aborted = true;
      return 0;
    }
    return n;
  }
  if (t->response.body.size() + n > t->request->max_body) {
    t->body_overflow = true;
    return 0;
  }
  t->response.body.append(data, n);
  return n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  if (t->request->keep_going && !t->request->keep_going()) {
    t->aborted = true;
    return 1;
  }
  return 0;
}

}  // namespace

std::string url_origin(const std::string& url) {
  UrlHandle u;
  if (!u.h || curl_url_set(u.h, CURLUPART_URL, url.c_str(), 0) != CURLUE_OK) return {};
  const std::string scheme = lower(u.get(CURLUPART_SCHEME));
  if (scheme != "http" && scheme != "https") return {};
  return scheme + "://" + lower(u.get(CURLUPART_HOST)) + ":" + u.get(CURLUPART_PORT, CURLU_DEFAULT_PORT);
}

bool transport_allowed(const std::string& endpoint, const std::string& target) {
  const std::string scheme = scheme_of(target);
  return scheme == "https" || (scheme == "http" && scheme_of(endpoint) == "http");
}

std::string url_escape(std::string_view s, bool keep_slashes) {
  static const char* kHex = "0123456789ABCDEF";
  std::string out;
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slashes && c == '/')) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::string resolve_url(const std::string& base, const std::string& location) {
  UrlHandle u;
  if (!u.h || curl_url_set(u.h, CURLUPART_URL, base.c_str(), 0) != CURLUE_OK) return {};
  // Setting a URL on a handle that holds one resolves it relative to the old one.
  if (curl_url_set(u.h, CURLUPART_URL, location.c_str(), 0) != CURLUE_OK) return {};
  return u.get(CURLUPART_URL);
}

const std::string* HttpResponse::header(std::string_view lower_name) const {
  for (const auto& [name, value] : headers)
    if (name == lower_name) return &value;
  return nullptr;
}

HttpClient::HttpClient(std::string endpoint, std::optional<std::string> token)
    : endpoint_(std::move(endpoint)), token_(std::move(token)) {
  global_init();
  const std::string scheme = scheme_of(endpoint_);
  if (scheme != "http" && scheme != "https")
    fail("the hub endpoint '{}' (HF_ENDPOINT) is not an http(s) URL", endpoint_);
}

HttpResponse HttpClient::perform_once(const HttpRequest& request, const std::string& url) const {
  std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
  if (!curl) fail("cannot initialise libcurl");
  Transfer t;
  t.request = &request;
  t.curl = curl.get();
  t.response.url = url;

  curl_slist* headers = nullptr;
  for (const auto& h : request.headers) headers = curl_slist_append(headers, h.c_str());
  // The token belongs to the endpoint: a CDN or any other host never sees it.
  if (token_ && url_origin(url) == url_origin(endpoint_))
    headers = curl_slist_append(headers, ("Authorization: Bearer " + *token_).c_str());
  std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> header_list(headers, curl_slist_free_all);

  char errbuf[CURL_ERROR_SIZE] = {0};
  CURL* c = curl.get();
  curl_easy_setopt(c, CURLOPT_URL, url.c_str());
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(c, CURLOPT_USERAGENT, "streamgauge/" SG_VERSION);  // SG_VERSION: set by sg_module()
  curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);  // redirects are checked and followed in send()
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);        // thread-safe timeouts
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 15L);
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);  // a stalled transfer fails after 30 s
  curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
  curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
  curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(c, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
  curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(c, CURLOPT_XFERINFODATA, &t);
  curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
  if (request.head) curl_easy_setopt(c, CURLOPT_NOBODY, 1L);

  const CURLcode rc = curl_easy_perform(c);
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &t.response.status);
  if (t.header_overflow) fail("{}: the response headers exceed {} bytes", url, kMaxHeaderBytes);
  if (t.body_overflow) fail("{}: the response exceeds {} bytes", url, request.max_body);
  if (t.aborted) {
    t.response.aborted = true;
  } else if (rc != CURLE_OK) {
    t.response.error = errbuf[0] ? errbuf : curl_easy_strerror(rc);
    t.response.interrupted =
        rc == CURLE_PARTIAL_FILE || rc == CURLE_RECV_ERROR || rc == CURLE_OPERATION_TIMEDOUT || rc == CURLE_GOT_NOTHING;
  }
  return std::move(t.response);
}

HttpResponse HttpClient::send(const HttpRequest& request) const {
  std::string url = request.url;
  for (int hop = 0; hop <= kMaxRedirects; ++hop) {
    if (!transport_allowed(endpoint_, url))
      fail("refusing to fetch {}: only https URLs are allowed for the endpoint {}", url, endpoint_);
    HttpResponse r = perform_once(request, url);
    const bool redirect = r.status == 301 || r.status == 302 || r.status == 303 || r.status == 307 || r.status == 308;
    const std::string* location = r.header("location");
    if (!r.ok_transport() || !redirect || !location || request.redirects == Redirects::None) return r;
    const std::string next = resolve_url(url, *location);
    if (next.empty()) fail("{} redirects to an invalid URL '{}'", url, *location);
    if (request.redirects == Redirects::SameOrigin && url_origin(next) != url_origin(url)) return r;
    if (!transport_allowed(endpoint_, next))
      fail("{} redirects to {}, which is not https; refusing to follow it", url, next);
    url = next;
  }
  fail("{}: more than {} redirects", request.url, kMaxRedirects);
}

}  // namespace sg::hub
