// The gateway's side of the service transport: runs one core::GatewaySession per service
// connection through a SessionRunner, and reports what happens to a GatewayHooks implementation
// (registration decisions, heartbeats, responses, losses).
//
// GatewayListener accepts TCP connections itself; any other connected stream (a TLS stream after
// its handshake, an in-memory pipe) is handed over with adopt(). Everything runs on the
// listener's executor; use a single-threaded io_context (or a strand).
//
// Several workers: one listener per worker, each on its worker's executor, sharing one
// Admission (the limits count across all of them) and numbering connections so that an id
// names its listener (ListenerSettings::id_stride). The one that accepts TCP hands each new
// connection to the next listener in turn (spread_over()), so a service that connects once per
// worker has a connection on every worker.
#pragma once

#include <algorithm>
#include <array>
#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "stella/core/gateway_session.hpp"
#include "stella/transport/session_runner.hpp"

namespace stella::transport {

struct ConnectionInfo {
  std::uint64_t id = 0;
  std::string peer;                       // "127.0.0.1:53122"
  std::string client_certificate_sha256;  // hex thumbprint of the TLS client certificate, if any
  /// The verified client certificate's subject CN and DNS/URI subject alternative names.
  std::string client_certificate_cn{};
  std::vector<std::string> client_certificate_sans{};
  /// Which listener accepted it (for the per-transport connection limits).
  enum class Origin : std::uint8_t { tcp = 0, tls = 1, other = 2 } origin = Origin::other;
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
  /// Every session, whatever accepted it.
  std::size_t max_connections = 1000;
  /// Sessions per origin (tcp, tls, other): transports.tcp.maxConnections and
  /// transports.tls.maxConnections apply to their own listener.
  std::array<std::size_t, 3> max_connections_by_origin{1000, 1000, 1000};
  /// A write to a session's peer that makes no progress for this long closes the session: the
  /// peer stopped reading (transports.tcp.writeTimeout / transports.tls.writeTimeout).
  std::array<core::Duration, 3> write_timeout_by_origin{
      std::chrono::seconds(30), std::chrono::seconds(30), std::chrono::seconds(30)};
  int receive_buffer_size = 65536;  // transports.tcp.receiveBufferSize (0: OS default)
  int send_buffer_size = 65536;     // transports.tcp.sendBufferSize (0: OS default)
  /// Connections accepted but not yet past their HELLO. Beyond it new connections are closed at
  /// once, so a reconnect storm (every service of a region at the same moment) cannot pile up
  /// sessions that each hold buffers until their hello_timeout; the SDK's jittered backoff
  /// spreads the retries.
  std::size_t max_pending_hellos = 256;
  /// The same per source address (transports.tcp.maxPendingHellosPerSource), so one host
  /// opening idle connections cannot take every HELLO slot from the others.
  std::size_t max_pending_hellos_per_source = 32;
  /// Where a failed connection task is reported; empty: stderr.
  std::function<void(const std::string&)> log;
  /// Connection ids are id_offset + k * id_stride (k = 1, 2, ...): with one listener per worker,
  /// stride = the number of workers and offset = the worker's index, so id % stride names the
  /// listener (and the worker) that runs the connection.
  std::uint64_t id_stride = 1;
  std::uint64_t id_offset = 0;
};

/// What the limits of ListenerSettings count (connections, by origin, pending HELLOs, by
/// source), shared by the listeners of one gateway. Thread-safe; taken once per connection
/// accepted, HELLO and close, never per frame.
class Admission {
 public:
  explicit Admission(const ListenerSettings& s)
      : max_connections_(s.max_connections),
        max_by_origin_(s.max_connections_by_origin),
        max_pending_hellos_(s.max_pending_hellos),
        max_pending_per_source_(s.max_pending_hellos_per_source) {}

