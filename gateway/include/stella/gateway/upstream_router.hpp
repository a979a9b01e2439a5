// The gateway's end of the service plane, sans-I/O: what happens to a service connection's
// events (HELLO → registration, heartbeats and drains → health, close → leaving the route
// table) and the call table behind its streams ((connection, stream) → the owner's call, with
// the instance's in-flight count kept as streams open and end). One implementation for the
// production gateway (its registry behind gateway/http RegistryHooks, its calls in the
// UpstreamHub's per-worker CallTables) and the simulator, so the simulator runs the production
// wiring rather than a copy of it.
//
// A "call" is the owner's handle for one request (an index into its own table: the hub's
// UpstreamCall slots, the simulator's request slots). Not thread-safe: one owner (a gateway
// worker's event loop, or the simulator's loop). The gateway uses the call table alone
// (CallTable): each worker's hub lane keeps the calls of its own connections, and the registry
// is shared behind a lock (gateway/http RegistryHooks).
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "stella/core/gateway_session.hpp"
#include "stella/gateway/service_registry.hpp"
#include "stella/gateway/stream_map.hpp"

namespace stella::gw {

/// (connection, stream) → call, and the in-flight counts of the instances behind them.
class CallTable {
 public:
  static constexpr std::uint32_t kNoCall = StreamMap::kNone;

  /// Opens a stream on `session` (the session of `connection`) with `request`, and remembers it
  /// as `call`; the instance's in-flight count goes up (its InstanceState, `state_of()` on the
  /// connection's first call: null when unregistered). The session's error when it cannot take
  /// the request (nothing is remembered then).
  template <class StateOf>
  core::Errc start(std::uint64_t connection, core::GatewaySession& session,
                   const core::Request& request, bool end_stream, core::TimePoint now,
                   std::uint32_t call, std::uint32_t& stream, StateOf&& state_of) {
    const core::Errc e = session.send_request(request, end_stream, now, stream);
    if (e != core::Errc::ok) return e;
    Calls& calls = calls_of(connection);
    if (!calls.state) calls.state = state_of();
    calls.streams.insert(stream, call);
    ++open_;
    if (calls.state) calls.state->begin_request();
    return core::Errc::ok;
  }
  /// The call a stream event (ResponseHead, ResponseData, StreamFailed, RequestCredit) belongs
  /// to; kNoCall for other events and for streams that are no longer open (cancelled
  /// meanwhile). An event that ends the stream (the last part, a failure) also forgets it.
  std::uint32_t on_stream_event(std::uint64_t connection, const core::GatewayEvent& e);
  /// Forgets a call that ends early (cancelled, timed out). Whether it was open.
  bool finish(std::uint64_t connection, std::uint32_t stream);
  /// The calls still open on `connection`, by handle, forgotten (the connection is gone).
  std::vector<std::uint32_t> take_calls(std::uint64_t connection);
  /// The connection is gone: its calls are forgotten, and so is the connection.
  void forget_connection(std::uint64_t connection);
  std::size_t open_calls() const noexcept { return open_; }

 private:
  struct Calls {
    StreamMap streams;  // stream id → call
    std::shared_ptr<InstanceState> state;
  };
  /// Forgets (connection, stream); the call, or kNoCall.
  std::uint32_t forget(std::uint64_t connection, std::uint32_t stream);
  /// The connection's entry, or null.
  Calls* find_calls(std::uint64_t connection) noexcept {
    const std::uint32_t slot = slot_of_.find(connection);
    return slot == IdMap<std::uint64_t>::kNone ? nullptr : &calls_[slot];
  }
  /// The connection's entry, made on its first call.
  Calls& calls_of(std::uint64_t connection);

  /// One entry per connection with calls, in slots: a gone connection's slot (its stream
  /// table's capacity with it) serves a later connection, so the slots are bounded by the most
  /// connections ever open at once.
  std::vector<Calls> calls_;
  std::vector<std::uint32_t> free_slots_;
  IdMap<std::uint64_t> slot_of_;  // connection id → index into calls_
  std::size_t open_ = 0;
};

/// The registry and one call table together, for one owner of both: the simulator and
/// `stella-gw listen` (RegistryHooks holds one; the gateway's calls are in its hub's lanes).
class UpstreamRouter : public CallTable {
 public:
  explicit UpstreamRouter(RegistrySettings settings = {});

  ServiceRegistry& registry() noexcept { return registry_; }
  const ServiceRegistry& registry() const noexcept { return registry_; }

  // ---- registry events ------------------------------------------------------------------------
  /// A HELLO: register (or refuse) the instance; `outcome.ack` answers it.
  HelloOutcome on_hello(std::uint64_t connection, const core::Hello& hello, core::TimePoint now,
                        const PeerIdentity& peer = {});
  /// HeartbeatSent, HeartbeatAck, PeerDraining and Closed update the registry (Closed as
  /// on_closed()); any other event is not the registry's and changes nothing. The health
  /// transition it caused, if any.
  std::optional<HealthTransition> on_lifecycle(std::uint64_t connection,
                                               const core::GatewayEvent& e, core::TimePoint now);
  /// The connection is gone: it leaves the route table, and its calls are forgotten (take them
  /// first with take_calls() when they still need an answer).
  void on_closed(std::uint64_t connection, core::TimePoint now);

  // ---- calls (CallTable's, with the registry's instance state) ------------------------------
  core::Errc start(std::uint64_t connection, core::GatewaySession& session,
                   const core::Request& request, bool end_stream, core::TimePoint now,
                   std::uint32_t call, std::uint32_t& stream) {
    return CallTable::start(connection, session, request, end_stream, now, call, stream,
                            [&] { return registry_.routes().instance_state(connection); });
  }

 private:
  ServiceRegistry registry_;
};

}  // namespace stella::gw
