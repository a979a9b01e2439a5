#include "stella/core/path_matcher.hpp"

namespace stella::core {

std::optional<std::string_view> MatchResult::param(std::string_view name) const noexcept {
  for (const MatchParam& p : params) {
    if (p.name == name) return p.value;
  }
  return std::nullopt;
}

std::optional<std::string_view> RouteMatch::param(std::string_view name) const noexcept {
  for (const auto& [n, v] : params) {
    if (n == name) return std::string_view(v);
  }
  return std::nullopt;
}

PathMatcher::PathMatcher() : nodes_(1) {}

namespace {

// Segments are short: a byte loop beats a call to memcmp.
bool same_text(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

}  // namespace

std::uint32_t PathMatcher::Literals::find(std::string_view text) const noexcept {
  if (slots_.empty()) {
    for (const Entry& e : entries_) {
      if (same_text(e.text, text)) return e.child;
    }
    return kNone;
  }
  const std::uint32_t h = hash_of(text);
  const std::size_t mask = slots_.size() - 1;
  for (std::size_t i = h & mask;; i = (i + 1) & mask) {
    const std::uint32_t s = slots_[i];
    if (s == 0) return kNone;  // at most half full: an empty slot ends every probe
    const Entry& e = entries_[s - 1];
    if (e.hash == h && same_text(e.text, text)) return e.child;
  }
}

void PathMatcher::Literals::insert(std::string text, std::uint32_t child) {
  const std::uint32_t h = hash_of(text);
  entries_.push_back(Entry{std::move(text), child, h});
  if (entries_.size() <= kScanned) return;
  // The index grows by doubling, so building a node of n children (every snapshot rebuilds
  // its matchers) costs O(n), not a rebuild per child.
  if (2 * entries_.size() > slots_.size()) return reindex();
  index(entries_.size() - 1);
}

void PathMatcher::Literals::index(std::size_t k) {
  const std::size_t mask = slots_.size() - 1;
  std::size_t i = entries_[k].hash & mask;
  while (slots_[i] != 0)
    i = (i + 1) & mask;
  slots_[i] = static_cast<std::uint32_t>(k + 1);
}

void PathMatcher::Literals::erase(std::string_view text) {
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    if (entries_[i].text != text) continue;
    if (i + 1 != entries_.size()) entries_[i] = std::move(entries_.back());
    entries_.pop_back();
    reindex();
    return;
  }
}

void PathMatcher::Literals::reindex() {
  slots_.clear();
  if (entries_.size() <= kScanned) {
    slots_.shrink_to_fit();
    return;
  }
  std::size_t n = 16;
  while (n < 2 * entries_.size())
    n *= 2;
  slots_.assign(n, 0);
  for (std::size_t k = 0; k < entries_.size(); ++k)
    index(k);
}

std::uint32_t PathMatcher::new_node() {
  if (!free_nodes_.empty()) {
    const std::uint32_t n = free_nodes_.back();
    free_nodes_.pop_back();
    return n;
  }
  nodes_.emplace_back();
  return static_cast<std::uint32_t>(nodes_.size() - 1);
}

std::optional<AddError> PathMatcher::add(const PathTemplate& tmpl, std::uint32_t value) {
  const auto& segs = tmpl.segments();
  const std::size_t walk = tmpl.has_catch_all() ? segs.size() - 1 : segs.size();
  std::uint32_t node = 0;
  for (std::size_t i = 0; i < walk; ++i) {
    // new_node() may grow nodes_, so no Node& is held across it.
    if (segs[i].kind == SegmentKind::kLiteral) {
      const std::uint32_t found = nodes_[node].literals.find(segs[i].text);
      if (found != kNone) {
        node = found;
      } else {
        const std::uint32_t child = new_node();
        nodes_[node].literals.insert(segs[i].text, child);
        node = child;
      }
    } else {
      if (nodes_[node].param == kNone) {
        const std::uint32_t child = new_node();
        nodes_[node].param = child;
      }
      node = nodes_[node].param;
    }
  }
  std::uint32_t& slot = slot_of(node, tmpl);
  if (slot != kNone) {
    // The slot was occupied, so every node on the way already existed: nothing to undo.
    const Route& existing = routes_[slot];
    std::string existing_text = existing.tmpl.to_string();
    std::string message = "template " + tmpl.to_string() + " conflicts with registered " +
                          existing_text + " (same shape " + tmpl.shape() + ")";
    return AddError{Errc::template_conflict, std::move(existing_text), existing.value,
                    std::move(message)};
  }
  slot = static_cast<std::uint32_t>(routes_.size());
  routes_.push_back(Route{tmpl, value, node});
  return std::nullopt;
}

std::optional<std::uint32_t> PathMatcher::remove(const PathTemplate& tmpl) {
  const auto& segs = tmpl.segments();
  const std::size_t walk = tmpl.has_catch_all() ? segs.size() - 1 : segs.size();
  std::vector<std::uint32_t> chain;  // chain[k] is the node after k segments
  chain.reserve(walk + 1);
  chain.push_back(0);
  for (std::size_t i = 0; i < walk; ++i) {
    const Node& n = nodes_[chain.back()];
    std::uint32_t child = kNone;
    if (segs[i].kind == SegmentKind::kLiteral) {
      child = n.literals.find(segs[i].text);
    } else {
      child = n.param;
    }
    if (child == kNone) return std::nullopt;
    chain.push_back(child);
  }
  std::uint32_t& slot = slot_of(chain.back(), tmpl);
  if (slot == kNone) return std::nullopt;

  const std::uint32_t idx = slot;
  const std::uint32_t value = routes_[idx].value;
  slot = kNone;
  if (idx + 1 != routes_.size()) {
    routes_[idx] = std::move(routes_.back());
    slot_of(routes_[idx]) = idx;
  }
  routes_.pop_back();

  // Prune nodes left without children or routes, deepest first, so churn (services coming
  // and going) does not grow the trie without bound.
  for (std::size_t k = chain.size() - 1; k > 0; --k) {
    const std::uint32_t n = chain[k];
    if (!nodes_[n].unused()) break;
    Node& parent = nodes_[chain[k - 1]];
    if (segs[k - 1].kind == SegmentKind::kLiteral) {
      parent.literals.erase(segs[k - 1].text);
    } else {
      parent.param = kNone;
    }
    nodes_[n] = Node{};  // release the map's buckets
    free_nodes_.push_back(n);
  }
  return value;
}

std::uint32_t PathMatcher::find_route(std::uint32_t node, const NormalizedPath& path,
                                      std::size_t depth) const {
  const Node& n = nodes_[node];
  if (depth == path.segment_count()) {
    // A template ending here beats a catch-all matching zero segments.
    return n.exact != kNone ? n.exact : n.catch_all;
  }
  if (const std::uint32_t child = n.literals.find(path.segment(depth)); child != kNone) {
    const std::uint32_t r = find_route(child, path, depth + 1);
    if (r != kNone) return r;
  }
  if (n.param != kNone) {
    const std::uint32_t r = find_route(n.param, path, depth + 1);
    if (r != kNone) return r;
  }
  return n.catch_all;
}

bool PathMatcher::match(const NormalizedPath& path, MatchResult& out) const {
  out.params.clear();
  out.route = nullptr;
  out.value = 0;
  const std::uint32_t r = find_route(0, path, 0);
  if (r == kNone) return false;
  const Route& route = routes_[r];
  out.value = route.value;
  out.route = &route.tmpl;
  const auto& segs = route.tmpl.segments();
  for (std::size_t i = 0; i < segs.size(); ++i) {
    // The matched template alone says which segments are parameters: the trie shares the
    // parameter child between templates with different names.
    if (segs[i].kind == SegmentKind::kParam) {
      out.params.push_back(MatchParam{segs[i].text, path.segment(i)});
    } else if (segs[i].kind == SegmentKind::kCatchAll) {
      out.params.push_back(MatchParam{segs[i].text, path.rest(i)});
    }
  }
  return true;
}

std::optional<RouteMatch> PathMatcher::match(const NormalizedPath& path) const {
  MatchResult m;
  if (!match(path, m)) return std::nullopt;
  RouteMatch out;
  out.value = m.value;
  out.route = m.route->to_string();
  out.params.reserve(m.params.size());
  for (const MatchParam& p : m.params)
    out.params.emplace_back(p.name, p.value);
  return out;
}

}  // namespace stella::core
