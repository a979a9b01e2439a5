#include "stella/core/service_session.hpp"

#include <algorithm>

namespace stella::core {

ServiceSession::ServiceSession(ServiceSessionConfig config, TimePoint now)
    : SessionBase(config.limits, config.max_output_bytes),
      config_(std::move(config)),
      ack_deadline_(now + config_.hello_ack_timeout),
      last_heard_(now) {
  if (Errc e = queue(Frame{0, 0, config_.hello}, false); e != Errc::ok) {
    // A HELLO that cannot be encoded (a limit) is the caller's configuration error.
    closed_ = CloseInfo{e, "cannot encode HELLO: " + std::string(errc_name(e)), 0};
    state_ = State::closed;
    emit(svc_event::Closed{*closed_});
  }
}

std::optional<TimePoint> ServiceSession::next_deadline() const noexcept {
  switch (state_) {
    case State::awaiting_ack:
      return ack_deadline_;
    case State::active:
      return last_heard_ + liveness_;
    case State::draining:
      return drain_deadline_ ? std::min(*drain_deadline_, last_heard_ + liveness_)
                             : last_heard_ + liveness_;
    case State::closed:
      break;
  }
  return std::nullopt;
}

void ServiceSession::on_bytes(std::string_view bytes, TimePoint now) {
  if (state_ == State::closed) return;
  last_heard_ = now;
  late_timer_excused_ = false;
  // REQUEST, the hot frame, is decoded into a view (before HELLO_ACK it is an error that
  // handle() reports).
  read_frames_with_views(
      bytes, FrameType::request, [&] { return state_ != State::awaiting_ack; }, requests_,
      decode_request_view,
      [&](std::uint32_t stream, bool end, const RequestView& view) {
        handle_request(stream, end, view);
      },
      [&](Frame& f) { handle(f, now); },
      [&](Errc e, std::string message, std::uint64_t offset) {
        protocol_error(e, std::move(message), offset);
      });
}

void ServiceSession::handle_request(std::uint32_t stream, bool end, const RequestView& request) {
  if (streams_.contains(stream)) {
    return protocol_error(Errc::duplicate_stream, "REQUEST on a stream that is open");
  }
  if (state_ == State::draining) {
    // Crossed our DRAIN on the wire: refuse it unseen, so the gateway sends it elsewhere.
    queue(Frame{0, stream,
                Cancel{static_cast<std::uint16_t>(CancelReason::instance_draining),
                       "instance draining"}},
          false);
    return;
  }
  streams_.emplace(
      stream, StreamState{false, !end, initial_window_,
                          request_credit_ ? static_cast<std::int64_t>(config_.hello.request_window)
                                          : kUnlimitedWindow});
  highest_stream_ = std::max(highest_stream_, stream);
  emit(svc_event::RequestStarted{stream, &request, end});
}

void ServiceSession::handle(Frame& f, TimePoint) {
  const auto type = static_cast<FrameType>(f.type_code());
  if (state_ == State::awaiting_ack) {
    if (type == FrameType::drain) {
      const Drain& d = std::get<Drain>(f.body);
      closed_ = CloseInfo{d.code == static_cast<std::uint16_t>(DrainCode::unsupported_version)
                              ? Errc::version_mismatch
                              : Errc::peer_closed,
                          "gateway refused the HELLO: " + d.message, 0};
      return finish(closed_->error);
    }
    if (type != FrameType::hello_ack) {
      return protocol_error(Errc::unexpected_frame, "expected HELLO_ACK");
    }
    HelloAck& ack = std::get<HelloAck>(f.body);
    if (ack.version < config_.hello.version_min || ack.version > config_.hello.version_max) {
      return protocol_error(Errc::version_mismatch, "HELLO_ACK chose a version we did not offer");
    }
    if (config_.liveness_timeout > Duration::zero()) {
      liveness_ = config_.liveness_timeout;
    } else if (ack.heartbeat_interval_ms > 0) {
      liveness_ = 3 * std::chrono::milliseconds(ack.heartbeat_interval_ms);
    } else {
      liveness_ = std::chrono::seconds(30);
    }
    if (ack.stream_window > 0) initial_window_ = ack.stream_window;
    // Our request_window holds only when the gateway says it honours it; an older gateway
    // sends bodies without waiting for CREDIT (the SDK then bounds what it queues itself).
    request_credit_ = ack.request_credit && config_.hello.request_window > 0;
    state_ = State::active;
    emit(svc_event::Registered{std::move(ack)});
    return;
  }
  switch (type) {
    case FrameType::heartbeat: {
      if ((f.flags & flags::kAck) != 0) return;  // we never ask; stray acks are harmless
      const Heartbeat& hb = std::get<Heartbeat>(f.body);
      queue(Frame{flags::kAck, 0,
                  Heartbeat{hb.sequence, hb.timestamp_us,
                            state_ == State::draining ? HealthStatus::draining : health_,
                            static_cast<std::uint32_t>(streams_.size())}},
            false);
      return;
    }
    case FrameType::request:  // decoded as a view by on_bytes: handle_request()
      return;
    case FrameType::stream_data: {
      auto it = streams_.find(f.stream_id);
      if (it == streams_.end()) return;  // cancelled meanwhile
      if (!it->second.request_open) {
        return protocol_error(Errc::unexpected_frame, "STREAM_DATA after the request ended");
      }
      auto& window = it->second.request_window;
      if (window <= 0) {
        return protocol_error(Errc::window_exhausted,
                              "STREAM_DATA beyond the request window (no CREDIT granted)");
      }
      if (window < kUnlimitedWindow) {
        window -=
            static_cast<std::int64_t>(std::get<StreamData>(f.body).data.size() + kCreditPerChunk);
      }
      const bool end = f.end_stream();
      if (end) it->second.request_open = false;
      emit(svc_event::RequestData{f.stream_id, std::move(std::get<StreamData>(f.body).data), end});
      return;
    }
    case FrameType::cancel: {
      if (streams_.erase(f.stream_id) == 0) return;  // already answered
      emit(svc_event::Cancelled{f.stream_id, std::get<Cancel>(f.body).reason});
      return maybe_finish_drain();
    }
    case FrameType::drain: {
      const Drain& d = std::get<Drain>(f.body);
      if (d.code != static_cast<std::uint16_t>(DrainCode::graceful)) {
        closed_ = CloseInfo{Errc::peer_closed, "gateway closed: " + d.message, 0};
        return finish(Errc::peer_closed);
      }
      emit(svc_event::GatewayDraining{d});
      return;
    }
    case FrameType::credit: {
      auto it = streams_.find(f.stream_id);
      if (it == streams_.end()) return;  // answered or cancelled meanwhile
      auto& w = it->second.window;
      if (w < kUnlimitedWindow) {  // saturating: a peer's grants cannot overflow it
        w = std::min<std::int64_t>(kUnlimitedWindow - 1, w + std::get<Credit>(f.body).increment);
      }
      emit(svc_event::CreditGranted{f.stream_id});
      return;
    }
    case FrameType::hello:
    case FrameType::hello_ack:
    case FrameType::response:
      return protocol_error(Errc::unexpected_frame,
                            std::string(frame_type_name(f.type_code())) + " from the gateway");
  }
}

void ServiceSession::on_timer(TimePoint now) {
  if (state_ == State::closed) return;
  if (state_ == State::awaiting_ack) {
    if (now >= ack_deadline_) {
      close_with(Errc::hello_timeout, DrainCode::protocol_error, "no HELLO_ACK in time");
      finish(Errc::hello_timeout);
    }
    return;
  }
  if (drain_deadline_ && now >= *drain_deadline_) {
    closed_ = CloseInfo{Errc::ok, "drain timeout", 0};
    return finish(Errc::session_closed);
  }
  if (now >= last_heard_ + liveness_) {
    // A timer that fires far past its deadline means this process was not running (stopped,
    // starved): what the gateway sent meanwhile may be waiting in the socket, unread. Look
    // again after half the liveness instead of calling the gateway silent on stale evidence.
    if (now - (last_heard_ + liveness_) > liveness_ / 2 && !late_timer_excused_) {
      late_timer_excused_ = true;
      last_heard_ = now - liveness_ / 2;
      return;
    }
    close_with(Errc::peer_silent, DrainCode::protocol_error, "gateway silent");
    finish(Errc::peer_silent);
  }
}

void ServiceSession::on_closed(TimePoint, std::string_view reason) {
  if (state_ == State::closed) return;
  if (!closed_) {
    closed_ = CloseInfo{
        Errc::peer_closed,
        reason.empty() ? "connection closed" : "connection closed: " + std::string(reason), 0};
  }
  finish(Errc::peer_closed);
}

Errc ServiceSession::send_response(std::uint32_t stream, const Response& response,
                                   bool end_stream) {
  if (state_ == State::closed) return Errc::session_closed;
  auto it = streams_.find(stream);
  if (it == streams_.end()) return Errc::unknown_stream;
  if (it->second.response_started) return Errc::unexpected_frame;
  // Encoded straight from the caller's response: no copy into a Frame.
  if (Errc e = queue_response(static_cast<std::uint16_t>(end_stream ? flags::kEndStream : 0),
                              stream, response);
      e != Errc::ok) {
    return e;
  }
  it->second.response_started = true;
  if (end_stream) {
    streams_.erase(it);
    maybe_finish_drain();
  }
  return Errc::ok;
}

Errc ServiceSession::send_response_data(std::uint32_t stream, std::string_view data,
                                        bool end_stream) {
  if (state_ == State::closed) return Errc::session_closed;
  auto it = streams_.find(stream);
  if (it == streams_.end()) return Errc::unknown_stream;
  if (!it->second.response_started) return Errc::unexpected_frame;
  if (Errc e = queue(Frame{static_cast<std::uint16_t>(end_stream ? flags::kEndStream : 0), stream,
                           StreamData{std::string(data)}});
      e != Errc::ok) {
    return e;
  }
  if (it->second.window < kUnlimitedWindow)
    it->second.window -= static_cast<std::int64_t>(data.size() + kCreditPerChunk);
  if (end_stream) {
    streams_.erase(it);
    maybe_finish_drain();
  }
  return Errc::ok;
}

Errc ServiceSession::grant_request_credit(std::uint32_t stream, std::uint32_t increment) {
  if (state_ == State::closed) return Errc::session_closed;
  auto it = streams_.find(stream);
  if (it == streams_.end() || !it->second.request_open) return Errc::unknown_stream;
  if (!request_credit_) return Errc::ok;  // the gateway does not use request credit
  auto& w = it->second.request_window;
  if (w < kUnlimitedWindow) w = std::min<std::int64_t>(kUnlimitedWindow - 1, w + increment);
  // A control frame, not counted against the bound: at most one per chunk received.
  queue(Frame{0, stream, Credit{increment}}, false);
  return Errc::ok;
}

std::int64_t ServiceSession::send_window(std::uint32_t stream) const noexcept {
  const auto it = streams_.find(stream);
  return it == streams_.end() ? 0 : it->second.window;
}

Errc ServiceSession::abort_stream(std::uint32_t stream, std::string message) {
  if (state_ == State::closed) return Errc::session_closed;
  if (streams_.erase(stream) == 0) return Errc::unknown_stream;
  if (message.size() > 256) {
    std::size_t cut = 256;  // not inside a UTF-8 sequence
    while (cut > 0 && (static_cast<unsigned char>(message[cut]) & 0xC0) == 0x80)
      --cut;
    message.resize(cut);
  }
  queue(Frame{0, stream,
              Cancel{static_cast<std::uint16_t>(CancelReason::handler_failed), std::move(message)}},
        false);
  maybe_finish_drain();
  return Errc::ok;
}

void ServiceSession::drain(Duration timeout, TimePoint now) {
  if (state_ == State::closed) return;
  if (state_ != State::draining) {
    queue_graceful_drain(highest_stream_, timeout, "service draining");
    state_ = State::draining;
  }
  drain_deadline_ = now + timeout;
  maybe_finish_drain();
}

void ServiceSession::maybe_finish_drain() {
  if (state_ == State::draining && streams_.empty() && drain_deadline_) {
    closed_ = CloseInfo{Errc::ok, "drained", 0};
    finish(Errc::session_closed);
  }
}

void ServiceSession::protocol_error(Errc e, std::string message, std::uint64_t offset) {
  close_with(e, DrainCode::protocol_error, std::move(message), offset);
  finish(e);
}

void ServiceSession::finish(Errc reason) {
  if (state_ == State::closed) return;
  if (!closed_) closed_ = CloseInfo{reason, {}, 0};
  streams_.clear();
  state_ = State::closed;
  emit(svc_event::Closed{*closed_});
}

}  // namespace stella::core
