// One direction of a simulated connection: bytes in flight in virtual time.
//
// The simulator moves the real encoded frames through this link instead of the Asio in-memory
// stream (transport-inmemory/): delivery is an event on the simulator's own agenda, so there is
// no event loop, no thread and no wall clock between the two sessions (docs/simulation.md).
// Order is kept like TCP: a message is never due before the one sent ahead of it. A blocked
// link (partition, paused receiver) holds its messages; they are delivered, in order, once it
// is unblocked. A FIN marks the end of the stream (connection reset or close).
//
// Memory: the bytes of all queued messages live in one buffer reused across messages, so a
// steady stream of frames does not allocate. What can be queued is bounded by the sessions
// (in-flight streams per connection) rather than here.
#pragma once

#include <cstdint>
#include <deque>
#include <string>
#include <string_view>

#include "stella/core/clock.hpp"

namespace stella::sim {

class Link {
 public:
  /// Queues `bytes` (and a FIN after them if `fin`) due at `due`, or later if an earlier
  /// message is due later (order is kept). Returns the time it will be due.
  core::TimePoint send(std::string_view bytes, bool fin, core::TimePoint due) {
    // Free the consumed prefix; no view handed out by pop_due() is alive any more.
    if (head_ > 0 && (queue_.empty() || head_ >= 65536)) {
      buf_.erase(0, head_);
      head_ = 0;
    }
    if (due < last_due_) due = last_due_;
    last_due_ = due;
    buf_.append(bytes.data(), bytes.size());
    queue_.push_back(Message{due, static_cast<std::uint32_t>(bytes.size()), fin});
    return due;
  }

  /// The oldest message if it is due at `now` and the link is not blocked. `bytes` stays valid
  /// until the next send() or pop.
  bool pop_due(core::TimePoint now, std::string_view& bytes, bool& fin) {
    if (blocked_ > 0 || queue_.empty() || queue_.front().due > now) return false;
    const Message m = queue_.front();
    queue_.pop_front();
    bytes = std::string_view(buf_).substr(head_, m.size);
    head_ += m.size;
    fin = m.fin;
    return true;
  }

  void block() noexcept { ++blocked_; }
  void unblock() noexcept {
    if (blocked_ > 0) --blocked_;
  }
  bool blocked() const noexcept { return blocked_ > 0; }
  bool empty() const noexcept { return queue_.empty(); }
  std::size_t queued_bytes() const noexcept { return buf_.size() - head_; }
  /// Drops everything (the receiver is gone).
  void clear() {
    queue_.clear();
    buf_.clear();
    head_ = 0;
  }

 private:
  struct Message {
    core::TimePoint due;
    std::uint32_t size;
    bool fin;
  };
  std::deque<Message> queue_;
  std::string buf_;
  std::size_t head_ = 0;
  core::TimePoint last_due_{};
  int blocked_ = 0;
};

}  // namespace stella::sim
