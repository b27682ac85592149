#pragma once
// Content digests the hub publishes for its files, computed incrementally while
// a download streams: the SHA-256 of the bytes (LFS files: the hub's lfs.sha256
// and X-Linked-Etag) and git's blob id, SHA-1 of "blob <size>\0" + bytes
// (regular git files: the hub's blobId and ETag). Backed by OpenSSL's libcrypto.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sg::hub {

class Digest {
 public:
  enum class Kind { Sha256, GitBlobSha1 };
  // `size` is the total content size; git's blob id hashes it in a prefix.
  Digest(Kind kind, uint64_t size);
  ~Digest();
  Digest(const Digest&) = delete;
  Digest& operator=(const Digest&) = delete;

  void update(const void* data, size_t n);
  // Starts over (a server ignored a Range request and resent the whole file).
  void reset();
  // Lower-case hex of the digest; the object must be reset() before reuse.
  std::string hex();
  Kind kind() const { return kind_; }

 private:
  Kind kind_;
  uint64_t size_;
  void* ctx_;  // EVP_MD_CTX*, kept opaque so the header needs no OpenSSL include
};

std::string sha256_hex(std::string_view data);
std::string git_blob_sha1_hex(std::string_view data);

}  // namespace sg::hub