  /// Counts a new connection from `source` (pending its HELLO), or refuses it when a limit is
  /// reached (counted in refused_total()).
  bool admit(std::size_t origin, const std::string& source) {
    const std::lock_guard lock(mu_);
    if (!accepting_locked(origin) || !accepting_from_locked(source)) {
      ++refused_total_;
      return false;
    }
    ++connections_;
    ++pending_hellos_;
    ++pending_by_source_[source];
    ++live_by_origin_[origin];
    return true;
  }
  /// The connection's HELLO arrived (or it ended before one).
  void hello_done(const std::string& source) {
    const std::lock_guard lock(mu_);
    --pending_hellos_;
    const auto it = pending_by_source_.find(source);
    if (it != pending_by_source_.end() && --it->second == 0) pending_by_source_.erase(it);
  }
  void closed(std::size_t origin) {
    const std::lock_guard lock(mu_);
    --connections_;
    --live_by_origin_[origin];
  }
  /// A connection admit() counted that will not be served after all (closed before its HELLO).
  void release(std::size_t origin, const std::string& source) {
    hello_done(source);
    closed(origin);
  }
  bool accepting(std::size_t origin) const {
    const std::lock_guard lock(mu_);
    return accepting_locked(origin);
  }
  bool accepting_from(const std::string& source) const {
    const std::lock_guard lock(mu_);
    return accepting_from_locked(source);
  }
  std::size_t connections() const {
    const std::lock_guard lock(mu_);
    return connections_;
  }
  std::size_t pending_hellos() const {
    const std::lock_guard lock(mu_);
    return pending_hellos_;
  }
  std::uint64_t refused_total() const {
    const std::lock_guard lock(mu_);
    return refused_total_;
  }

 private:
  bool accepting_locked(std::size_t origin) const noexcept {
    return connections_ < max_connections_ && live_by_origin_[origin] < max_by_origin_[origin] &&
           pending_hellos_ < max_pending_hellos_;
  }
  bool accepting_from_locked(const std::string& source) const {
    const auto it = pending_by_source_.find(source);
    return it == pending_by_source_.end() || it->second < max_pending_per_source_;
  }

  const std::size_t max_connections_;
  const std::array<std::size_t, 3> max_by_origin_;
  const std::size_t max_pending_hellos_;
  const std::size_t max_pending_per_source_;
  mutable std::mutex mu_;
  std::size_t connections_ = 0;
  std::array<std::size_t, 3> live_by_origin_{};
  std::size_t pending_hellos_ = 0;
  std::unordered_map<std::string, std::size_t> pending_by_source_;
  std::uint64_t refused_total_ = 0;
};

class GatewayListener {
 public:
  /// `admission`: the limits' counters shared with the gateway's other listeners; null: its own.
  GatewayListener(asio::any_io_executor executor, ListenerSettings settings,
                  const core::Clock& clock, GatewayHooks& hooks,
                  std::shared_ptr<Admission> admission = nullptr);
  ~GatewayListener();

  /// Binds and listens for plain TCP. Returns the error instead of throwing.
  std::error_code listen(const asio::ip::tcp::endpoint& endpoint);
  asio::ip::tcp::endpoint local_endpoint() const;

  /// The TCP accept loop; returns after stop().
  asio::awaitable<void> run();
  /// TCP connections accepted by run() go to these listeners in turn (this one may be among
  /// them), each adopted on its own executor. Set before run(); the listeners must share this
  /// one's Admission and outlive it.
  void spread_over(std::vector<GatewayListener*> listeners) { spread_ = std::move(listeners); }
  /// Stops accepting and drains every session (DRAIN, in-flight finish within `timeout`).
  void stop(core::Duration timeout);

  /// Serves an already-connected stream of any type. `close` shuts it down. Refused (closed at
  /// once) beyond max_connections or after stop(). Returns the connection id (0 if refused).
  template <class Stream>
  std::uint64_t adopt(Stream stream, ConnectionInfo info, std::function<void(Stream&)> close);

  /// A live session by connection id (nullptr when gone). After commands on it, call wake(id).
  core::GatewaySession* session(std::uint64_t id);
  void wake(std::uint64_t id);
  /// This listener's own sessions.
  std::size_t connections() const noexcept { return connections_.size(); }
  bool accepting(ConnectionInfo::Origin origin = ConnectionInfo::Origin::other) const {
    return !stopping_ && admission_->accepting(static_cast<std::size_t>(origin));
  }
  /// Whether `source` (an address, see source_of) may open one more connection before HELLO.
  bool accepting_from(const std::string& source) const {
    return admission_->accepting_from(source);
  }
  /// The source a peer counts against: its IPv4 address, or the /64 of its IPv6 address (one
  /// host usually holds a whole /64); IPv4-mapped IPv6 counts as IPv4. Listeners write peers as
  /// address + ":" + port, so the last ':' starts the port.
  static std::string source_of(std::string_view peer) {
    const auto colon = peer.rfind(':');
    const std::string address(colon == std::string_view::npos ? peer : peer.substr(0, colon));
    boost::system::error_code ec;
    auto ip = asio::ip::make_address(address, ec);
    if (ec || ip.is_v4()) return address;
    auto v6 = ip.to_v6();
    if (v6.is_v4_mapped()) return asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_string();
    auto bytes = v6.to_bytes();
    std::fill(bytes.begin() + 8, bytes.end(), 0);
    return asio::ip::address_v6(bytes).to_string() + "/64";
  }
  /// Across the listeners sharing this one's Admission.
  std::size_t pending_hellos() const { return admission_->pending_hellos(); }
  /// Connections closed at once because a limit was reached (maxConnections, pending HELLOs),
  /// across the listeners sharing this one's Admission.
  std::uint64_t refused_total() const { return admission_->refused_total(); }

