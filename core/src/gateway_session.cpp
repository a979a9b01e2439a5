#include "stella/core/gateway_session.hpp"

#include <algorithm>

namespace stella::core {

GatewaySession::GatewaySession(GatewaySessionConfig config, TimePoint now)
    : SessionBase(config.limits, config.max_output_bytes, config.frame_counters),
      config_(std::move(config)),
      hello_deadline_(now + config_.hello_timeout) {}

std::optional<TimePoint> GatewaySession::next_deadline() const noexcept {
  switch (state_) {
    case State::awaiting_hello:
    case State::hello_received:
      return hello_deadline_;
    case State::active:
      return next_heartbeat_;
    case State::draining:
      return drain_deadline_ ? std::min(*drain_deadline_, next_heartbeat_) : next_heartbeat_;
    case State::closed:
      break;
  }
  return std::nullopt;
}

void GatewaySession::on_bytes(std::string_view bytes, TimePoint now) {
  if (state_ == State::closed) return;
  // RESPONSE, the hot frame, is decoded into a view (before HELLO it is an error that handle()
  // reports).
  read_frames_with_views(
      bytes, FrameType::response, [&] { return state_ != State::awaiting_hello; }, responses_,
      decode_response_view,
      [&](std::uint32_t stream, bool end, const ResponseView& view) {
        handle_response(stream, end, view);
      },
      [&](Frame& f) { handle(f, now); },
      [&](Errc e, std::string message, std::uint64_t offset) {
        protocol_error(e, std::move(message), offset);
      });
}

void GatewaySession::handle(Frame& f, TimePoint now) {
  const auto type = static_cast<FrameType>(f.type_code());
  if (state_ == State::awaiting_hello) {
    if (type != FrameType::hello) {
      return protocol_error(Errc::unexpected_frame, "the first frame must be HELLO");
    }
    hello_ = std::move(std::get<Hello>(f.body));
    const auto lo = std::max(hello_.version_min, kProtocolVersionMin);
    const auto hi = std::min(hello_.version_max, kProtocolVersionMax);
    if (lo > hi) {
      close_with(Errc::version_mismatch, DrainCode::unsupported_version,
                 "no common protocol version: gateway speaks " +
                     std::to_string(kProtocolVersionMin) + ".." +
                     std::to_string(kProtocolVersionMax));
      return finish(Errc::version_mismatch);
    }
    version_ = hi;
    state_ = State::hello_received;
    // The endpoints (with their OpenAPI fragments) go to the registry with the event; the
    // session keeps only the identity.
    gw_event::HelloReceived received{std::move(hello_), version_};
    hello_ = Hello{};
    hello_.service = received.hello.service;
    hello_.instance_id = received.hello.instance_id;
    hello_.region = received.hello.region;
    hello_.service_version = received.hello.service_version;
    hello_.max_in_flight = received.hello.max_in_flight;
    hello_.request_window = received.hello.request_window;
    emit(std::move(received));
    return;
  }
  switch (type) {
    case FrameType::heartbeat:
      return handle_heartbeat(f, now);
    case FrameType::response:  // decoded as a view by on_bytes: handle_response()
      return;
    case FrameType::stream_data: {
      auto it = streams_.find(f.stream_id);
      if (it == streams_.end()) return;
      if (!it->second.response_started) {
        return protocol_error(Errc::unexpected_frame, "STREAM_DATA before RESPONSE");
      }
      const bool end = f.end_stream();
      emit(gw_event::ResponseData{f.stream_id, std::move(std::get<StreamData>(f.body).data), end});
      if (end) streams_.erase(it);
      return maybe_finish_drain();
    }
    case FrameType::cancel: {
      // The service gave up on a stream (its handler failed): the request fails.
      auto it = streams_.find(f.stream_id);
      if (it == streams_.end()) return;
      std::uint16_t reason = std::max<std::uint16_t>(1, std::get<Cancel>(f.body).reason);
      // "Refused unseen" (the gateway may resend it elsewhere) only holds for a stream the
      // service's DRAIN excluded: opened after the DRAIN's last_stream_id, as HTTP/2's GOAWAY.
      // Any other instance_draining is a failure like handler_failed.
      if (reason == static_cast<std::uint16_t>(CancelReason::instance_draining) &&
          !(peer_drain_last_stream_ && f.stream_id > *peer_drain_last_stream_))
        reason = static_cast<std::uint16_t>(CancelReason::handler_failed);
      emit(gw_event::StreamFailed{f.stream_id, Errc::peer_closed, it->second.response_started,
                                  reason});
      streams_.erase(it);
      return maybe_finish_drain();
    }
    case FrameType::drain: {
      const Drain& d = std::get<Drain>(f.body);
      if (d.code != static_cast<std::uint16_t>(DrainCode::graceful)) {
        closed_ = CloseInfo{Errc::peer_closed, "service closed: " + d.message, 0};
        return finish(Errc::peer_closed);
      }
      if (!peer_drain_last_stream_) peer_drain_last_stream_ = d.last_stream_id;
      emit(gw_event::PeerDraining{d});
      if (state_ == State::active || state_ == State::hello_received) state_ = State::draining;
      return maybe_finish_drain();
    }
    case FrameType::credit: {
      // The service took more of a request body. Ignored for streams whose body is complete,
      // answered or cancelled (as the service ignores late CREDIT for responses).
      auto it = streams_.find(f.stream_id);
      if (it == streams_.end() || !it->second.request_open) return;
      const std::uint32_t increment = std::get<Credit>(f.body).increment;
      auto& w = it->second.request_window;
      if (w < kUnlimitedWindow) w = std::min<std::int64_t>(kUnlimitedWindow - 1, w + increment);
      emit(gw_event::RequestCredit{f.stream_id, increment});
      return;
    }
    case FrameType::hello:
    case FrameType::hello_ack:
    case FrameType::request:
      return protocol_error(Errc::unexpected_frame,
                            std::string(frame_type_name(f.type_code())) + " from a service");
  }
  // Unknown frame types are skipped (forward compatibility).
}

void GatewaySession::handle_response(std::uint32_t stream, bool end, const ResponseView& response) {
  auto it = streams_.find(stream);
  if (it == streams_.end()) return;  // a stream we cancelled or timed out: late, ignored
  if (it->second.response_started) {
    return protocol_error(Errc::unexpected_frame, "second RESPONSE on a stream");
  }
  it->second.response_started = true;
  emit(gw_event::ResponseHead{stream, &response, end});
  if (end) streams_.erase(it);
  maybe_finish_drain();
}

void GatewaySession::handle_heartbeat(const Frame& f, TimePoint now) {
  const Heartbeat& hb = std::get<Heartbeat>(f.body);
  if ((f.flags & flags::kAck) == 0) {
    // The service asks: echo it with our own status.
    Heartbeat reply{hb.sequence, hb.timestamp_us,
                    state_ == State::draining ? HealthStatus::draining : HealthStatus::healthy,
                    static_cast<std::uint32_t>(streams_.size())};
    // Within the output bound like any other frame: a peer that asks at line rate and never
    // reads gets no more answers once its output is full (its reads are then paused).
    (void)queue(Frame{flags::kAck, 0, reply});
    return;
  }
  // Only the sequence of the beat we sent counts, once; the echoed timestamp is the peer's
  // word and is not used: the RTT is measured on the gateway's own clock.
  if (!heartbeat_outstanding_ || hb.sequence != heartbeat_seq_) return;  // stale or unknown
  heartbeat_outstanding_ = false;
  missed_ = 0;
  const Duration rtt = now >= heartbeat_sent_at_ ? now - heartbeat_sent_at_ : Duration::zero();
  emit(gw_event::HeartbeatAck{rtt, hb.status, hb.in_flight});
}

void GatewaySession::on_timer(TimePoint now) {
  if (state_ == State::closed) return;
  if (state_ == State::awaiting_hello || state_ == State::hello_received) {
    if (now >= hello_deadline_) {
      close_with(Errc::hello_timeout, DrainCode::protocol_error, "no HELLO in time");
      finish(Errc::hello_timeout);
    }
    return;
  }
  if (drain_deadline_ && now >= *drain_deadline_) {
    closed_ = CloseInfo{Errc::ok, "drain timeout", 0};
    return finish(Errc::session_closed);
  }
  if (now >= next_heartbeat_) {
    if (heartbeat_outstanding_) emit(gw_event::HeartbeatMissed{++missed_});
    Heartbeat hb{++heartbeat_seq_, to_wire_us(now),
                 state_ == State::draining ? HealthStatus::draining : HealthStatus::healthy,
                 static_cast<std::uint32_t>(streams_.size())};
    queue(Frame{0, 0, hb}, false);  // control frames bypass the bound: they are tiny
    heartbeat_outstanding_ = true;
    heartbeat_sent_at_ = now;
    next_heartbeat_ = now + config_.heartbeat_interval;
    emit(gw_event::HeartbeatSent{now});
  }
}

void GatewaySession::on_closed(TimePoint, std::string_view reason) {
  if (state_ == State::closed) return;
  if (!closed_) {
    closed_ = CloseInfo{
        Errc::peer_closed,
        reason.empty() ? "connection closed" : "connection closed: " + std::string(reason), 0};
  }
  finish(Errc::peer_closed);
}

void GatewaySession::accept_hello(HelloAck ack, TimePoint now) {
  if (state_ != State::hello_received) return;
  ack.version = version_;
  ack.heartbeat_interval_ms = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(config_.heartbeat_interval).count());
  ack.node_id = config_.node_id;
  ack.max_payload = config_.limits.max_payload;
  ack.stream_window = config_.stream_window;
  ack.request_credit = true;  // request bodies go out under the service's request_window
  if (Errc e = queue(Frame{0, 0, std::move(ack)}, false); e != Errc::ok) {
    close_with(e, DrainCode::internal_error, "cannot encode HELLO_ACK");
    return finish(e);
  }
  state_ = State::active;
  next_heartbeat_ = now + config_.heartbeat_interval;
}

