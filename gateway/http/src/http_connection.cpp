// Accepted sockets become ExchangeLoops: plain TCP at once, TLS after a handshake bounded by
// http.headerTimeout. The two stream types are instantiated here, once.
#include "stella/gateway/http/http_connection.hpp"

#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/context.hpp>
#include <optional>

#include "exchange_loop.hpp"
#include "stella/gateway/auth/jose.hpp"
#include "stella/transport/tls/tls_context.hpp"

namespace stella::gw::http {

bool valid_field_value(std::string_view v) noexcept {
  for (char c : v) {
    const auto u = static_cast<unsigned char>(c);
    if ((u < 0x20 && u != '\t') || u == 0x7F) return false;
  }
  return true;
}

bool valid_field_name(std::string_view n) noexcept {
  if (n.empty()) return false;
  for (char c : n)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

bool hop_by_hop_response(std::string_view name) noexcept {
  static constexpr std::string_view kHop[] = {
      "connection", "keep-alive", "proxy-connection", "transfer-encoding", "upgrade",
      "te",         "trailer",    "content-length",   "x-correlation-id",  "traceparent"};
  for (auto h : kHop)
    if (iequals(name, h)) return true;
  return false;
}

// Asio's to_string() goes through inet_ntop, which formats an IPv4 address with sprintf (about
// 1,400 instructions, 3 % of what a new connection costs the gateway in user space).
std::string address_text(const asio::ip::address& address) {
  if (!address.is_v4()) return address.to_string();
  const auto bytes = address.to_v4().to_bytes();
  std::string text;
  text.reserve(15);
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0) text.push_back('.');
    const unsigned b = bytes[i];
    if (b >= 100) text.push_back(static_cast<char>('0' + b / 100));
    if (b >= 10) text.push_back(static_cast<char>('0' + b / 10 % 10));
    text.push_back(static_cast<char>('0' + b % 10));
  }
  return text;
}

namespace {

template <class Stream>
void launch(WorkerContext& w, Stream stream, ConnectionFacts facts) {
  auto loop = std::make_shared<ExchangeLoop<Stream>>(w, std::move(stream), std::move(facts));
  asio::co_spawn(w.io, loop->run(), log_failure(w, "http connection"));
}

ConnectionFacts facts_of(const tcp::endpoint& peer, bool tls, bool management_only) {
  ConnectionFacts f;
  f.tls = tls;
  f.management_only = management_only;
  f.peer_ip = address_text(peer.address());
  return f;
}

// The handshake races a timer with awaitable operators: whichever finishes first cancels the
// other inside the same coroutine, so nothing outlives this frame (a completion handler that
// captured a local here could run after the frame was freed).
asio::awaitable<void> handshake_then_serve(WorkerContext& w, tcp::socket sock,
                                           std::shared_ptr<asio::ssl::context> ctx,
                                           ConnectionFacts facts) {
  using namespace asio::experimental::awaitable_operators;
  std::optional<TlsStream> stream;
  try {
    stream.emplace(std::move(sock), ctx->native_handle());
  } catch (const std::bad_alloc&) {  // no SSL object: the socket closed with the constructor
    w.shared.connections.fetch_sub(1, std::memory_order_relaxed);
    throw;
  }
  asio::steady_timer timer(w.io);
  timer.expires_after(w.shared.config->http.header_timeout);
  auto result = co_await (stream->async_handshake(kTuple) || timer.async_wait(kTuple));
  const bool handshaken = result.index() == 0 && !std::get<0>(std::get<0>(result));
  if (!handshaken) {
    boost::system::error_code ignore;
    stream->next_layer().close(ignore);
    w.shared.connections.fetch_sub(1, std::memory_order_relaxed);
    co_return;
  }
  // RFC 8705: the certificate a bound token must match is this connection's verified leaf.
  if (auto t = transport::tls::peer_certificate_sha256(stream->native_handle()))
    facts.client_cert_x5t = auth::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(t->data()), t->size()));
  launch(w, std::move(*stream), std::move(facts));
}

}  // namespace

void serve_http_connection(WorkerContext& worker, tcp::socket socket, const tcp::endpoint& peer,
                           bool management_only) {
  // (TCP_NODELAY comes from the listener: GatewayServer sets it on the acceptors.)
  auto facts = facts_of(peer, false, management_only);
  launch(worker, std::move(socket), std::move(facts));
}

void serve_https_connection(WorkerContext& worker, tcp::socket socket, const tcp::endpoint& peer,
                            std::shared_ptr<asio::ssl::context> context) {
  auto facts = facts_of(peer, true, false);
  asio::co_spawn(
      worker.io,
      handshake_then_serve(worker, std::move(socket), std::move(context), std::move(facts)),
      log_failure(worker, "https handshake"));
}

}  // namespace stella::gw::http
