// The simulator's agenda: a 4-ary min-heap of events ordered by (time, sequence number). A pop
// walks half the levels of a binary heap, and the four children it compares at each level sit
// side by side (128 bytes, two or three cache lines): fewer misses on the large agenda of a
// big topology (tens of thousands of events).
//
// The sequence number is the order of scheduling, so two events at the same virtual time run
// in the order they were scheduled: ties never depend on heap layout, and a run is a pure
// function of its seed. Bounded: push() refuses past `capacity` (the caller stops the run
// with a clear error rather than eating memory).
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "stella/core/clock.hpp"

namespace stella::sim {

enum class EventKind : std::uint8_t {
  arrival,          // a client request reaches the gateway
  dispatch,         // the gateway finished its processing of a request: route and send
  deliver,          // a link has a message due (a = connection, b = direction)
  gateway_timer,    // a = connection: GatewaySession::next_deadline()
  service_timer,    // a = connection: ServiceSession::next_deadline()
  job_done,         // a = instance, b = job slot, gen = instance incarnation
  request_timeout,  // a = timeout lane: its oldest deadline is due
  action,           // a = index into the expanded failure schedule
  connect,          // a = instance, gen = incarnation: open a connection to the gateway
  second_tick,      // per-second timeline bucket, progress, availability sample
  liveness_check,   // after the last failure healed: everything must be routable again
};

struct Event {
  core::TimePoint at{};
  std::uint64_t seq = 0;
  EventKind kind = EventKind::arrival;
  std::uint32_t a = 0;
  std::uint32_t b = 0;
  std::uint32_t gen = 0;
};

class EventQueue {
 public:
  explicit EventQueue(std::size_t capacity) : capacity_(capacity) {}

  /// False (nothing queued) when the queue holds `capacity` events.
  bool push(core::TimePoint at, EventKind kind, std::uint32_t a = 0, std::uint32_t b = 0,
            std::uint32_t gen = 0) {
    if (heap_.size() >= capacity_) return false;
    const Event e{at, next_seq_++, kind, a, b, gen};
    // Sift up: move parents down into the hole until e's place is found.
    std::size_t hole = heap_.size();
    heap_.emplace_back();
    while (hole > 0) {
      const std::size_t parent = (hole - 1) / kArity;
      if (!before(e, heap_[parent])) break;
      heap_[hole] = heap_[parent];
      hole = parent;
    }
    heap_[hole] = e;
    return true;
  }
  bool empty() const noexcept { return heap_.empty(); }
  std::size_t size() const noexcept { return heap_.size(); }
  const Event& top() const noexcept { return heap_.front(); }
  /// Removes and returns the earliest event. The queue must not be empty.
  Event pop() {
    const Event out = heap_.front();
    const Event last = heap_.back();
    heap_.pop_back();
    const std::size_t n = heap_.size();
    if (n == 0) return out;
    // Sift down from the root: move the earliest child up into the hole until `last` fits.
    std::size_t hole = 0;
    for (;;) {
      const std::size_t first = hole * kArity + 1;
      if (first >= n) break;
      const std::size_t end = std::min(first + kArity, n);
      std::size_t best = first;
      for (std::size_t c = first + 1; c < end; ++c)
        if (before(heap_[c], heap_[best])) best = c;
      if (!before(heap_[best], last)) break;
      heap_[hole] = heap_[best];
      hole = best;
    }
    heap_[hole] = last;
    return out;
  }

 private:
  static constexpr std::size_t kArity = 4;
  static bool before(const Event& x, const Event& y) noexcept {
    return x.at != y.at ? x.at < y.at : x.seq < y.seq;
  }
  std::vector<Event> heap_;
  std::size_t capacity_;
  std::uint64_t next_seq_ = 0;
};

}  // namespace stella::sim
