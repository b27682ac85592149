#include "hub/digest.h"

#include <openssl/evp.h>

#include <stdexcept>
#include <string>

namespace sg::hub {

namespace {
EVP_MD_CTX* ctx_of(void* p) { return static_cast<EVP_MD_CTX*>(p); }
}  // namespace

Digest::Digest(Kind kind, uint64_t size) : kind_(kind), size_(size), ctx_(EVP_MD_CTX_new()) {
  if (!ctx_) throw std::bad_alloc();
  reset();
}

Digest::~Digest() { EVP_MD_CTX_free(ctx_of(ctx_)); }

void Digest::reset() {
  const EVP_MD* md = kind_ == Kind::Sha256 ? EVP_sha256() : EVP_sha1();
  if (EVP_DigestInit_ex(ctx_of(ctx_), md, nullptr) != 1) throw std::runtime_error("EVP_DigestInit_ex failed");
  if (kind_ == Kind::GitBlobSha1) {
    // git hashes the object header, NUL included, before the content.
    const std::string header = "blob " + std::to_string(size_);
    update(header.c_str(), header.size() + 1);
  }
}

void Digest::update(const void* data, size_t n) {
  if (n && EVP_DigestUpdate(ctx_of(ctx_), data, n) != 1) throw std::runtime_error("EVP_DigestUpdate failed");
}

std::string Digest::hex() {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx_of(ctx_), md, &len) != 1) throw std::runtime_error("EVP_DigestFinal_ex failed");
  static const char* kHex = "0123456789abcdef";
  std::string out;
  out.reserve(2 * len);
  for (unsigned i = 0; i < len; ++i) {
    out += kHex[md[i] >> 4];
    out += kHex[md[i] & 15];
  }
  return out;
}

std::string sha256_hex(std::string_view data) {
  Digest d(Digest::Kind::Sha256, data.size());
  d.update(data.data(), data.size());
  return d.hex();
}

std::string git_blob_sha1_hex(std::string_view data) {
  Digest d(Digest::Kind::GitBlobSha1, data.size());
  d.update(data.data(), data.size());
  return d.hex();
}

}  // namespace sg::hub
