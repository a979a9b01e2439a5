// The service's end of its connection to the gateway, as a sans-I/O state machine.
//
// Life: constructed → HELLO queued, awaiting_ack → (HELLO_ACK) active → (drain) draining →
// closed. Answers the gateway's heartbeats with its own health and in-flight count; a gateway
// silent for `liveness_timeout` (three heartbeat intervals by default) closes the session with
// peer_silent, so the SDK reconnects. Requests arrive as events; the owner answers with
// send_response()/send_response_data(). Same owner contract as GatewaySession: feed bytes and
// `now`, write take_output() after every call, arm a timer for next_deadline(). Not thread-safe.
#pragma once

#include <chrono>
#include <unordered_map>
#include <variant>

#include "stella/core/frame.hpp"
#include "stella/core/frame_view.hpp"
#include "stella/core/session_base.hpp"
#include "stella/core/stream_table.hpp"

namespace stella::core {

struct ServiceSessionConfig {
  FrameLimits limits;
  Hello hello;                                            // what this service announces
  Duration hello_ack_timeout = std::chrono::seconds(10);  // HELLO_ACK must arrive within this
  /// Silence after which the gateway counts as gone; 0: three times the heartbeat interval the
  /// gateway announced in HELLO_ACK (or 30 s if it announced none).
  Duration liveness_timeout = Duration::zero();
  std::size_t max_output_bytes = 8 * 1024 * 1024;
};

namespace svc_event {
/// The gateway answered the HELLO (look at ack.rejected for refused endpoints).
struct Registered {
  HelloAck ack;
};
/// A request. Without end_stream its body continues in RequestData events. `request` is a view
/// into the bytes of the on_bytes() call that produced the event (or into the session, for a
/// frame an earlier call cut): valid until the next on_bytes() call, provided the caller's bytes
/// are left as they were until then. Copy what must live longer (RequestView::to_owned).
struct RequestStarted {
  std::uint32_t stream = 0;
  const RequestView* request = nullptr;
  bool end_stream = false;
};
struct RequestData {
  std::uint32_t stream = 0;
  std::string data;
  bool end_stream = false;
};
/// The gateway granted more response bytes on `stream` (CREDIT): a sender waiting for window
/// may go on.
struct CreditGranted {
  std::uint32_t stream = 0;
};
/// The gateway no longer wants this stream's response (timeout, client gone).
struct Cancelled {
  std::uint32_t stream = 0;
  std::uint16_t reason = 0;  // a CancelReason
};
/// The gateway is shutting down: it sends no new requests.
struct GatewayDraining {
  Drain drain;
};
struct Closed {
  CloseInfo info;
};
}  // namespace svc_event

using ServiceEvent =
    std::variant<svc_event::Registered, svc_event::RequestStarted, svc_event::RequestData,
                 svc_event::Cancelled, svc_event::GatewayDraining, svc_event::Closed,
                 svc_event::CreditGranted>;

class ServiceSession : public SessionBase<ServiceEvent> {
 public:
  enum class State { awaiting_ack, active, draining, closed };

  /// Queues the HELLO at once.
  ServiceSession(ServiceSessionConfig config, TimePoint now);

  void on_bytes(std::string_view bytes, TimePoint now);
  void on_timer(TimePoint now);
  /// `reason`: what the transport said (e.g. a TLS alert), kept in the close info.
  void on_closed(TimePoint now, std::string_view reason = {});

  /// The response head (and with end_stream the whole response). Errors: unknown_stream (not
  /// open: cancelled, or never), unexpected_frame (head already sent), session_closed,
  /// output_overflow, or a codec limit.
  Errc send_response(std::uint32_t stream, const Response& response, bool end_stream);
  /// A chunk of a streamed response, after send_response(..., false). Takes `data.size()` from
  /// the stream's window; a chunk may take it below zero (the sender checks send_window() > 0
  /// before each chunk, so a chunk larger than the window still goes).
  Errc send_response_data(std::uint32_t stream, std::string_view data, bool end_stream);
  /// The handler took `increment` more request-body bytes of `stream` (count each chunk as its
  /// size plus kCreditPerChunk): CREDIT to the gateway, which sends that much more. Only with a
  /// `request_window` in the HELLO that the gateway confirmed (HELLO_ACK request_credit; without
  /// it nothing is sent and ok returned). unknown_stream when the body is no longer streaming in.
  Errc grant_request_credit(std::uint32_t stream, std::uint32_t increment);
  /// Response-body bytes the gateway still accepts on `stream` before more CREDIT (section 8.2
  /// of docs/protocol.md); kUnlimitedWindow when the gateway does not use credit; 0 for a stream
  /// that is not open.
  std::int64_t send_window(std::uint32_t stream) const noexcept;
  static constexpr std::int64_t kUnlimitedWindow = std::int64_t{1} << 62;
  /// The handler failed, or its response cannot be sent: CANCEL(handler_failed) so the gateway
  /// answers 502 at once (or cuts the client's stream when the head went out). Queued even past
  /// the output bound; `message` is cut to 256 bytes.
  Errc abort_stream(std::uint32_t stream, std::string message);
  /// Graceful leave: DRAIN(graceful); closes when the last open stream has been answered or when
  /// `timeout` passes.
  void drain(Duration timeout, TimePoint now);
  /// The status reported in heartbeat replies.
  void set_health(HealthStatus status) noexcept { health_ = status; }

  State state() const noexcept { return state_; }
  std::size_t in_flight() const noexcept { return streams_.size(); }
  /// The stream is open: its response has not ended and it was neither cancelled nor aborted.
  bool stream_open(std::uint32_t stream) const noexcept { return streams_.contains(stream); }
  /// The stream is open and its response head has gone out.
  bool response_started(std::uint32_t stream) const noexcept {
    const auto it = streams_.find(stream);
    return it != streams_.end() && it->second.response_started;
  }
  std::optional<TimePoint> next_deadline() const noexcept;

 private:
  struct StreamState {
    bool response_started = false;
    bool request_open = false;
    std::int64_t window = kUnlimitedWindow;          // response bytes it may still send
    std::int64_t request_window = kUnlimitedWindow;  // request bytes the gateway may still send
  };

  void handle(Frame& f, TimePoint now);
  void handle_request(std::uint32_t stream, bool end, const RequestView& request);
  void protocol_error(Errc e, std::string message, std::uint64_t offset = 0);
  void finish(Errc reason);
  void maybe_finish_drain();

  ServiceSessionConfig config_;
  std::int64_t initial_window_ = kUnlimitedWindow;  // from HELLO_ACK stream_window
  bool request_credit_ = false;  // HELLO_ACK request_credit, and we announced a request_window
  State state_ = State::awaiting_ack;
  HealthStatus health_ = HealthStatus::healthy;
  StreamTable<StreamState> streams_;
  ViewPool<RequestView> requests_;  // what RequestStarted events point to
  std::uint32_t highest_stream_ = 0;
  TimePoint ack_deadline_;
  TimePoint last_heard_;
  bool late_timer_excused_ = false;  // one late liveness timer excused since the last bytes
  Duration liveness_{};
  std::optional<TimePoint> drain_deadline_;
};

}  // namespace stella::core
