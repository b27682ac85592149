#include "tokenize/byte_level_bpe.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <deque>
#include <mutex>
#include <unordered_map>

#include "tokenize/utf8.h"
#include "util/error.h"

namespace sg::tok {

const char* gpt2_regex() { return R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"; }

namespace {

// GPT-2's byte alphabet (HF bytes_char): the 188 printable bytes stand for
// themselves, the other 68 bytes for U+0100.. in increasing byte order.
struct ByteAlphabet {
  std::array<char32_t, 256> byte_to_cp{};
  std::array<int16_t, 0x180> cp_to_byte{};  // every alphabet code point is < U+0144

  ByteAlphabet() {
    cp_to_byte.fill(-1);
    char32_t next = 0x100;
    for (int b = 0; b < 256; ++b) {
      const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE);
      byte_to_cp[b] = printable ? static_cast<char32_t>(b) : next++;
      cp_to_byte[byte_to_cp[b]] = static_cast<int16_t>(b);
    }
  }

  // The raw bytes a vocabulary string stands for, or nullopt if it contains a
  // character outside the alphabet (such a token is unreachable from bytes).
  std::optional<std::string> to_bytes(std::string_view token) const {
    std::string out;
    out.reserve(token.size());
    size_t i = 0;
    while (i < token.size()) {
      const char32_t c = next_code_point(token, i);
      if (c >= cp_to_byte.size() || cp_to_byte[c] < 0) return std::nullopt;
      out.push_back(static_cast<char>(cp_to_byte[c]));
    }
    return out;
  }
};

const ByteAlphabet& alphabet() {
  static const ByteAlphabet a;
  return a;
}

// Merge rules keyed by the pair of token ids: an open-addressing table, since
// this lookup is the innermost operation of BPE.
class MergeTable {
 public:
  struct Entry {
    uint64_t key = kEmpty;
    uint32_t rank = 0;
    int32_t new_id = 0;
  };

  void reserve(size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    slots_.assign(cap, Entry{});
    mask_ = cap - 1;
  }
  // Later duplicates of a pair replace earlier ones, as when HF collects merges into a map.
  void insert_or_assign(int32_t a, int32_t b, uint32_t rank, int32_t new_id) {
    Entry& e = slot(key(a, b));
    e = Entry{key(a, b), rank, new_id};
  }
  const Entry* find(int32_t a, int32_t b) const {
    const uint64_t k = key(a, b);
    for (size_t i = hash(k);; i = (i + 1) & mask_) {
      const Entry& e = slots_[i];
      if (e.key == k) return &e;
      if (e.key == kEmpty) return nullptr;
    }
  }

 private:
  static constexpr uint64_t kEmpty = ~uint64_t{0};
  static uint64_t key(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }
  size_t hash(uint64_t k) const { return static_cast<size_t>((k * 0x9E3779B97F4A7C15ULL) >> 20) & mask_; }
  Entry& slot(uint64_t k) {
    size_t i = hash(k);
    while (slots_[i].key != kEmpty && slots_[i].key != k) i = (i + 1) & mask_;
    return slots_[i];
  }
  std::vector<Entry> slots_;
  size_t mask_ = 0;
};

// Byte trie over added-token contents, answering "which is the longest token
// starting here" (the matching of HF's LeftmostLongest Aho-Corasick, which the
// caller drives from left to right).
class AddedMatcher {
 public:
  AddedMatcher() : nodes_(1) {}
  bool empty() const { return nodes_.size() == 1; }
  void add(std::string_view pattern, int32_t value) {
    if (pattern.empty()) return;
    first_[static_cast<unsigned char>(pattern[0])] = true;
    size_t node = 0;
    for (char ch : pattern) {
      const auto b = static_cast<unsigned char>(ch);
      int32_t child = -1;
      for (auto [cb, ci] : nodes_[node].children)
        if (cb == b) child = ci;
      if (child < 0) {
        child = static_cast<int32_t>(nodes_.size());
        nodes_[node].children.emplace_back(b, child);
        nodes_.emplace_back();
      }
      node = static_cast<size_t>(child);
    }
    if (nodes_[node].value < 0) nodes_[node].value = value;  // first of equal contents wins
  }
  // The value of the longest pattern starting at s[i] (and its length), or -1.
  int32_t longest_at(std::string_view s, size_t i, size_t& len) const {
    if (!first_[static_cast<unsigned char>(s[i])]) return -1;
    int32_t best = -1;
    size_t node = 0;
    for (size_t j = i; j < s.size(); ++j) {
      int32_t child = -1;
      for (auto [cb, ci] : nodes_[node].children)
        if (cb == static_cast<unsigned char>(s[j])) child = ci;
      if (child < 0) break;
      node = static_cast<size_t>(child);
      if (nodes_[node].value >= 0) {
        best = nodes_[node].value;
        len = j + 1 - i;
      }
    }
    return best;
  }

 private:
  struct Node {
    std::vector<std::pair<unsigned char, int32_t>> children;
    int32_t value = -1;
  };
  std::vector<Node> nodes_;
  std::array<bool, 256> first_{};
};

// Transparent hashing so the cache can be probed with a string_view.
struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

class ByteLevelBpe final : public Tokenizer {
 public:
  explicit ByteLevelBpe(BpeSpec spec);

  std::vector<int32_t> encode(std::string_view text, bool add_special) const override;
  std::string decode(std::span<const int32_t> ids) const override;
  std::string token(int32_t id) const override;
  size_t vocab_size() const override { return tokens_.size(); }
  std::string special_tokens_note() const override { return describe_special(*this, prefix_, suffix_); }
  std::optional<int32_t> bos_id() const override { return bos_; }
  std::optional<int32_t> eos_id() const override { return eos_; }

 private:
  // Strings made while encoding one text (prefix spaces, normalized pieces);
  // a deque so views into earlier strings stay valid.
  using Scratch = std::deque<std::string>;

  template <typename Gap>
  void split_added(const AddedMatcher& matcher, std::string_view s, std::vector<int32_t>& out, Gap&& gap) const;
  void encode_normalized(std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const;
  void pre_tokenize(size_t step, std::string_view piece, Scratch& scratch, std::vector<int32_t>& out) const;
  void bpe(std::string_view word, std::vector<int32_t>& out) const;
  void merge_word(std::string_view word, std::vector<int32_t>& out) const;

  std::string source_;
  std::vector<std::string> tokens_;  // id -> vocabulary string ("" where no token)
  std::vector<bool> has_token_;
  std::vector<std::string> token_bytes_;  // id -> bytes the ByteLevel decoder gives
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> bytes_to_id_;
  std::array<int32_t, 256> byte_id_{};
  MergeTable merges_;
  std::optional<int32_t> unk_id_;
  bool fuse_unk_ = false;
  bool ignore_merges_ = false;

  std::vector<AddedToken> added_;  // indexed by the matchers' values
  AddedMatcher raw_matcher_, normalized_matcher_;
  Normalizer normalizer_;
  std::vector<PreTokStep> pre_;
  bool byte_level_decoder_ = true;
  std::vector<int32_t> prefix_, suffix_;
  std::optional<int32_t> bos_, eos_;

  // Pre-token -> ids. Bounded: once full, new words are no longer cached.
  static constexpr size_t kCacheCapacity = 200000;
  static constexpr size_t kMaxCachedWord = 128;
  mutable std::mutex cache_mutex_;
  mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

ByteLevelBpe::ByteLevelBpe(BpeSpec spec)
    : source_(std::move(spec.source)),
      fuse_unk_(spec.fuse_unk),
      ignore_merges_(spec.ignore_merges),
      added_(std::move(spec.added)),
      normalizer_(std::move(spec.normalizer)),
      pre_(std::move(spec.pre_tokenizer)),
      byte_level_decoder_(spec.byte_level_decoder),
      prefix_(std::move(spec.prefix)),
      suffix_(std::move(spec.suffix)),
      bos_(spec.bos),
      eos_(spec.eos) {
  if (pre_.empty() || !pre_.back().byte_level) {
    fail("{}: only byte-level BPE is supported: the pre_tokenizer must end with ByteLevel", source_);
  }
  for (size_t i = 0; i + 1 < pre_.size(); ++i) {
    if (pre_[i].byte_level) fail("{}: a ByteLevel pre-tokenizer followed by further steps is not supported", source_);
  }
  const ByteAlphabet& abc = alphabet();

  // Vocabulary: id -> string, and the raw-bytes form BPE works with.
  int32_t max_id = -1;
  for (const auto& [tok, id] : spec.vocab) {
    if (id < 0) fail("{}: vocabulary entry {:?} has negative id {}", source_, tok, id);
    max_id = std::max(max_id, id);
  }
  for (const auto& a : added_) {
    if (a.id < 0) fail("{}: added token {:?} has negative id {}", source_, a.content, a.id);
    max_id = std::max(max_id, a.id);
  }
  if (max_id >= (1 << 30)) fail("{}: token id {} is implausibly large", source_, max_id);
  tokens_.assign(static_cast<size_t>(max_id + 1), std::string());
  has_token_.assign(tokens_.size(), false);
  std::unordered_map<std::string_view, int32_t> string_to_id;
  string_to_id.reserve(spec.vocab.size());
  for (const auto& [tok, id] : spec.vocab) {
    tokens_[id] = tok;
    has_token_[id] = true;
  }
  bytes_to_id_.reserve(spec.vocab.size());
  for (const auto& [tok, id] : spec.vocab) {
    string_to_id[tokens_[id]] = id;
    if (auto bytes = abc.to_bytes(tok)) bytes_to_id_.emplace(std::move(*bytes), id);
  }
  byte_id_.fill(-1);
  for (int b = 0; b < 256; ++b) {
    auto it = bytes_to_id_.find(std::string(1, static_cast<char>(b)));
    if (it != bytes_to_id_.end()) byte_id_[b] = it->second;
  }
  if (spec.unk_token) {
    auto it = string_to_id.find(*spec.unk_token);
    if (it == string_to_id.end()) fail("{}: unk_token {:?} is not in the vocabulary", source_, *spec.unk_token);
    unk_id_ = it->second;
  }

  // Merges: rank = position in the list; the merged token must exist.
  merges_.reserve(spec.merges.size());
  std::string merged;
  for (size_t rank = 0; rank < spec.merges.size(); ++rank) {
    const auto& [a, b] = spec.merges[rank];
    auto ia = string_to_id.find(a), ib = string_to_id.find(b);
    merged.assign(a).append(b);
    auto im = string_to_id.find(merged);
    if (ia == string_to_id.end() || ib == string_to_id.end() || im == string_to_id.end()) {
      fail("{}: merge {} ({:?} {:?}) uses a token that is not in the vocabulary", source_, rank + 1, a, b);
    }
    merges_.insert_or_assign(ia->second, ib->second, static_cast<uint32_t>(rank), im->second);
  }

  // Added tokens: their content is their string; special or not they are
  // matched in text before BPE (first the raw-text ones, then the normalized ones).
  for (size_t k = 0; k < added_.size(); ++k) {
    const AddedToken& a = added_[k];
    tokens_[a.id] = a.content;
    has_token_[a.id] = true;
    if (a.content.empty()) continue;
    if (!a.normalized) {
      raw_matcher_.add(a.content, static_cast<int32_t>(k));
    } else {
      std::string normalized;
      normalized_matcher_.add(normalizer_.apply(a.content, normalized) ? normalized : a.content,
                              static_cast<int32_t>(k));
    }
  }

  // What the ByteLevel decoder makes of each token: its alphabet characters
  // turned back into bytes, or its UTF-8 as is when it has other characters.
  token_bytes_.resize(tokens_.size());
  for (size_t id = 0; id < tokens_.size(); ++id) {
    auto bytes = abc.to_bytes(tokens_[id]);
    token_bytes_[id] = bytes ? std::move(*bytes) : tokens_[id];
  }

  for (int32_t id : prefix_)
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[id])
      fail("{}: post-processor token id {} is not in the vocabulary", source_, id);
  for (int32_t id : suffix_)
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[id])
      fail("{}: post-processor token id {} is not in the vocabulary", source_, id);
}

std::string ByteLevelBpe::token(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[id]) {
    fail("token id {} is not in the vocabulary of {} ({} ids)", id, source_, tokens_.size());
  }
  return tokens_[id];
}

// HF AddedVocabulary::find_matches: walks the leftmost-longest matches; a
// single_word token must not touch word characters; lstrip/rstrip make the
// token swallow the whitespace beside it. `gap` gets the text between tokens.
template <typename Gap>
void ByteLevelBpe::split_added(const AddedMatcher& matcher, std::string_view s, std::vector<int32_t>& out,
                               Gap&& gap) const {
  if (matcher.empty()) {
    gap(s);
    return;
  }
  size_t start_offset = 0;
  size_t i = 0;
  while (i < s.size()) {
    size_t len = 0;
    const int32_t k = matcher.longest_at(s, i, len);
    if (k < 0) {
      ++i;
      continue;
    }
    size_t start = i, stop = i + len;
    i = stop;  // the match iterator resumes after the match, whatever is discarded
    const AddedToken& t = added_[static_cast<size_t>(k)];
    if (t.single_word) {
      bool start_ok = true, stop_ok = true;
      if (start > 0) {
        size_t p = start;
        start_ok = !is_word_char(prev_code_point(s, p));
      }
      if (stop < s.size()) {
        size_t p = stop;
        stop_ok = !is_word_char(next_code_point(s, p));
      }
      if (!start_ok || !stop_ok) continue;
    }
    if (t.lstrip) {
      size_t p = start;
      while (p > 0) {
        size_t q = p;
        if (!is_white_space(prev_code_point(s, q))) break;
        p = q;
      }
      start = std::max(p, start_offset);
    }
    if (t.rstrip) {
      while (stop < s.size()) {
        size_t q = stop;
        if (!is_white_space(next_code_point(s, q))) break;
        stop = q;
      }
    }
    if (start_offset < start) gap(s.substr(start_offset, start - start_offset));
    out.push_back(t.id);
    start_offset = stop;
  }
  if (start_offset < s.size()) gap(s.substr(start_offset));
}

std::vector<int32_t> ByteLevelBpe::encode(std::string_view text, bool add_special) const {
  if (auto bad = find_invalid_utf8(text)) {
    fail("the text is not valid UTF-8 (invalid byte 0x{:02X} at offset {})", static_cast<unsigned char>(text[*bad]),
         *bad);
  }
  std::vector<int32_t> out;
  out.reserve(text.size() / 3 + prefix_.size() + suffix_.size() + 1);
  if (add_special) out.insert(out.end(), prefix_.begin(), prefix_.end());
  Scratch scratch;
  split_added(raw_matcher_, text, out, [&](std::string_view piece) {
    std::string normalized;
    if (normalizer_.apply(piece, normalized)) {
      scratch.push_back(std::move(normalized));
      piece = scratch.back();
    }
    split_added(normalized_matcher_, piece, out, [&](std::string_view p) { pre_tokenize(0, p, scratch, out); });
  });
  if (add_special) out.insert(out.end(), suffix_.begin(), suffix_.end());
  return out;
}

void ByteLevelBpe::pre_tokenize(size_t step, std::string_view piece, Scratch& scratch,
                                std::vector<int32_t>& out) const {
  if (piece.empty()) return;  // HF drops empty splits
  const PreTokStep& st = pre_[step];
  if (st.byte_level) {
    if (st.add_prefix_space && piece.front() != ' ') {
      scratch.push_back(" ");
      scratch.back().append(piece);
      piece = scratch.back();
    }
    if (!st.regex) {
      bpe(piece, out);
      return;
    }
    // GPT-2 regex, Isolated: matches and the text between them are pre-tokens.
    size_t prev = 0;
    st.regex->for_each_match(piece, [&](size_t b, size_t e) {
      if (b > prev) bpe(piece.substr(prev, b - prev), out);
      if (e > b) bpe(piece.substr(b, e - b), out);
      prev = e;
    });
    if (prev < piece.size()) bpe(piece.substr(prev), out);
    return;
  }

  // Split: list the matches and gaps, then group them per HF's SplitDelimiterBehavior.
  struct Part {
    size_t begin, end;
    bool match;
  };
  std::vector<Part> parts;
  size_t prev = 0;
  st.regex->for_each_match(piece, [&](size_t b, size_t e) {
    if (b > prev) parts.push_back({prev, b, st.invert});
    parts.push_back({b, e, !st.invert});
    prev = e;
  });
  if (prev < piece.size()) parts.push_back({prev, piece.size(), st.invert});

  std::vector<std::pair<size_t, size_t>> pieces;
  switch (st.behavior) {
    case SplitBehavior::Isolated:
      for (const Part& p : parts) pieces.emplace_back(p.begin, p.end);
      break;
    case SplitBehavior::Removed:
      for (const Part& p : parts)
        if (!p.match) pieces.emplace_back(p.begin, p.end);
      break;
    case SplitBehavior::MergedWithPrevious: {
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.match && !previous_match && !pieces.empty()) {
          pieces.back().second = p.end;
        } else {
          pieces.emplace_back(p.begin, p.end);
        }
        previous_match = p.match;
      }
      break;
    }
    case SplitBehavior::MergedWithNext: {
      bool previous_match = false;
      for (auto it = parts.rbegin(); it != parts.rend(); ++it) {
        if (it->match && !previous_match && !pieces.empty()) {
          pieces.back().first = it->begin;
        } else {
          pieces.emplace_back(it->begin, it->end);
        }
        previous_match = it->match;
      }
      std::reverse(pieces.begin(), pieces.end());
      break;
    }
    case SplitBehavior::Contiguous: {
      bool previous_match = false;
      for (const Part& p : parts) {
        if (p.match == previous_match && !pieces.empty()) {
          pieces.back().second = p.end;
        } else {
          pieces.emplace_back(p.begin, p.end);
        }
        previous_match = p.match;
      }
      break;
    }
  }
  for (auto [b, e] : pieces) pre_tokenize(step + 1, piece.substr(b, e - b), scratch, out);
}

