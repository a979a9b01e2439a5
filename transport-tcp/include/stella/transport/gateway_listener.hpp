// The gateway's side of the service transport over TCP: accepts service connections, runs one
// core::GatewaySession per connection through a SessionRunner, and reports what happens to a
// GatewayHooks implementation (registration decisions, heartbeats, responses, losses).
// Everything runs on the listener's executor; use a single-threaded io_context (or a strand).
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>

#include "stella/core/gateway_session.hpp"
#include "stella/transport/session_runner.hpp"

namespace stella::transport {

struct ConnectionInfo {
  std::uint64_t id = 0;
  std::string peer;  // "127.0.0.1:53122"
};

class GatewayHooks {
 public:
  virtual ~GatewayHooks() = default;
  /// A HELLO arrived: fill `ack` with accepted and rejected endpoints, or return false to refuse
  /// the whole HELLO (`reason` is sent in the DRAIN).
  virtual bool on_hello(const ConnectionInfo& conn, const core::Hello& hello, core::HelloAck& ack,
                        std::string& reason) = 0;
  /// Every other session event (heartbeat acks and misses, responses, drains, failures, close).
  virtual void on_event(const ConnectionInfo& conn, core::GatewayEvent& event) = 0;
};

struct ListenerSettings {
  core::GatewaySessionConfig session;
  std::size_t max_connections = 1000;  // transports.tcp.maxConnections
  int receive_buffer_size = 65536;     // transports.tcp.receiveBufferSize (0: OS default)
  int send_buffer_size = 65536;        // transports.tcp.sendBufferSize (0: OS default)
};

class GatewayListener {
 public:
  GatewayListener(asio::any_io_executor executor, ListenerSettings settings,
                  const core::Clock& clock, GatewayHooks& hooks);
  ~GatewayListener();

  /// Binds and listens. Returns the error (address in use, permission) instead of throwing.
  std::error_code listen(const asio::ip::tcp::endpoint& endpoint);
  asio::ip::tcp::endpoint local_endpoint() const;

  /// The accept loop; returns after stop().
  asio::awaitable<void> run();
  /// Stops accepting and drains every session (DRAIN, in-flight finish within `timeout`).
  void stop(core::Duration timeout);

  /// A live, registered session by connection id (nullptr when gone). After issuing commands on
  /// it, call wake(id).
  core::GatewaySession* session(std::uint64_t id);
  void wake(std::uint64_t id);
  std::size_t connections() const noexcept { return connections_.size(); }

 private:
  struct Connection;
  asio::awaitable<void> serve(std::shared_ptr<Connection> conn);

  asio::any_io_executor executor_;
  ListenerSettings settings_;
  const core::Clock& clock_;
  GatewayHooks& hooks_;
  asio::ip::tcp::acceptor acceptor_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
  bool stopping_ = false;
};

}  // namespace stella::transport