 private:
  struct Connection {
    Connection(core::GatewaySessionConfig cfg, const core::Clock& clock, ConnectionInfo i)
        : session(std::move(cfg), clock.now()), info(std::move(i)) {}
    virtual ~Connection() = default;
    virtual void wake() = 0;
    core::GatewaySession session;
    ConnectionInfo info;
    bool hello_pending = true;  // counted as a pending HELLO until its HELLO (or its end)
    std::string source;         // its source in the Admission while hello_pending
  };
  template <class Stream>
  struct StreamConnection;

  void handle_event(Connection& c, core::GatewayEvent& e);
  void finished(std::uint64_t id);
  void hello_done(Connection& c);
  void log_failure(std::exception_ptr e) const;
  /// A TCP connection run() accepted, served here or by the next listener of spread_.
  void hand_over(asio::ip::tcp::socket socket, ConnectionInfo info);
  /// adopt()'s second half, for a connection the Admission already counted (from `source`).
  template <class Stream>
  std::uint64_t serve(Stream stream, ConnectionInfo info, std::function<void(Stream&)> close,
                      const std::string& source);

  asio::any_io_executor executor_;
  ListenerSettings settings_;
  const core::Clock& clock_;
  GatewayHooks& hooks_;
  std::shared_ptr<Admission> admission_;
  asio::ip::tcp::acceptor acceptor_;
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections_;
  std::uint64_t next_id_ = 1;
  std::vector<GatewayListener*> spread_;
  std::size_t next_spread_ = 0;
  bool stopping_ = false;
};

template <class Stream>
struct GatewayListener::StreamConnection final : Connection {
  StreamConnection(Stream s, core::GatewaySessionConfig cfg, const core::Clock& clock,
                   ConnectionInfo i, std::function<void(Stream&)> close_fn)
      : Connection(std::move(cfg), clock, std::move(i)),
        stream(std::move(s)),
        close(std::move(close_fn)) {}
  void wake() override {
    if (runner) runner->wake();
  }
  Stream stream;
  std::function<void(Stream&)> close;
  std::unique_ptr<SessionRunner<Stream, core::GatewaySession, core::GatewayEvent>> runner;
};

template <class Stream>
std::uint64_t GatewayListener::adopt(Stream stream, ConnectionInfo info,
                                     std::function<void(Stream&)> close) {
  const std::string source = source_of(info.peer);
  if (stopping_ || !admission_->admit(static_cast<std::size_t>(info.origin), source)) {
    close(stream);
    return 0;
  }
  return serve<Stream>(std::move(stream), std::move(info), std::move(close), source);
}

template <class Stream>
std::uint64_t GatewayListener::serve(Stream stream, ConnectionInfo info,
                                     std::function<void(Stream&)> close,
                                     const std::string& source) {
  if (stopping_) {  // counted, and never to be served: given back
    admission_->release(static_cast<std::size_t>(info.origin), source);
    close(stream);
    return 0;
  }
  info.id = settings_.id_offset + settings_.id_stride * next_id_++;
  auto conn = std::make_shared<StreamConnection<Stream>>(std::move(stream), settings_.session,
                                                         clock_, std::move(info), std::move(close));
  conn->source = source;
  connections_.emplace(conn->info.id, conn);
  auto* c = conn.get();
  c->runner = std::make_unique<SessionRunner<Stream, core::GatewaySession, core::GatewayEvent>>(
      c->stream, c->session, clock_, [this, c](core::GatewayEvent& e) { handle_event(*c, e); },
      [c] { c->close(c->stream); }, 64 * 1024,
      settings_.write_timeout_by_origin[static_cast<std::size_t>(c->info.origin)]);
  // A peer that asks (heartbeats, requests it provokes) faster than it reads the answers stops
  // being read until they drain; if it never reads, the write timeout ends it.
  c->runner->pause_reads_above(settings_.session.max_output_bytes);
  auto serve = [](GatewayListener* self,
                  std::shared_ptr<StreamConnection<Stream>> keep) -> asio::awaitable<void> {
    co_await keep->runner->run();
    keep->close(keep->stream);
    self->finished(keep->info.id);
  };
  asio::co_spawn(executor_, serve(this, conn), [this](std::exception_ptr e) { log_failure(e); });
  return c->info.id;
}

}  // namespace stella::transport