void GatewaySession::reject_hello(DrainCode code, std::string message) {
  if (state_ == State::closed) return;
  close_with(Errc::peer_closed, code, std::move(message));
  finish(Errc::session_closed);
}

std::uint32_t GatewaySession::allocate_stream() {
  // Increasing ids; after 2^32-1 wrap to 1, skipping ids still open (at most max_in_flight).
  do {
    last_stream_ = last_stream_ == 0xFFFFFFFFu ? 1 : last_stream_ + 1;
  } while (streams_.contains(last_stream_));
  return last_stream_;
}

Errc GatewaySession::send_request(const Request& request, bool end_stream, TimePoint,
                                  std::uint32_t& stream_out) {
  if (state_ == State::closed) return Errc::session_closed;
  if (state_ != State::active) return Errc::session_not_ready;
  // The gateway's own cap, and the one the service announced in HELLO (0: none stated).
  if (streams_.size() >= config_.max_in_flight) return Errc::too_many_streams;
  if (hello_.max_in_flight > 0 && streams_.size() >= hello_.max_in_flight)
    return Errc::too_many_streams;
  if (output_.size() > config_.max_output_bytes) return Errc::output_overflow;
  const std::uint32_t id = allocate_stream();
  // Encoded straight from the caller's request: no copy into a Frame.
  if (Errc e = queue_request(static_cast<std::uint16_t>(end_stream ? flags::kEndStream : 0), id,
                             request);
      e != Errc::ok) {
    return e;
  }
  streams_.emplace(
      id, StreamState{false, !end_stream,
                      hello_.request_window > 0 ? static_cast<std::int64_t>(hello_.request_window)
                                                : kUnlimitedWindow});
  stream_out = id;
  return Errc::ok;
}

