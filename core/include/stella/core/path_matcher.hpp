// Maps normalised request paths to the most specific registered PathTemplate.
//
// Precedence is specificity, never registration order: templates are compared segment by
// segment, and at the first segment where they differ, literal > parameter > catch-all (and a
// template that ends there beats a catch-all matching zero segments). So for "/a/b/c",
// "/a/b/{y}" beats "/a/{x}/c", and for "/a/b", "/a/b" beats "/a/{x}" beats "/a/{*rest}".
// Two templates conflict iff they have the same shape (PathTemplate::shape(): literals
// byte-equal, parameters and catch-alls compared by kind, names ignored); add() refuses the
// second one, so a match is never ambiguous.
//
// Implementation: a segment trie with a flat table of literal children per node (scanned when
// small, hashed when large), one parameter child and a catch-all slot; match() is a depth-first
// search trying literal, then parameter, then catch-all, with backtracking. Each trie node is
// visited at most once per match, so the cost is O(path depth) for typical tables and never
// worse than O(trie size); it does not grow with the number of templates that merely share a
// prefix.
//
// Thread-safety: const member functions (match, size) take no lock and mutate nothing, so any
// number of threads may call them concurrently on a matcher that nobody modifies. add() and
// remove() need exclusive access. The routing layer builds a matcher, then publishes it as an
// immutable snapshot (std::shared_ptr<const PathMatcher>); the matcher is copyable so a new
// snapshot can be derived from the current one.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stella/core/errc.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/core/path_template.hpp"

namespace stella::core {

/// One extracted parameter. `name` views into the matcher's copy of the template; `value`
/// views into the NormalizedPath. Both stay valid while the matcher is not modified or destroyed
/// and the NormalizedPath is not modified or destroyed.
struct MatchParam {
  std::string_view name;
  std::string_view value;  // decoded; never contains '/' except for a catch-all
};

/// The result of the allocation-free match. Reuse one instance per worker: match() clears
/// `params` but keeps its capacity.
struct MatchResult {
  std::uint32_t value = 0;
  const PathTemplate* route = nullptr;  // the matched template, owned by the matcher
  std::vector<MatchParam> params;       // in template order

  /// The value of parameter `name`, or std::nullopt.
  std::optional<std::string_view> param(std::string_view name) const noexcept;
};

/// The result of the convenience match: owns its strings.
struct RouteMatch {
  std::uint32_t value = 0;
  std::string route;  // PathTemplate::to_string() of the matched template
  std::vector<std::pair<std::string, std::string>> params;  // in template order

  /// The value of parameter `name`, or std::nullopt.
  std::optional<std::string_view> param(std::string_view name) const noexcept;
};

/// Why add() refused a template.
struct AddError {
  Errc code = Errc::template_conflict;
  std::string existing;              // to_string() of the registered template it conflicts with
  std::uint32_t existing_value = 0;  // the value registered with it
  std::string message;               // for HELLO_ACK and logs
};

class PathMatcher {
 public:
  PathMatcher();

  /// Registers `tmpl` with `value`. Returns std::nullopt on success; AddError with
  /// Errc::template_conflict (naming the registered template) if a template of the same
  /// shape is already registered — the matcher is then unchanged.
  [[nodiscard]] std::optional<AddError> add(const PathTemplate& tmpl, std::uint32_t value);

  /// Removes the registered template with the shape of `tmpl` (parameter names ignored) and
  /// returns its value; std::nullopt if there is none. Frees trie nodes that become empty.
  std::optional<std::uint32_t> remove(const PathTemplate& tmpl);

  /// Number of registered templates.
  std::size_t size() const noexcept { return routes_.size(); }
  bool empty() const noexcept { return routes_.empty(); }

  /// Allocation-free match (once out.params has grown to the largest parameter count).
  /// Returns false (out.route = nullptr, out.params empty) when nothing matches.
  bool match(const NormalizedPath& path, MatchResult& out) const;

  /// Convenience match that copies the template and parameter values; std::nullopt when
  /// nothing matches.
  std::optional<RouteMatch> match(const NormalizedPath& path) const;

 private:
  static constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

  /// A node's literal children: text → child node. Flat: a few children are scanned in
  /// place (length first, then bytes; no hashing), more go through an open-addressed index of
  /// the entries (power-of-two slots, linear probing, at most half full). An insert adds to the
  /// index (rebuilt larger when it would pass half full); an erase, rarer, rebuilds it.
  class Literals {
   public:
    std::uint32_t find(std::string_view text) const noexcept;
    void insert(std::string text, std::uint32_t child);
    void erase(std::string_view text);
    bool empty() const noexcept { return entries_.empty(); }

   private:
    static constexpr std::size_t kScanned = 8;  // up to this many children, no index
    struct Entry {
      std::string text;
      std::uint32_t child;
      std::uint32_t hash;
    };
    static std::uint32_t hash_of(std::string_view s) noexcept {
      return static_cast<std::uint32_t>(std::hash<std::string_view>{}(s));
    }
    void reindex();
    void index(std::size_t k);  // places entries_[k] in slots_
    std::vector<Entry> entries_;
    std::vector<std::uint32_t> slots_;  // 0 empty, else entry index + 1
  };

  struct Node {
    Literals literals;
    std::uint32_t param = kNone;      // node index of the {param} child
    std::uint32_t exact = kNone;      // route index of the template ending here
    std::uint32_t catch_all = kNone;  // route index of the template with {*x} here
    bool unused() const noexcept {
      return literals.empty() && param == kNone && exact == kNone && catch_all == kNone;
    }
  };

  struct Route {
    PathTemplate tmpl;
    std::uint32_t value;
    std::uint32_t node;  // the node whose exact or catch_all slot points here
  };

  std::uint32_t new_node();
  std::uint32_t find_route(std::uint32_t node, const NormalizedPath& path, std::size_t depth) const;
  std::uint32_t& slot_of(const Route& r) { return slot_of(r.node, r.tmpl); }
  std::uint32_t& slot_of(std::uint32_t node, const PathTemplate& tmpl) {
    return tmpl.has_catch_all() ? nodes_[node].catch_all : nodes_[node].exact;
  }

  std::vector<Node> nodes_;  // nodes_[0] is the root
  std::vector<std::uint32_t> free_nodes_;
  std::vector<Route> routes_;  // dense: remove() moves the last route into the hole
};

}  // namespace stella::core
