// A session's open streams by id: an unordered_map whose nodes are kept when a stream ends and
// reused for the next one, so a connection that carries one request after another allocates
// nothing per stream once warm (node extraction, C++17). At most kKeptNodes are kept; the
// table's size itself is bounded by the session (max_in_flight).
#pragma once

#include <cstddef>
#include <cstdint>
#include <unordered_map>
#include <utility>
#include <vector>

namespace stella::core {

template <class State>
class StreamTable {
  using Map = std::unordered_map<std::uint32_t, State>;

 public:
  using iterator = typename Map::iterator;
  using const_iterator = typename Map::const_iterator;

  iterator find(std::uint32_t id) { return map_.find(id); }
  const_iterator find(std::uint32_t id) const { return map_.find(id); }
  bool contains(std::uint32_t id) const { return map_.contains(id); }
  iterator begin() noexcept { return map_.begin(); }
  iterator end() noexcept { return map_.end(); }
  const_iterator begin() const noexcept { return map_.begin(); }
  const_iterator end() const noexcept { return map_.end(); }
  std::size_t size() const noexcept { return map_.size(); }
  bool empty() const noexcept { return map_.empty(); }

  /// Opens stream `id` (which must not be open).
  void emplace(std::uint32_t id, State state) {
    if (spare_.empty()) {
      map_.emplace(id, std::move(state));
      return;
    }
    typename Map::node_type node = std::move(spare_.back());
    spare_.pop_back();
    node.key() = id;
    node.mapped() = std::move(state);
    map_.insert(std::move(node));
  }
  void erase(iterator it) { keep(map_.extract(it)); }
  /// 1 if `id` was open, else 0.
  std::size_t erase(std::uint32_t id) {
    typename Map::node_type node = map_.extract(id);
    if (node.empty()) return 0;
    keep(std::move(node));
    return 1;
  }
  void clear() noexcept {
    map_.clear();
    spare_.clear();
  }

 private:
  static constexpr std::size_t kKeptNodes = 64;
  void keep(typename Map::node_type node) {
    if (spare_.size() < kKeptNodes) spare_.push_back(std::move(node));
  }
  Map map_;
  std::vector<typename Map::node_type> spare_;
};

}  // namespace stella::core
