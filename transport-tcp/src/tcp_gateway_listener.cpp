#include <cstdio>

#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/tcp_socket.hpp"

namespace stella::transport {

using tcp = asio::ip::tcp;

GatewayListener::GatewayListener(asio::any_io_executor executor, ListenerSettings settings,
                                 const core::Clock& clock, GatewayHooks& hooks)
    : executor_(executor),
      settings_(std::move(settings)),
      clock_(clock),
      hooks_(hooks),
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
    // Over maxConnections adopt() closes at once rather than queue without bound.
    adopt<tcp::socket>(std::move(socket), std::move(info), [](tcp::socket& s) {
      boost::system::error_code ignored;
      s.shutdown(tcp::socket::shutdown_both, ignored);
      s.close(ignored);
    });
  }
}

void GatewayListener::finished(std::uint64_t id) {
  auto it = connections_.find(id);
  if (it == connections_.end()) return;
  hello_done(*it->second);
  --live_by_origin_[static_cast<std::size_t>(it->second->info.origin)];
  connections_.erase(it);
}

void GatewayListener::hello_done(Connection& c) {
  if (!c.hello_pending) return;
  c.hello_pending = false;
  --pending_hellos_;
  const auto it = pending_by_source_.find(c.source);
  if (it != pending_by_source_.end() && --it->second == 0) pending_by_source_.erase(it);
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
