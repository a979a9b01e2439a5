// A small outbound HTTP/1.1 client for the gateway's own calls (trace export, JWKS fetch):
// one request per connection, http:// and https://, errors as values, every limit explicit.
//
// Not a proxy client: requests to services go over the frame transport, never through here.
// One connection per request keeps it free of pool state; the callers send at most a few
// requests per second.
//
// Thread-safety: async_http_request may run concurrently any number of times; each call owns
// everything it touches.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/result.hpp>
#include <chrono>
#include <cstddef>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "stella/core/clock.hpp"

namespace stella::gw::http {

/// Errors of the outbound client itself. Failures of the network or the TLS library come back
/// as their own codes (connection_refused, host_not_found, an SSL verify error, ...).
enum class OutboundErrc : int {
  bad_url = 1,         // not an absolute URL with a host, has user info, or port 0
  unsupported_scheme,  // a scheme other than http or https
  bad_request,         // method not a token, header name not a token, CR/LF/NUL in a value
  tls_setup_failed,    // the CA file could not be loaded, or the host name could not be set
  timed_out,           // the whole exchange took longer than OutboundRequest::timeout
  response_too_large,  // body over max_response_body, or the head over its fixed limit
  bad_response,        // the server's answer is not valid HTTP/1.x
};

/// The category of OutboundErrc ("stella.outbound_http"). Thread-safe.
const boost::system::error_category& outbound_category() noexcept;

inline boost::system::error_code make_error_code(OutboundErrc e) noexcept {
  return {static_cast<int>(e), outbound_category()};
}

struct OutboundRequest {
  std::string method = "GET";
  std::string url;  // http://host[:port]/path?query or https://...
  /// Sent as given after Host and User-Agent. Host, Content-Length, Transfer-Encoding and
  /// Connection are the client's (framing, one request per connection): giving one is
  /// bad_request. Content-Length is set from `body`.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  /// Bounds everything: resolve, connect, TLS handshake, write and read.
  core::Duration timeout = std::chrono::seconds(5);
  std::size_t max_response_body = 1 << 20;  // bytes; a larger body is response_too_large
};

struct OutboundResponse {
  unsigned status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // as received, in order
  std::string body;
};

struct OutboundTlsOptions {
  /// PEM bundle of the CAs to trust for https://; empty: the system trust store.
  std::string ca_file;
};

/// Sends `req` and reads the whole response. https:// verifies the server's chain against
/// `tls` (TLS 1.2 or later) and its name against the URL's host (DNS or IP SAN); the host is
/// sent as SNI when it is a DNS name. Never throws for network, TLS or protocol errors: they
/// are the error of the result (OutboundErrc or the underlying library's code). A non-2xx
/// status is not an error. Runs on `ex`; a TLS context is built per call (the callers call
/// rarely). `req` and `tls` are copied into the operation, so the awaitable may be handed to
/// co_spawn and outlive the arguments.
///
/// Name resolution is bounded like the rest, but the system resolver cannot be interrupted:
/// at the deadline the call returns timed_out and the lookup finishes in the background, its
/// result discarded. IP literals skip the resolver.
boost::asio::awaitable<boost::system::result<OutboundResponse>> async_http_request(
    boost::asio::any_io_executor ex, OutboundRequest req, const OutboundTlsOptions& tls = {});

}  // namespace stella::gw::http

template <>
struct boost::system::is_error_code_enum<stella::gw::http::OutboundErrc> : std::true_type {};
