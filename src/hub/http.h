#pragma once
// A small libcurl client for the hub's HTTP API with the hub's security rules
// built in:
//  - the token goes only to the endpoint's origin (scheme, host and port), never
//    to the CDN a file redirects to;
//  - redirects are followed by this code, not by curl, and only to https URLs
//    (http is allowed only when the endpoint itself is http, as in tests);
//  - response headers are capped (kMaxHeaderBytes) and buffered bodies too.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sg::hub {

// "scheme://host[:port]" of an absolute http(s) URL, lower-cased, default port
// made explicit; empty when the URL is not absolute http(s).
std::string url_origin(const std::string& url);
// Whether the client may talk to `target` on behalf of `endpoint`.
bool transport_allowed(const std::string& endpoint, const std::string& target);
// Percent-encodes; '/' is kept when `keep_slashes` (file paths inside URLs).
std::string url_escape(std::string_view s, bool keep_slashes);
// `location` (absolute or relative, as in a Location header) resolved against `base`.
std::string resolve_url(const std::string& base, const std::string& location);

inline constexpr size_t kMaxHeaderBytes = 64 * 1024;

struct HttpResponse {
  long status = 0;
  std::string url;                                           // the URL that answered (after followed redirects)
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;                                          // buffered bodies and error bodies only
  // Transport outcome: `error` is curl's message when the transfer failed
  // (`interrupted`: it broke off mid-way, so resuming makes sense); `aborted`
  // when on_body or keep_going stopped it.
  std::string error;
  bool interrupted = false;
  bool aborted = false;
  bool ok_transport() const { return error.empty() && !aborted; }
  // The header's value, or nullptr.
  const std::string* header(std::string_view lower_name) const;
};

enum class Redirects { None, SameOrigin, All };

struct HttpRequest {
  bool head = false;
  std::string url;
  std::vector<std::string> headers;  // "Name: value"
  Redirects redirects = Redirects::All;
  size_t max_body = 1 << 20;  // cap of a buffered (or error) body
  // When set, a 2xx body is streamed here instead of buffered; the response
  // (status and headers) is passed along. Return false to abort the transfer.
  std::function<bool(const HttpResponse&, std::string_view)> on_body;
  // Polled while transferring; return false to abort (another download failed).
  std::function<bool()> keep_going;
};

class HttpClient {
 public:
  HttpClient(std::string endpoint, std::optional<std::string> token);
  // Performs the request, following redirects per `redirects`. Throws sg::Error
  // for policy violations (oversized headers or body, forbidden redirects);
  // transport failures and HTTP error statuses are returned in the response.
  HttpResponse send(const HttpRequest& request) const;
  const std::string& endpoint() const { return endpoint_; }
  bool has_token() const { return token_.has_value(); }

 private:
  HttpResponse perform_once(const HttpRequest& request, const std::string& url) const;
  std::string endpoint_;
  std::optional<std::string> token_;
};

}  // namespace sg::hub
