#include "experiments/weights_cache.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <bit>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "util/atomic_file.h"
#include "util/error.h"

namespace sg::weights {
namespace cache {
namespace {

std::string sha256(std::string_view data) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest, &len, EVP_sha256(), nullptr) != 1)
    fail("cannot hash: OpenSSL SHA-256 is unavailable");
  std::string out;
  for (unsigned int i = 0; i < len; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

// The header of a safetensors file (its 8-byte length and JSON); nullopt if unreadable.
std::optional<std::string> header_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  unsigned char len[8];
  if (!in.read(reinterpret_cast<char*>(len), 8)) return std::nullopt;
  uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | len[i];
  if (n > (uint64_t{1} << 30)) return std::nullopt;
  std::string h(reinterpret_cast<char*>(len), 8);
  h.resize(8 + n);
  if (!in.read(h.data() + 8, static_cast<std::streamsize>(n))) return std::nullopt;
  return h;
}

bool read_hex(std::istream& in, double& v) {
  std::string t;
  if (!(in >> t) || t.size() != 16 || t.find_first_not_of("0123456789abcdef") != std::string::npos) return false;
  v = std::bit_cast<double>(std::stoull(t, nullptr, 16));
  return true;
}

}  // namespace

std::optional<std::filesystem::path> directory() {
  if (const char* dir = std::getenv("STREAMGAUGE_WEIGHT_CACHE")) {
    const std::string d = dir;
    if (d.empty() || d == "off") return std::nullopt;
    return std::filesystem::path(d);
  }
  std::filesystem::path base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg && *xdg)
    base = xdg;
  else if (const char* home = std::getenv("HOME"); home && *home)
    base = std::filesystem::path(home) / ".cache";
  else
    return std::nullopt;
  return base / "streamgauge" / "weight-norms";
}

std::optional<std::string> key(const Model& model) {
  std::string material = fmt::format("streamgauge weight norms, format {}, spectral tolerance {}, steps {}..{}\n",
                                     kFormat, kSpectralTolerance, kSpectralMinSteps, kSpectralMaxSteps);
  material += "config " + sha256(model.config_text()) + "\n";
  for (const auto& f : model.store().files()) {
    std::error_code ec;
    const auto path = std::filesystem::absolute(f->path(), ec);
    if (ec) return std::nullopt;
    const auto size = std::filesystem::file_size(path, ec);
    if (ec) return std::nullopt;
    const auto mtime = std::filesystem::last_write_time(path, ec);
    if (ec) return std::nullopt;
    const auto header = header_bytes(path);
    if (!header) return std::nullopt;
    material += fmt::format("file {} size {} mtime {} header {}\n", path.string(), size,
                            std::chrono::duration_cast<std::chrono::nanoseconds>(mtime.time_since_epoch()).count(),
                            sha256(*header));
  }
  return sha256(material);
}

std::string serialize(const std::string& key, const std::vector<LayerNorms>& norms) {
  std::string s = fmt::format("streamgauge weight norms {}\nkey {}\nlayers {}\n", kFormat, key, norms.size());
  auto put = [&](double v) { s += fmt::format(" {:016x}", std::bit_cast<uint64_t>(v)); };
  auto triple = [&](const ExpertNorms& e) { put(e.mlp_in), put(e.mlp_gate), put(e.mlp_out); };
  for (const auto& n : norms) {
    s += fmt::format("L {} {} {}", n.moe ? 1 : 0, n.has_shared ? 1 : 0, n.experts.size());
    for (double v : {n.q, n.k, n.v, n.o, n.mlp_in, n.mlp_gate, n.mlp_out, n.v_spectral, n.ov_spectral, n.router})
      put(v);
    for (const auto& e : n.experts) triple(e);
    if (n.has_shared) triple(n.shared);
    s += "\n";
  }
  s += "check " + sha256(s) + "\n";
  return s;
}

std::optional<std::vector<LayerNorms>> parse(const std::string& text, const std::string& key) {
  const auto at = text.rfind("check ");
  if (at == std::string::npos || text.substr(at) != "check " + sha256(text.substr(0, at)) + "\n") return std::nullopt;
  std::istringstream in(text.substr(0, at));
  std::string word, k;
  int format = 0;
  size_t layers = 0;
  if (!(in >> word) || word != "streamgauge" || !(in >> word) || word != "weight" || !(in >> word) || word != "norms" ||
      !(in >> format) || format != kFormat || !(in >> word) || word != "key" || !(in >> k) || k != key ||
      !(in >> word) || word != "layers" || !(in >> layers) || layers > 100000)
    return std::nullopt;
  std::vector<LayerNorms> out(layers);
  auto triple = [&](ExpertNorms& e) {
    return read_hex(in, e.mlp_in) && read_hex(in, e.mlp_gate) && read_hex(in, e.mlp_out);
  };
  for (auto& n : out) {
    int moe = 0, shared = 0;
    size_t experts = 0;
    if (!(in >> word) || word != "L" || !(in >> moe >> shared >> experts) || experts > 100000) return std::nullopt;
    n.moe = moe == 1, n.has_shared = shared == 1;
    for (double* v :
         {&n.q, &n.k, &n.v, &n.o, &n.mlp_in, &n.mlp_gate, &n.mlp_out, &n.v_spectral, &n.ov_spectral, &n.router})
      if (!read_hex(in, *v)) return std::nullopt;
    n.experts.resize(experts);
    for (auto& e : n.experts)
      if (!triple(e)) return std::nullopt;
    if (n.has_shared && !triple(n.shared)) return std::nullopt;
  }
  if (in >> word) return std::nullopt;  // trailing garbage
  return out;
}

}  // namespace cache

std::optional<CachedNorms> cached_norms(const Model& model) {
  const auto dir = cache::directory();
  const auto key = dir ? cache::key(model) : std::nullopt;
  if (!key) return std::nullopt;
  const auto path = *dir / (*key + ".norms");
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  auto norms = cache::parse(text.str(), *key);
  if (!norms || norms->size() != static_cast<size_t>(model.arch().n_layers)) return std::nullopt;
  return CachedNorms{std::move(*norms), "read from cache " + path.string()};
}

std::string cache_norms(const Model& model, const std::vector<LayerNorms>& norms) {
  const auto dir = cache::directory();
  if (!dir) return "computed (cache off)";
  const auto key = cache::key(model);
  if (!key) return "computed (checkpoint files unreadable: not cached)";
  const auto path = *dir / (*key + ".norms");
  try {
    std::filesystem::create_directories(*dir);
    write_file_atomic(path, cache::serialize(*key, norms));
    return "computed, cached in " + path.string();
  } catch (const std::exception& e) {
    warnf("weight norms not cached: {}", e.what());
    return "computed";
  }
}

CachedNorms cached_layer_norms(const Model& model, const std::function<void(int)>& progress) {
  if (auto hit = cached_norms(model)) return std::move(*hit);
  CachedNorms out{layer_norms(model, progress), ""};
  out.source = cache_norms(model, out.layers);
  return out;
}

}  // namespace sg::weights