void ByteLevelBpe::bpe(std::string_view word, std::vector<int32_t>& out) const {
  if (word.size() == 1 && byte_id_[static_cast<unsigned char>(word[0])] >= 0) {
    out.push_back(byte_id_[static_cast<unsigned char>(word[0])]);
    return;
  }
  if (ignore_merges_) {
    auto it = bytes_to_id_.find(word);
    if (it != bytes_to_id_.end()) {
      out.push_back(it->second);
      return;
    }
  }
  const bool cacheable = word.size() <= kMaxCachedWord;
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    auto it = cache_.find(word);
    if (it != cache_.end()) {
      out.insert(out.end(), it->second.begin(), it->second.end());
      return;
    }
  }
  const size_t before = out.size();
  merge_word(word, out);
  if (cacheable) {
    std::lock_guard lock(cache_mutex_);
    if (cache_.size() < kCacheCapacity) cache_.emplace(word, std::vector<int32_t>(out.begin() + before, out.end()));
  }
}

// HF's Word::merge_all: a min-heap of candidate merges ordered by (rank,
// position) over a linked list of symbols; stale entries are skipped when the
// pair at their position no longer produces the same token.
void ByteLevelBpe::merge_word(std::string_view word, std::vector<int32_t>& out) const {
  struct Symbol {
    int32_t id;
    int32_t prev, next;
    uint32_t len;  // bytes covered; 0 once merged into its left neighbour
  };
  struct Merge {
    uint32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Merge& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Merge> heap;
  symbols.clear();
  heap.clear();

  auto add_symbol = [&](int32_t id, uint32_t len) {
    const auto n = static_cast<int32_t>(symbols.size());
    if (n > 0) symbols.back().next = n;
    symbols.push_back({id, n - 1, -1, len});
  };
  // Bytes missing from the vocabulary become unk (fused if fuse_unk) or vanish
  // when there is no unk token, as in HF's BPE::merge_word.
  std::optional<uint32_t> pending_unk_len;
  for (char ch : word) {
    const int32_t id = byte_id_[static_cast<unsigned char>(ch)];
    if (id >= 0) {
      if (pending_unk_len) add_symbol(*unk_id_, *pending_unk_len);
      pending_unk_len.reset();
      add_symbol(id, 1);
    } else if (unk_id_) {
      if (pending_unk_len && fuse_unk_) {
        ++*pending_unk_len;
      } else {
        if (pending_unk_len) add_symbol(*unk_id_, *pending_unk_len);
        pending_unk_len = 1;
      }
    }
  }
  if (pending_unk_len) add_symbol(*unk_id_, *pending_unk_len);

  const auto greater = std::greater<Merge>();
  for (size_t i = 0; i + 1 < symbols.size(); ++i) {
    if (const auto* m = merges_.find(symbols[i].id, symbols[i + 1].id)) {
      heap.push_back({m->rank, static_cast<int32_t>(i), m->new_id});
    }
  }
  std::make_heap(heap.begin(), heap.end(), greater);
  while (!heap.empty()) {
    std::pop_heap(heap.begin(), heap.end(), greater);
    const Merge top = heap.back();
    heap.pop_back();
    Symbol& cur = symbols[top.pos];
    if (cur.len == 0 || cur.next < 0) continue;
    const int32_t next_pos = cur.next;
    const Symbol right = symbols[next_pos];
    const auto* m = merges_.find(cur.id, right.id);
    if (!m || m->new_id != top.new_id) continue;  // stale entry

    cur.id = top.new_id;
    cur.len += right.len;
    cur.next = right.next;
    symbols[next_pos].len = 0;
    if (right.next >= 0) symbols[right.next].prev = top.pos;
    if (cur.prev >= 0) {
      if (const auto* pm = merges_.find(symbols[cur.prev].id, cur.id)) {
        heap.push_back({pm->rank, cur.prev, pm->new_id});
        std::push_heap(heap.begin(), heap.end(), greater);
      }
    }
    if (cur.next >= 0) {
      if (const auto* nm = merges_.find(cur.id, symbols[cur.next].id)) {
        heap.push_back({nm->rank, top.pos, nm->new_id});
        std::push_heap(heap.begin(), heap.end(), greater);
      }
    }
  }
  for (const Symbol& s : symbols)
    if (s.len != 0) out.push_back(s.id);
}

std::string ByteLevelBpe::decode(std::span<const int32_t> ids) const {
  std::string out;
  if (!byte_level_decoder_) {
    // No decoder: HF joins the token strings with spaces.
    bool first = true;
    for (int32_t id : ids) {
      if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[id]) continue;
      if (!first) out.push_back(' ');
      out += tokens_[id];
      first = false;
    }
    return out;
  }
  std::string bytes;
  for (int32_t id : ids) {
    if (id < 0 || static_cast<size_t>(id) >= tokens_.size() || !has_token_[id]) continue;
    bytes += token_bytes_[id];
  }
  append_utf8_lossy(out, bytes);
  return out;
}

}  // namespace

std::unique_ptr<Tokenizer> make_byte_level_bpe(BpeSpec spec) { return std::make_unique<ByteLevelBpe>(std::move(spec)); }

std::string describe_special(const Tokenizer& t, const std::vector<int32_t>& prefix,
                             const std::vector<int32_t>& suffix) {
  if (prefix.empty() && suffix.empty()) return "adds no special tokens";
  auto list = [&](const std::vector<int32_t>& ids) {
    std::string s;
    for (int32_t id : ids) {
      if (!s.empty()) s += ", ";
      const char* role = t.bos_id() == id ? "BOS " : t.eos_id() == id ? "EOS " : "";
      s += fmt::format("{}{} (id {})", role, t.token(id), id);
    }
    return s;
  };
  if (suffix.empty()) return "adds " + list(prefix);
  if (prefix.empty()) return "adds " + list(suffix) + " at the end";
  return "adds " + list(prefix) + " at the start and " + list(suffix) + " at the end";
}

}  // namespace sg::tok
