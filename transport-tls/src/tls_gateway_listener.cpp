#include "stella/transport/tls/tls_gateway_listener.hpp"
#include "stella/transport/tcp_socket.hpp"

#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <cstdio>

namespace stella::transport::tls {
namespace {

using tcp = asio::ip::tcp;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

void close_stream(SslStream& s) {
  // No close_notify: the frame protocol ends sessions itself (DRAIN / close), and a synchronous
  // TLS shutdown could block on a peer that stopped reading.
  boost::system::error_code ignored;
  s.lowest_layer().shutdown(tcp::socket::shutdown_both, ignored);
  s.lowest_layer().close(ignored);
}

// Which refusal a failed server handshake is, and a human detail for the log line.
TlsRefusal classify(const boost::system::error_code& ec, SSL* ssl, std::string& detail) {
  detail = ec.message();
  if (ec.category() == asio::error::get_ssl_category()) {
    const auto reason =
        ERR_GET_REASON(static_cast<unsigned long>(static_cast<unsigned>(ec.value())));
    if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE) {
      return TlsRefusal::client_certificate_missing;
    }
    const long verify = SSL_get_verify_result(ssl);
    if (reason == SSL_R_CERTIFICATE_VERIFY_FAILED || verify != X509_V_OK) {
      detail += std::string(": ") + X509_verify_cert_error_string(verify);
      return TlsRefusal::client_certificate_untrusted;
    }
  }
  return TlsRefusal::handshake_failed;
}

}  // namespace

std::string_view to_string(TlsRefusal r) noexcept {
  switch (r) {
    case TlsRefusal::handshake_failed:
      return "handshake_failed";
    case TlsRefusal::handshake_timeout:
      return "handshake_timeout";
    case TlsRefusal::client_certificate_missing:
      return "client_certificate_missing";
    case TlsRefusal::client_certificate_untrusted:
      return "client_certificate_untrusted";
    case TlsRefusal::thumbprint_refused:
      return "thumbprint_refused";
    case TlsRefusal::over_capacity:
      return "over_capacity";
  }
  return "?";
}

TlsGatewayListener::TlsGatewayListener(asio::any_io_executor executor,
                                       std::shared_ptr<ServerTlsContext> context,
                                       GatewayListener& sessions, TlsListenerSettings settings)
    : executor_(executor),
      context_(std::move(context)),
      sessions_(sessions),
      settings_(std::move(settings)),
      acceptor_(executor) {}

TlsGatewayListener::~TlsGatewayListener() = default;

void TlsGatewayListener::log(const std::string& line) {
  if (settings_.log) {
    settings_.log(line);
  } else {
    std::fprintf(stderr, "%s %s\n", core::wall_clock_rfc3339().c_str(), line.c_str());
  }
}

void TlsGatewayListener::refuse(TlsRefusal reason, const std::string& peer,
                                const std::string& detail) {
  switch (reason) {
    case TlsRefusal::handshake_failed:
      ++stats_.handshake_failed;
      break;
    case TlsRefusal::handshake_timeout:
      ++stats_.handshake_timeout;
      break;
    case TlsRefusal::client_certificate_missing:
      ++stats_.client_certificate_missing;
      break;
    case TlsRefusal::client_certificate_untrusted:
      ++stats_.client_certificate_untrusted;
      break;
    case TlsRefusal::thumbprint_refused:
      ++stats_.thumbprint_refused;
      break;
    case TlsRefusal::over_capacity:
      ++stats_.over_capacity;
      break;
  }
  log("tls " + peer + " refused: " + std::string(to_string(reason)) +
      (detail.empty() ? "" : " (" + detail + ")"));
}

std::error_code TlsGatewayListener::listen(const tcp::endpoint& endpoint) {
  return open_acceptor(acceptor_, endpoint);
}

tcp::endpoint TlsGatewayListener::local_endpoint() const {
  boost::system::error_code ec;
  return acceptor_.local_endpoint(ec);
}