Errc GatewaySession::send_request_data(std::uint32_t stream, std::string_view data,
                                       bool end_stream) {
  if (state_ == State::closed) return Errc::session_closed;
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.request_open) return Errc::unknown_stream;
  auto& window = it->second.request_window;
  if (window <= 0) return Errc::window_exhausted;
  if (Errc e = queue(Frame{static_cast<std::uint16_t>(end_stream ? flags::kEndStream : 0), stream,
                           StreamData{std::string(data)}});
      e != Errc::ok) {
    return e;
  }
  if (window < kUnlimitedWindow) window -= static_cast<std::int64_t>(data.size() + kCreditPerChunk);
  if (end_stream) it->second.request_open = false;
  return Errc::ok;
}

std::int64_t GatewaySession::request_window(std::uint32_t stream) const noexcept {
  const auto it = streams_.find(stream);
  return it == streams_.end() || !it->second.request_open ? 0 : it->second.request_window;
}

Errc GatewaySession::grant_credit(std::uint32_t stream, std::uint32_t increment) {
  if (state_ == State::closed) return Errc::session_closed;
  if (!streams_.contains(stream)) return Errc::unknown_stream;
  // A control frame, not counted against the bound: it answers data the service sent, so there
  // are never more of them than data frames received.
  queue(Frame{0, stream, Credit{increment}}, false);
  return Errc::ok;
}

