// What both ends of a connection share: the frame reader, the outbound byte queue with its
// bound, the event queue, and closing on a protocol error. Sans-I/O: the owner feeds bytes and
// `now`, writes what take_output() returns, and arms a timer for next_deadline().
#pragma once

#include <chrono>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/core/errc.hpp"
#include "stella/core/frame_codec.hpp"
#include "stella/core/frame_counters.hpp"

namespace stella::core {

/// Why a session ended. `error == Errc::ok` is a clean, graceful close.
struct CloseInfo {
  Errc error = Errc::ok;
  std::string message;
  std::uint64_t offset = 0;  // for decode errors: byte offset in the inbound stream
};

/// A FIFO on a ring of reused slots. A session's events are a few hundred bytes each (a REQUEST
/// inside), so std::deque would allocate a block per event or two; here a steady stream of
/// emit/poll allocates nothing once the ring has grown to the largest backlog. A ring grown
/// past kKeptSlots by a burst (every stream failing at once) is released when it empties.
template <class T>
class RingQueue {
 public:
  bool empty() const noexcept { return size_ == 0; }
  std::size_t size() const noexcept { return size_; }
  template <class U>
  void push(U&& value) {  // assigned into its slot: one move, not two
    if (size_ == slots_.size()) grow();
    slots_[(head_ + size_) & (slots_.size() - 1)] = std::forward<U>(value);
    ++size_;
  }
  /// Moves the oldest element into `out`. The queue must not be empty. Through a temporary: a
  /// move-assignment straight from the slot could leave `out`'s old buffers in it, kept until
  /// the slot is written again (perhaps never: a peer could park large strings there).
  void pop_into(T& out) {
    T taken = std::move(slots_[head_]);
    out = std::move(taken);
    head_ = (head_ + 1) & (slots_.size() - 1);
    if (--size_ == 0) {
      head_ = 0;
      if (slots_.size() > kKeptSlots) std::vector<T>().swap(slots_);
    }
  }

 private:
  static constexpr std::size_t kKeptSlots = 64;
  void grow() {  // sizes stay powers of two
    std::vector<T> bigger(slots_.empty() ? 8 : slots_.size() * 2);
    for (std::size_t i = 0; i < size_; ++i)
      bigger[i] = std::move(slots_[(head_ + i) & (slots_.size() - 1)]);
    slots_.swap(bigger);
    head_ = 0;
  }
  std::vector<T> slots_;
  std::size_t head_ = 0;
  std::size_t size_ = 0;
};

/// Views handed out with the events of one on_bytes() call: reused by the next call (their
/// vectors keep their capacity, so a steady stream allocates nothing), with stable addresses
/// meanwhile. A burst that needed more than kKept is trimmed back on the next call.
template <class View>
class ViewPool {
 public:
  View& next() {
    if (used_ == views_.size()) views_.emplace_back();
    return views_[used_++];
  }
  /// The views handed out so far are no longer read.
  void recycle() {
    if (views_.size() > kKept) views_.resize(kKept);
    used_ = 0;
  }

 private:
  static constexpr std::size_t kKept = 64;
  std::deque<View> views_;
  std::size_t used_ = 0;
};

template <class Event>
class SessionBase {
 public:
  /// Moves the bytes to send into `out` (replacing its contents; capacities are swapped so the
  /// buffers are reused). Empty when there is nothing to send.
  void take_output(std::string& out) {
    out.clear();
    out.swap(output_);
  }
  std::size_t pending_output() const noexcept { return output_.size(); }

  /// The next event, if any. Events are produced by on_bytes, on_timer, on_closed and commands.
  bool poll_event(Event& out) {
    if (events_.empty()) return false;
    events_.pop_into(out);
    return true;
  }

  bool closed() const noexcept { return closed_.has_value(); }
  const std::optional<CloseInfo>& close_info() const noexcept { return closed_; }

 protected:
  SessionBase(const FrameLimits& limits, std::size_t max_output, FrameCounters* counters = nullptr)
      : reader_(limits), limits_(limits), max_output_(max_output), counters_(counters) {}

  /// Encodes `f` onto the output. Errors: the encoder's (a limit), or output_overflow.
  Errc queue(const Frame& f, bool enforce_bound = true) {
    if (enforce_bound && output_.size() > max_output_) return Errc::output_overflow;
    if (std::error_code ec = encode_frame(f, output_, limits_))
      return static_cast<Errc>(ec.value());
    if (counters_) counters_->count(FrameCounters::out, f.type_code());
    return Errc::ok;
  }

  /// As queue() for a REQUEST or RESPONSE frame, encoded straight from the caller's value (no
  /// copy into a Frame).
  Errc queue_request(std::uint16_t flags, std::uint32_t stream_id, const Request& request) {
    return queue_encoded(FrameType::request, [&] {
      return encode_request_frame(flags, stream_id, request, output_, limits_);
    });
  }
  Errc queue_response(std::uint16_t flags, std::uint32_t stream_id, const Response& response) {
    return queue_encoded(FrameType::response, [&] {
      return encode_response_frame(flags, stream_id, response, output_, limits_);
    });
  }

