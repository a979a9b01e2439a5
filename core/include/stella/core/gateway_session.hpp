// The gateway's end of one service connection, as a sans-I/O state machine.
//
// Life: awaiting_hello → (HELLO) hello_received → (accept_hello) active → (drain / peer DRAIN)
// draining → closed. Any protocol error closes it, after queueing DRAIN(protocol_error) so the
// peer learns why. The owner (an I/O shell or the simulator):
//   - feeds inbound bytes with on_bytes(), transport loss with on_closed();
//   - calls on_timer() at or after next_deadline();
//   - writes whatever take_output() returns, after every call;
//   - drains events with poll_event(): HELLO to validate, responses, heartbeat results, failures.
// Health decisions are not made here: the session reports heartbeat acks and misses, and the
// gateway's health tracker decides. Not thread-safe: one owner (one strand / one loop).
#pragma once

#include <chrono>
#include <cstdint>
#include <unordered_map>
#include <variant>

#include "stella/core/frame.hpp"
#include "stella/core/frame_view.hpp"
#include "stella/core/session_base.hpp"
#include "stella/core/stream_table.hpp"

namespace stella::core {

struct GatewaySessionConfig {
  FrameLimits limits;
  std::string node_id;                                     // sent in HELLO_ACK
  Duration heartbeat_interval = std::chrono::seconds(10);  // health.heartbeatIntervalSeconds
  Duration hello_timeout = std::chrono::seconds(10);       // HELLO must arrive within this
  std::uint32_t max_in_flight = 1024;                      // streams open at once, per connection
  std::size_t max_output_bytes = 8 * 1024 * 1024;          // outbound queue bound (back-pressure)
  /// Announced in HELLO_ACK: response bytes per stream before the service waits for CREDIT
  /// (routing.streamWindow). 0: no credit, the service is bounded by its output queue only.
  std::uint32_t stream_window = 256 * 1024;
  FrameCounters* frame_counters = nullptr;  // frames by type and direction (not owned; optional)
};

namespace gw_event {
/// A HELLO arrived; answer with accept_hello() or reject_hello().
struct HelloReceived {
  Hello hello;
  std::uint16_t version = 0;  // negotiated
};
/// A response head (and with end_stream the whole response) for a stream. `response` is a view
/// into the bytes of the on_bytes() call that produced the event (or into the session, for a
/// frame an earlier call cut): valid until the next on_bytes() call, provided the caller's bytes
/// are left as they were until then. Copy what must live longer (ResponseView::to_owned).
struct ResponseHead {
  std::uint32_t stream = 0;
  const ResponseView* response = nullptr;
  bool end_stream = false;
};
/// A chunk of a streamed response body.
struct ResponseData {
  std::uint32_t stream = 0;
  std::string data;
  bool end_stream = false;
};
/// The service granted more request-body bytes on `stream` (CREDIT; docs/protocol.md §8.2).
struct RequestCredit {
  std::uint32_t stream = 0;
  std::uint32_t increment = 0;
};
/// The reply to one of our heartbeats.
struct HeartbeatAck {
  Duration rtt{};
  HealthStatus status = HealthStatus::unknown;
  std::uint32_t in_flight = 0;
};
/// A HEARTBEAT was queued at `at` (the health tracker counts misses from these).
struct HeartbeatSent {
  TimePoint at{};
};
/// A heartbeat went unanswered until the next one was due.
struct HeartbeatMissed {
  std::uint32_t consecutive = 0;
};
/// The service announced it is leaving: route it no new requests.
struct PeerDraining {
  Drain drain;
};
/// A stream ended without a complete response: the service cancelled it, or the session closed.
struct StreamFailed {
  std::uint32_t stream = 0;
  Errc reason = Errc::ok;  // peer_closed, session_closed, unexpected_frame ...
  bool response_started = false;
  /// The service sent CANCEL for the stream (its handler failed, or its answer could not be
  /// sent): its CancelReason code. 0 when the stream failed for another reason.
  std::uint16_t service_cancel = 0;
};
/// The session is closed; no further events follow.
struct Closed {
  CloseInfo info;
};
}  // namespace gw_event

using GatewayEvent =
    std::variant<gw_event::HelloReceived, gw_event::ResponseHead, gw_event::ResponseData,
                 gw_event::HeartbeatAck, gw_event::HeartbeatSent, gw_event::HeartbeatMissed,
                 gw_event::PeerDraining, gw_event::StreamFailed, gw_event::Closed,
                 gw_event::RequestCredit>;

class GatewaySession : public SessionBase<GatewayEvent> {
 public:
  enum class State { awaiting_hello, hello_received, active, draining, closed };