asio::awaitable<void> TlsGatewayListener::run() {
  while (!stopping_) {
    auto [ec, socket] = co_await acceptor_.async_accept(kTuple);
    if (ec) {
      if (stopping_ || ec == asio::error::operation_aborted || !acceptor_.is_open()) break;
      continue;  // EMFILE and friends: keep accepting
    }
    ++stats_.accepted;
    boost::system::error_code rec;
    const auto remote = socket.remote_endpoint(rec);
    std::string peer =
        rec ? "?" : remote.address().to_string() + ":" + std::to_string(remote.port());
    const std::string source = GatewayListener::source_of(peer);
    const auto from_source = pending_by_source_.find(source);
    if (pending_.size() >= settings_.max_pending_handshakes ||
        (from_source != pending_by_source_.end() &&
         from_source->second >= settings_.max_pending_handshakes_per_source) ||
        !sessions_.accepting(ConnectionInfo::Origin::tls)) {
      refuse(TlsRefusal::over_capacity, peer,
             std::to_string(pending_.size()) + " handshakes in flight, " +
                 std::to_string(sessions_.connections()) + " sessions");
      boost::system::error_code ignored;
      socket.close(ignored);
      continue;
    }
    tune_socket(socket, settings_.receive_buffer_size, settings_.send_buffer_size);
    asio::co_spawn(executor_, handshake(std::move(socket), std::move(peer)),
                   [this](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& ex) {
                       log(std::string("tls handshake task failed: ") + ex.what());
                     }
                   });
  }
}

asio::awaitable<void> TlsGatewayListener::handshake(tcp::socket socket, std::string peer) {
  using namespace asio::experimental::awaitable_operators;
  SslStream stream(std::move(socket), context_->ssl);
  const std::uint64_t pending_id = next_pending_++;
  pending_.emplace(pending_id, &stream);
  const std::string source = GatewayListener::source_of(peer);
  ++pending_by_source_[source];

  asio::steady_timer timer(executor_);
  timer.expires_after(settings_.handshake_timeout);
  auto hs = stream.async_handshake(asio::ssl::stream_base::server, kTuple);
  auto expiry = timer.async_wait(kTuple);
  auto race = std::move(hs) || std::move(expiry);
  const auto outcome = co_await std::move(race);
  pending_.erase(pending_id);
  if (const auto it = pending_by_source_.find(source);
      it != pending_by_source_.end() && --it->second == 0)
    pending_by_source_.erase(it);

  if (stopping_) {
    close_stream(stream);
    co_return;
  }
  if (outcome.index() == 1) {
    const std::string detail =
        "not finished within " + std::to_string(settings_.handshake_timeout.count()) + " ms";
    refuse(TlsRefusal::handshake_timeout, peer, detail);
    close_stream(stream);
    co_return;
  }
  const auto [ec] = std::get<0>(outcome);
  if (ec) {
    std::string detail;
    const auto reason = classify(ec, stream.native_handle(), detail);
    refuse(reason, peer, detail);
    close_stream(stream);
    co_return;
  }

  ConnectionInfo info;
  info.origin = ConnectionInfo::Origin::tls;
  info.peer = peer;
  const auto thumbprint = peer_certificate_sha256(stream);
  if (thumbprint) {
    info.client_certificate_sha256 = to_hex(*thumbprint);
    if (auto names = peer_certificate_names(stream)) {
      info.client_certificate_cn = std::move(names->common_name);
      info.client_certificate_sans = std::move(names->subject_alt_names);
    }
    if (!context_->thumbprint_allowed(*thumbprint)) {
      refuse(TlsRefusal::thumbprint_refused, peer, "sha256 " + info.client_certificate_sha256);
      close_stream(stream);
      co_return;
    }
  } else if (context_->client_certificate_mode == ClientCertificateMode::require) {
    // OpenSSL refuses this during the handshake already; kept so a context change cannot let it
    // through silently.
    refuse(TlsRefusal::client_certificate_missing, peer, "");
    close_stream(stream);
    co_return;
  }
  if (!sessions_.accepting()) {
    refuse(TlsRefusal::over_capacity, peer, "listener full or stopping");
    close_stream(stream);
    co_return;
  }
  ++stats_.handshakes_completed;
  sessions_.adopt<SslStream>(std::move(stream), std::move(info), &close_stream);
}

void TlsGatewayListener::stop() {
  stopping_ = true;
  boost::system::error_code ignored;
  acceptor_.close(ignored);
  for (auto& [id, stream] : pending_)
    close_stream(*stream);
}

}  // namespace stella::transport::tls