  template <class Encode>
  Errc queue_encoded(FrameType type, Encode encode) {
    if (output_.size() > max_output_) return Errc::output_overflow;
    if (std::error_code ec = encode()) return static_cast<Errc>(ec.value());
    if (counters_) counters_->count(FrameCounters::out, static_cast<std::uint8_t>(type));
    return Errc::ok;
  }

  template <class E>
  void emit(E&& e) {
    events_.push(std::forward<E>(e));
  }

  /// Queues DRAIN(graceful): streams up to `last_stream` finish within `timeout`.
  void queue_graceful_drain(std::uint32_t last_stream, Duration timeout, std::string message) {
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(timeout).count();
    queue(Frame{0, 0,
                Drain{static_cast<std::uint16_t>(DrainCode::graceful), last_stream,
                      static_cast<std::uint32_t>(ms), std::move(message)}},
          false);
  }

  /// Splits `bytes` into frames (straight from the caller's buffer; only a frame they cut is
  /// kept) and hands each whole frame's bytes and type to `on_frame` while the session is open.
  /// `on_frame` decodes the payload (decode_as_frame() below, or a view decoder) and returns
  /// the decoder's result; a malformed frame goes to `on_error(errc, message, absolute offset)`
  /// and ends the loop. Views of the frames stay valid until the next call (the reader keeps a
  /// cut frame's bytes that long; the caller keeps `bytes`).
  template <class OnFrame, class OnError>
  void read_frames(std::string_view bytes, OnFrame&& on_frame, OnError&& on_error) {
    reader_.recycle();
    while (!closed_) {
      const std::uint64_t at = reader_.offset();
      std::string_view frame;
      DecodeResult r = reader_.next_frame(bytes, frame);
      if (r.status == DecodeStatus::need_more) return;
      if (r.status == DecodeStatus::done) {
        const auto type = static_cast<std::uint8_t>(frame[3]);
        r = on_frame(frame, type);
        if (counters_ && r.status == DecodeStatus::done) counters_->count(FrameCounters::in, type);
      }
      if (r.status == DecodeStatus::error) {
        on_error(r.error, "malformed frame: " + std::string(errc_name(r.error)),
                 at + r.error_offset);
        return;
      }
    }
  }

  /// read_frames() for a session with one hot frame type, `hot`: while `views()` says so, such a
  /// frame is decoded by `decode_view` into a view from `pool` and handed to
  /// `on_view(stream, end_stream, view)` (before the handshake it is decoded as any other frame,
  /// for `on_frame` to refuse it); every other frame is decoded into an owning Frame for
  /// `on_frame`. `views` is asked for each frame: a frame earlier in the read may end the
  /// handshake.
  template <class View, class Views, class DecodeView, class OnView, class OnFrame, class OnError>
  void read_frames_with_views(std::string_view bytes, FrameType hot, Views&& views,
                              ViewPool<View>& pool, DecodeView&& decode_view, OnView&& on_view,
                              OnFrame&& on_frame, OnError&& on_error) {
    pool.recycle();
    read_frames(
        bytes,
        [&](std::string_view frame, std::uint8_t type) {
          if (type != static_cast<std::uint8_t>(hot) || !views())
            return decode_as_frame(frame, on_frame);
          FrameHeader h;
          View& view = pool.next();
          const DecodeResult r = decode_view(frame, h, view, limits_);
          if (r.status == DecodeStatus::done)
            on_view(h.stream_id, (h.flags & flags::kEndStream) != 0, view);
          return r;
        },
        on_error);
  }

  /// Decodes a frame of any type into an owning Frame and passes it to `handle`.
  template <class Handle>
  DecodeResult decode_as_frame(std::string_view frame, Handle&& handle) {
    Frame f;
    const DecodeResult r = decode_frame(frame, f, limits_);
    if (r.status == DecodeStatus::done) handle(f);
    return r;
  }

  /// Sends DRAIN with `code` (best effort) and records the close.
  void close_with(Errc error, DrainCode code, std::string message, std::uint64_t offset = 0) {
    if (closed_) return;
    if (code != DrainCode::graceful || error == Errc::ok) {
      Drain d;
      d.code = static_cast<std::uint16_t>(code);
      d.message = message;
      queue(Frame{0, 0, d}, false);
    }
    closed_ = CloseInfo{error, std::move(message), offset};
  }

  FrameReader reader_;
  FrameLimits limits_;
  std::size_t max_output_;
  std::string output_;
  RingQueue<Event> events_;
  std::optional<CloseInfo> closed_;
  FrameCounters* counters_;
};

/// Microseconds since the clock's epoch, as carried in HEARTBEAT timestamps.
inline std::uint64_t to_wire_us(TimePoint t) {
  return static_cast<std::uint64_t>(
      std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count());
}
inline TimePoint from_wire_us(std::uint64_t us) {
  return TimePoint(std::chrono::duration_cast<Duration>(std::chrono::microseconds(us)));
}

}  // namespace stella::core