  GatewaySession(GatewaySessionConfig config, TimePoint now);

  // ---- inputs ---------------------------------------------------------------------------
  void on_bytes(std::string_view bytes, TimePoint now);
  void on_timer(TimePoint now);
  /// The transport closed (or failed): every open stream fails.
  /// `reason`: what the transport said (e.g. a TLS alert), kept in the close info.
  void on_closed(TimePoint now, std::string_view reason = {});

  // ---- commands -------------------------------------------------------------------------
  /// Answers the HELLO: `ack` lists accepted/rejected endpoints; version, heartbeat interval,
  /// node id and max payload are filled in here. Starts heartbeats.
  void accept_hello(HelloAck ack, TimePoint now);
  /// Refuses the whole HELLO: DRAIN(code, message) and close.
  void reject_hello(DrainCode code, std::string message);

  /// Opens a stream and queues its REQUEST. Without `end_stream` the body continues with
  /// send_request_data(). Errors: session_not_ready (not active, or draining), session_closed,
  /// too_many_streams, output_overflow, or a codec limit.
  Errc send_request(const Request& request, bool end_stream, TimePoint now,
                    std::uint32_t& stream_out);
  /// More request body. When the service announced a `request_window` in HELLO each chunk
  /// takes its size plus kCreditPerChunk from the stream's window, and a chunk is refused with
  /// window_exhausted while the window is not above zero (it may take it below zero).
  Errc send_request_data(std::uint32_t stream, std::string_view data, bool end_stream);
  /// Request-body bytes the service still takes on `stream` (kUnlimitedWindow when it does not
  /// use credit; 0 for a stream whose body is not streaming out).
  std::int64_t request_window(std::uint32_t stream) const noexcept;
  static constexpr std::int64_t kUnlimitedWindow = std::int64_t{1} << 62;
  /// The client took `increment` more response bytes of `stream`: CREDIT to the service, so it
  /// may send that much more. unknown_stream if the stream is not open (nothing is queued).
  Errc grant_credit(std::uint32_t stream, std::uint32_t increment);
  /// Ends a stream early (timeout, client gone): CANCEL to the service. unknown_stream if the
  /// stream is not open.
  Errc cancel(std::uint32_t stream, CancelReason reason, std::string message = {});
  /// Graceful shutdown: DRAIN(graceful), no new requests; closes when the last stream ends or
  /// when `timeout` passes (failing what is left).
  void drain(Duration timeout, TimePoint now);

  // ---- queries --------------------------------------------------------------------------
  State state() const noexcept { return state_; }
  std::size_t in_flight() const noexcept { return streams_.size(); }
  std::optional<TimePoint> next_deadline() const noexcept;
  /// The HELLO's identity (service, instance, region, version, max_in_flight); its endpoints
  /// went to the owner with HelloReceived and are not kept here.
  const Hello& hello() const noexcept { return hello_; }

 private:
  struct StreamState {
    bool response_started = false;
    bool request_open = false;                       // request body still streaming out
    std::int64_t request_window = kUnlimitedWindow;  // request bytes the service still takes
  };

  void handle(Frame& f, TimePoint now);
  void handle_response(std::uint32_t stream, bool end, const ResponseView& response);
  void handle_heartbeat(const Frame& f, TimePoint now);
  void protocol_error(Errc e, std::string message, std::uint64_t offset = 0);
  void finish(Errc reason);  // fail open streams, emit Closed
  void maybe_finish_drain();
  std::uint32_t allocate_stream();

  GatewaySessionConfig config_;
  State state_ = State::awaiting_hello;
  Hello hello_;
  std::uint16_t version_ = 0;
  StreamTable<StreamState> streams_;
  ViewPool<ResponseView> responses_;  // what ResponseHead events point to
  std::uint32_t last_stream_ = 0;     // the highest id handed out (wraps)
  std::uint64_t heartbeat_seq_ = 0;
  bool heartbeat_outstanding_ = false;
  TimePoint heartbeat_sent_at_{};  // when beat heartbeat_seq_ was queued (RTT on our clock)
  std::uint32_t missed_ = 0;
  TimePoint hello_deadline_;
  TimePoint next_heartbeat_;
  std::optional<TimePoint> drain_deadline_;
  /// The service's graceful DRAIN: the highest stream it still completes.
  std::optional<std::uint32_t> peer_drain_last_stream_;
};

}  // namespace stella::core
