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

/// A socket's descriptor on its way to another listener's executor, counted in the Admission
/// already: closed, and its count given back, if it never arrives (that executor stopped first).
struct HandedDescriptor {
  HandedDescriptor(int d, std::shared_ptr<Admission> a, std::string src, std::size_t o) noexcept
      : fd(d), admission(std::move(a)), source(std::move(src)), origin(o) {}
  HandedDescriptor(HandedDescriptor&& o) noexcept
      : fd(std::exchange(o.fd, -1)),
        admission(std::move(o.admission)),
        source(std::move(o.source)),
        origin(o.origin) {}
  HandedDescriptor(const HandedDescriptor&) = delete;
  HandedDescriptor& operator=(const HandedDescriptor&) = delete;
  HandedDescriptor& operator=(HandedDescriptor&&) = delete;
  ~HandedDescriptor() {
    if (fd < 0) return;
    ::close(fd);
    admission->release(origin, source);
  }
  int fd;
  std::shared_ptr<Admission> admission;
  std::string source;
  std::size_t origin;
};
}  // namespace

void GatewayListener::hand_over(tcp::socket socket, ConnectionInfo info) {
  GatewayListener* to = spread_.empty() ? this : spread_[next_spread_++ % spread_.size()];
  // Counted here, before it may be posted: over a limit it is closed at once rather than queued
  // without bound, and descriptors on their way to a slow worker count like the connections
  // they will be.
  std::string source = source_of(info.peer);
  const auto origin = static_cast<std::size_t>(info.origin);
  if (stopping_ || !admission_->admit(origin, source)) {
    close_socket(socket);
    return;
  }
  if (to == this) {
    serve<tcp::socket>(std::move(socket), std::move(info), &close_socket, source);
    return;
  }
  boost::system::error_code ec;
  const auto protocol = socket.local_endpoint(ec).protocol();
  const int fd = ec ? -1 : socket.release(ec);
  if (ec || fd < 0) {
    close_socket(socket);
    admission_->release(origin, source);
    return;
  }
  HandedDescriptor handed(fd, admission_, std::move(source), origin);
  asio::post(to->executor_,
             [to, protocol, handed = std::move(handed), info = std::move(info)]() mutable {
               tcp::socket s(to->executor_);
               boost::system::error_code aec;
               s.assign(protocol, handed.fd, aec);
               if (aec) return;  // closed and given back with `handed`
               handed.fd = -1;   // the socket owns it now
               to->serve<tcp::socket>(std::move(s), std::move(info), &close_socket, handed.source);
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
