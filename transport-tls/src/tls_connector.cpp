#include "stella/transport/tls/tls_connector.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "openssl_util.hpp"

namespace stella::transport::tls {
namespace {

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

}  // namespace

std::unique_ptr<TlsConnector> TlsConnector::create(const ClientTlsSettings& settings,
                                                   std::string& error) {
  auto context = make_client_context(settings, error);
  if (!context) return nullptr;
  return std::unique_ptr<TlsConnector>(new TlsConnector(settings, std::move(context)));
}

asio::awaitable<TlsConnector::Result> TlsConnector::async_handshake(asio::ip::tcp::socket socket,
                                                                    std::string host) {
  using namespace asio::experimental::awaitable_operators;
  Result result;
  const std::string name = settings_.server_name.empty() ? host : settings_.server_name;
  SslStream stream(std::move(socket), *context_);
  if (!expect_peer_name(stream.native_handle(), name)) {
    result.ec = asio::error::invalid_argument;
    result.error = "cannot verify the gateway as '" + name + "': " + detail::openssl_errors();
    co_return result;
  }
  asio::steady_timer timer(stream.get_executor());
  timer.expires_after(settings_.handshake_timeout);
  auto hs = stream.async_handshake(asio::ssl::stream_base::client, kTuple);
  auto expiry = timer.async_wait(kTuple);
  auto race = std::move(hs) || std::move(expiry);
  const auto outcome = co_await std::move(race);
  if (outcome.index() == 1) {
    result.ec = asio::error::timed_out;
    result.error = "TLS handshake timed out after " +
                   std::to_string(settings_.handshake_timeout.count()) + " ms";
    co_return result;
  }
  const auto [ec] = std::get<0>(outcome);
  if (ec) {
    result.ec = ec;
    result.error = "TLS handshake failed: " + ec.message();
    const long verify = SSL_get_verify_result(stream.native_handle());
    if (verify != X509_V_OK) {
      result.error += std::string(" (") + X509_verify_cert_error_string(verify) + ")";
    }
    co_return result;
  }
  result.stream.emplace(std::move(stream));
  co_return result;
}

}  // namespace stella::transport::tls
