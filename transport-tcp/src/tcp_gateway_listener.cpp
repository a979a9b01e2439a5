#include <unistd.h>

#include <boost/asio/post.hpp>
#include <cstdio>
#include <utility>

#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/tcp_socket.hpp"

namespace stella::transport {

using tcp = asio::ip::tcp;

GatewayListener::GatewayListener(asio::any_io_executor executor, ListenerSettings settings,
                                 const core::Clock& clock, GatewayHooks& hooks,
                                 std::shared_ptr<Admission> admission)
    : executor_(executor),
      settings_(std::move(settings)),
      clock_(clock),
      hooks_(hooks),
      admission_(admission ? std::move(admission) : std::make_shared<Admission>(settings_)),
      acceptor_(executor) {}

GatewayListener::~GatewayListener() = default;

void GatewayListener::log_failure(std::exception_ptr e) const {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    const std::string line = std::string("service connection task failed: ") + ex.what();
    if (settings_.log)
      settings_.log(line);
    else
      std::fprintf(stderr, "stella: %s\n", line.c_str());
  }
}

std::error_code GatewayListener::listen(const tcp::endpoint& endpoint) {
  return open_acceptor(acceptor_, endpoint);
}

tcp::endpoint GatewayListener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

asio::awaitable<void> GatewayListener::run() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted) break;
      continue;  // EMFILE and friends: keep accepting
    }
    tune_socket(socket, settings_.receive_buffer_size, settings_.send_buffer_size);
    ConnectionInfo info;
    info.origin = ConnectionInfo::Origin::tcp;
    boost::system::error_code rec;
    const auto remote = socket.remote_endpoint(rec);
    info.peer = rec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
    hand_over(std::move(socket), std::move(info));
  }
}

namespace {
void close_socket(tcp::socket& s) {
  boost::system::error_code ignored;
  s.shutdown(tcp::socket::shutdown_both, ignored);
  s.close(ignored);
}

/// A socket's descriptor on its way to another listener's executor: closed if it never arrives
/// (that executor stopped first).
struct HandedDescriptor {
  explicit HandedDescriptor(int d) noexcept : fd(d) {}
  HandedDescriptor(HandedDescriptor&& o) noexcept : fd(std::exchange(o.fd, -1)) {}
  HandedDescriptor(const HandedDescriptor&) = delete;
  HandedDescriptor& operator=(const HandedDescriptor&) = delete;
  HandedDescriptor& operator=(HandedDescriptor&&) = delete;
  ~HandedDescriptor() {
    if (fd >= 0) ::close(fd);
  }
  int fd;
};
}  // namespace

void GatewayListener::adopt_tcp(tcp::socket socket, ConnectionInfo info) {
  // Over maxConnections adopt() closes at once rather than queue without bound.
  adopt<tcp::socket>(std::move(socket), std::move(info), &close_socket);
}

void GatewayListener::hand_over(tcp::socket socket, ConnectionInfo info) {
  GatewayListener* to = spread_.empty() ? this : spread_[next_spread_++ % spread_.size()];
  // Refused here already when full, so a connection storm does not queue descriptors on the
  // other executors (adopt() there counts it, and may still refuse it).
  if (to == this || !accepting(info.origin) || !accepting_from(source_of(info.peer))) {
    adopt_tcp(std::move(socket), std::move(info));
    return;
  }
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  if (ec) {
    close_socket(socket);
    return;
  }
  HandedDescriptor fd(socket.release(ec));
  if (ec) {
    close_socket(socket);
    return;
  }
  asio::post(to->executor_, [to, protocol, fd = std::move(fd), info = std::move(info)]() mutable {
    tcp::socket s(to->executor_);
    boost::system::error_code aec;
    s.assign(protocol, fd.fd, aec);
    if (aec) return;  // fd closes with the handler
    fd.fd = -1;       // the socket owns it now
    to->adopt_tcp(std::move(s), std::move(info));
  });
}

void GatewayListener::finished(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  hello_done(*it->second);
  admission_->closed(static_cast<std::size_t>(it->second->info.origin));
  connections_.erase(it);
}

void GatewayListener::hello_done(Connection& c) {
  if (!c.hello_pending) return;
  c.hello_pending = false;
  admission_->hello_done(c.source);
}

void GatewayListener::handle_event(Connection& c, core::GatewayEvent& e) {
  if (auto* hello = std::get_if<core::gw_event::HelloReceived>(&e)) {
    hello_done(c);
    core::HelloAck ack;
    std::string reason;
    if (hooks_.on_hello(c.info, hello->hello, ack, reason)) {
      c.session.accept_hello(std::move(ack), clock_.now());
    } else {
      c.session.reject_hello(core::DrainCode::hello_rejected, reason);
    }
    return;
  }
  hooks_.on_event(c.info, e);
}

void GatewayListener::stop(core::Duration timeout) {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [id, conn] : connections_) {
    conn->session.drain(timeout, clock_.now());
    conn->wake();
  }
}

core::GatewaySession* GatewayListener::session(std::uint64_t id) {
  auto it = connections_.find(id);
  return it == connections_.end() ? nullptr : &it->second->session;
}

void GatewayListener::wake(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it != connections_.end()) it->second->wake();
}

}  // namespace stella::transport