Errc GatewaySession::cancel(std::uint32_t stream, CancelReason reason, std::string message) {
  if (state_ == State::closed) return Errc::session_closed;
  if (streams_.erase(stream) == 0) return Errc::unknown_stream;
  queue(Frame{0, stream, Cancel{static_cast<std::uint16_t>(reason), std::move(message)}}, false);
  maybe_finish_drain();
  return Errc::ok;
}

void GatewaySession::drain(Duration timeout, TimePoint now) {
  if (state_ == State::closed) return;
  if (state_ == State::awaiting_hello || state_ == State::hello_received) {
    close_with(Errc::ok, DrainCode::graceful, "gateway shutting down");
    return finish(Errc::session_closed);
  }
  if (state_ != State::draining) {
    queue_graceful_drain(last_stream_, timeout, "gateway draining");
    state_ = State::draining;
  }
  drain_deadline_ = now + timeout;
  maybe_finish_drain();
}

void GatewaySession::maybe_finish_drain() {
  if (state_ == State::draining && streams_.empty() && drain_deadline_) {
    closed_ = CloseInfo{Errc::ok, "drained", 0};
    finish(Errc::session_closed);
  }
}

void GatewaySession::protocol_error(Errc e, std::string message, std::uint64_t offset) {
  close_with(e, DrainCode::protocol_error, std::move(message), offset);
  finish(e);
}

void GatewaySession::finish(Errc reason) {
  if (state_ == State::closed) return;
  for (const auto& [id, s] : streams_) {
    // A stream above the service's DRAIN last_stream_id was never seen by it (it refuses those,
    // and here it closed before this one arrived): refused unseen, so it may go elsewhere,
    // like a CANCEL(instance_draining) for it (HTTP/2's GOAWAY rule).
    const bool unseen =
        peer_drain_last_stream_ && id > *peer_drain_last_stream_ && !s.response_started;
    emit(gw_event::StreamFailed{
        id, reason, s.response_started,
        unseen ? static_cast<std::uint16_t>(CancelReason::instance_draining) : std::uint16_t{0}});
  }
  streams_.clear();
  state_ = State::closed;
  if (!closed_) closed_ = CloseInfo{reason, {}, 0};
  emit(gw_event::Closed{*closed_});
}

}  // namespace stella::core
