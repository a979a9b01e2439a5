#include "stella/gateway/upstream_router.hpp"

#include <algorithm>

namespace stella::gw {

UpstreamRouter::UpstreamRouter(RegistrySettings settings) : registry_(std::move(settings)) {}

HelloOutcome UpstreamRouter::on_hello(std::uint64_t connection, const core::Hello& hello,
                                      core::TimePoint now, const PeerIdentity& peer) {
  return registry_.on_hello(connection, hello, now, peer);
}

std::optional<HealthTransition> UpstreamRouter::on_lifecycle(std::uint64_t connection,
                                                             const core::GatewayEvent& e,
                                                             core::TimePoint now) {
  if (std::holds_alternative<core::gw_event::HeartbeatSent>(e))
    return registry_.on_heartbeat_sent(connection, now);
  if (const auto* ack = std::get_if<core::gw_event::HeartbeatAck>(&e))
    return registry_.on_heartbeat_ack(connection, ack->rtt, ack->status, ack->in_flight, now);
  if (std::holds_alternative<core::gw_event::PeerDraining>(e))
    return registry_.on_drain(connection);
  if (std::holds_alternative<core::gw_event::Closed>(e)) on_closed(connection, now);
  return std::nullopt;
}

void UpstreamRouter::on_closed(std::uint64_t connection, core::TimePoint now) {
  forget_connection(connection);
  registry_.on_closed(connection, now);
}

CallTable::Calls& CallTable::calls_of(std::uint64_t connection) {
  if (Calls* found = find_calls(connection)) return *found;
  std::uint32_t slot = 0;
  if (!free_slots_.empty()) {
    slot = free_slots_.back();
    free_slots_.pop_back();
  } else {
    slot = static_cast<std::uint32_t>(calls_.size());
    calls_.emplace_back();
  }
  slot_of_.insert(connection, slot);
  return calls_[slot];
}

void CallTable::forget_connection(std::uint64_t connection) {
  (void)take_calls(connection);
  const std::uint32_t slot = slot_of_.erase(connection);
  if (slot == IdMap<std::uint64_t>::kNone) return;
  calls_[slot].state.reset();  // the stream table is empty (take_calls) and keeps its capacity
  free_slots_.push_back(slot);
}

std::uint32_t CallTable::forget(std::uint64_t connection, std::uint32_t stream) {
  Calls* calls = find_calls(connection);
  if (!calls) return kNoCall;
  const std::uint32_t call = calls->streams.erase(stream);
  if (call == kNoCall) return kNoCall;
  --open_;
  if (calls->state) calls->state->end_request();
  return call;
}

std::uint32_t CallTable::on_stream_event(std::uint64_t connection, const core::GatewayEvent& e) {
  std::uint32_t stream = 0;
  bool ends = false;
  if (const auto* head = std::get_if<core::gw_event::ResponseHead>(&e)) {
    stream = head->stream;
    ends = head->end_stream;
  } else if (const auto* data = std::get_if<core::gw_event::ResponseData>(&e)) {
    stream = data->stream;
    ends = data->end_stream;
  } else if (const auto* failed = std::get_if<core::gw_event::StreamFailed>(&e)) {
    stream = failed->stream;
    ends = true;
  } else if (const auto* credit = std::get_if<core::gw_event::RequestCredit>(&e)) {
    stream = credit->stream;
  } else {
    return kNoCall;
  }
  if (ends) return forget(connection, stream);
  const Calls* calls = find_calls(connection);
  return calls ? calls->streams.find(stream) : kNoCall;
}

bool CallTable::finish(std::uint64_t connection, std::uint32_t stream) {
  return forget(connection, stream) != kNoCall;
}

std::vector<std::uint32_t> CallTable::take_calls(std::uint64_t connection) {
  std::vector<std::uint32_t> out;
  Calls* calls = find_calls(connection);
  if (!calls) return out;
  calls->streams.for_each([&](std::uint32_t, std::uint32_t call) { out.push_back(call); });
  std::sort(out.begin(), out.end());
  open_ -= out.size();
  if (calls->state) {
    for (std::size_t i = 0; i < out.size(); ++i)
      calls->state->end_request();
  }
  calls->streams.clear();
  return out;
}

}  // namespace stella::gw
