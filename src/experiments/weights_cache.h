#pragma once
// The on-disk cache of per-layer weight norms (weights::cached_layer_norms):
// norms are a property of the weights alone, so a second run on the same
// checkpoint reads them back instead of streaming every matrix again.
//
// Where: $STREAMGAUGE_WEIGHT_CACHE if set (a directory; "off" or empty: no
// cache), else $XDG_CACHE_HOME/streamgauge/weight-norms, else
// ~/.cache/streamgauge/weight-norms. One file per checkpoint, <key>.norms.
//
// The key: the SHA-256 of the format version (kFormat, bumped whenever the
// numbers computed change), the SHA-256 of config.json's text, and for every
// safetensors file of the checkpoint its absolute path, size, modification time
// (nanoseconds) and the SHA-256 of its header (tensor names, dtypes, shapes,
// offsets). Rewriting, touching or replacing a file changes the key; a stale
// entry is never read again (nothing deletes it: entries are a few KB).
//
// The entry: a text file, the key repeated, every double as the 16 hex digits
// of its bits (so a hit returns the very bits computed), and the SHA-256 of
// everything before it last. Written to a temporary file and renamed
// (AtomicFile). Anything unexpected when reading -- missing, truncated,
// corrupt, another key or format -- is a miss: the norms are computed again
// and the entry rewritten. Failing to write warns once and carries on.
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "experiments/weights.h"

namespace sg::weights::cache {

inline constexpr int kFormat = 2;

// nullopt: the cache is off.
std::optional<std::filesystem::path> directory();
// The checkpoint's key (64 hex digits); nullopt if a file cannot be read.
std::optional<std::string> key(const Model& model);

std::string serialize(const std::string& key, const std::vector<LayerNorms>& norms);
// nullopt for anything but a well-formed entry of this key and format.
std::optional<std::vector<LayerNorms>> parse(const std::string& text, const std::string& key);

}  // namespace sg::weights::cache
