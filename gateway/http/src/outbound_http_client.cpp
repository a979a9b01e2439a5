#include "stella/gateway/http/outbound_http_client.hpp"

#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <utility>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <memory>
#include <string_view>

#include "stella/gateway/http/request_head.hpp"  // is_tchar, iequals
#include "stella/transport/tls/tls_context.hpp"

namespace stella::gw::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
namespace urls = boost::urls;
using boost::system::error_code;
using tcp = asio::ip::tcp;

constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

// A response head larger than this is refused: the callers read small JSON documents, and a
// head this size is already a misbehaving server.
constexpr std::uint32_t kMaxResponseHead = 64 * 1024;

// Boost's error_category has a protected non-virtual destructor by design (categories are
// statics, never deleted through a base pointer), which -Wnon-virtual-dtor cannot tell apart.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnon-virtual-dtor"
class OutboundCategory final : public boost::system::error_category {
 public:
  const char* name() const noexcept override { return "stella.outbound_http"; }
  std::string message(int ev) const override {
    switch (static_cast<OutboundErrc>(ev)) {
      case OutboundErrc::bad_url:
        return "bad URL (absolute http(s) URL with a host, no user info, port not 0)";
      case OutboundErrc::unsupported_scheme:
        return "unsupported URL scheme (http or https)";
      case OutboundErrc::bad_request:
        return "invalid request method or header field";
      case OutboundErrc::tls_setup_failed:
        return "TLS setup failed (CA file or host name)";
      case OutboundErrc::timed_out:
        return "request timed out";
      case OutboundErrc::response_too_large:
        return "response larger than the limit";
      case OutboundErrc::bad_response:
        return "malformed HTTP response";
    }
    return "unknown outbound HTTP error";
  }
};
#pragma GCC diagnostic pop

// Where to connect and what to send, from the URL.
struct Target {
  bool tls = false;
  std::string host;  // for the resolver, SNI and the name check: no brackets, decoded
  std::uint16_t port = 0;
  std::string host_header;  // as written in the URL: "[::1]:4318", "collector:4318"
  std::string path;         // origin-form: "/v1/traces?x=1"
};

boost::system::result<Target> parse_target(std::string_view url) {
  const auto parsed = urls::parse_absolute_uri(url);
  if (!parsed) return make_error_code(OutboundErrc::bad_url);
  const urls::url_view& u = *parsed;
  Target t;
  if (u.scheme_id() == urls::scheme::https)
    t.tls = true;
  else if (u.scheme_id() != urls::scheme::http)
    return make_error_code(OutboundErrc::unsupported_scheme);
  // Credentials in a URL end up in logs; they belong in a header.
  if (!u.has_authority() || u.has_userinfo()) return make_error_code(OutboundErrc::bad_url);
  switch (u.host_type()) {
    case urls::host_type::ipv4:
    case urls::host_type::ipv6:
      t.host = u.host_address();
      break;
    case urls::host_type::name:
      if (u.encoded_host_name().find('%') != std::string_view::npos)
        return make_error_code(OutboundErrc::bad_url);
      t.host = u.host_name();
      break;
    default:
      return make_error_code(OutboundErrc::bad_url);
  }
  if (t.host.empty()) return make_error_code(OutboundErrc::bad_url);
  if (u.has_port() && !u.port().empty()) {
    if (u.port_number() == 0) return make_error_code(OutboundErrc::bad_url);
    t.port = u.port_number();
  } else {
    t.port = t.tls ? 443 : 80;
  }
  t.host_header = std::string(u.encoded_host_and_port());
  t.path = u.encoded_path().empty() ? "/" : std::string(u.encoded_path());
  if (u.has_query()) {
    t.path += '?';
    t.path += u.encoded_query();
  }
  return t;
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(static_cast<unsigned char>(c))) return false;
  return true;
}

// Refuses what would let a caller's value split the request: CR, LF and NUL.
bool is_field_value(std::string_view s) noexcept {
  return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

// Framing and connection management are the client's: a caller's Content-Length or
// Transfer-Encoding could desynchronise the request from its body.
bool is_reserved_field(std::string_view name) noexcept {
  for (std::string_view r : {"host", "content-length", "transfer-encoding", "connection"})
    if (iequals(name, r)) return true;
  return false;
}

error_code map_error(error_code ec) {
  if (ec == beast::error::timeout) return make_error_code(OutboundErrc::timed_out);
  if (ec == bhttp::error::body_limit || ec == bhttp::error::header_limit)
    return make_error_code(OutboundErrc::response_too_large);
  // end_of_stream: the server closed before a complete response.
  if (ec.category() == make_error_code(bhttp::error::end_of_stream).category())
    return make_error_code(OutboundErrc::bad_response);
  return ec;
}

// The system resolver cannot be interrupted, so the lookup owns its own state (kept alive by
// its completion handler) and delivers into a channel this call can stop waiting on when the
// deadline passes.
asio::awaitable<boost::system::result<std::vector<tcp::endpoint>>> async_resolve(
    asio::any_io_executor ex, const Target& t, asio::steady_timer& deadline) {
  using namespace asio::experimental::awaitable_operators;
  error_code ec;
  const auto address = asio::ip::make_address(t.host, ec);
  if (!ec) {
    co_return std::vector<tcp::endpoint>{tcp::endpoint(address, t.port)};
  }
  using Results = tcp::resolver::results_type;
  struct Lookup {
    explicit Lookup(const asio::any_io_executor& e) : resolver(e), channel(e, 1) {}
    tcp::resolver resolver;
    asio::experimental::concurrent_channel<void(error_code, Results)> channel;
  };
  auto lookup = std::make_shared<Lookup>(ex);
  lookup->resolver.async_resolve(
      t.host, std::to_string(t.port), asio::ip::resolver_base::numeric_service,
      [lookup](error_code e, Results r) { lookup->channel.try_send(e, std::move(r)); });
  // Built apart from the co_await, as in tls_connector.cpp: GCC 12 mishandles temporaries
  // that live across a suspension inside one co_await expression.
  auto received = lookup->channel.async_receive(kTuple);
  auto expired = deadline.async_wait(kTuple);
  auto race = std::move(received) || std::move(expired);
  auto outcome = co_await std::move(race);
  if (outcome.index() == 1) co_return make_error_code(OutboundErrc::timed_out);
  auto [resolve_ec, results] = std::get<0>(std::move(outcome));
  if (resolve_ec) co_return resolve_ec;
  std::vector<tcp::endpoint> endpoints;
  for (const auto& entry : results)
    endpoints.push_back(entry.endpoint());
  co_return endpoints;
}

error_code configure_client_context(asio::ssl::context& ctx, const OutboundTlsOptions& tls) {
  error_code ec;
  // TLS 1.2 is still what many collectors and identity providers offer; older is refused.
  if (SSL_CTX_set_min_proto_version(ctx.native_handle(), TLS1_2_VERSION) != 1)
    return make_error_code(OutboundErrc::tls_setup_failed);
  ctx.set_verify_mode(asio::ssl::verify_peer, ec);
  if (!ec) {
    if (tls.ca_file.empty())
      ctx.set_default_verify_paths(ec);
    else
      ctx.load_verify_file(tls.ca_file, ec);
  }
  return ec ? make_error_code(OutboundErrc::tls_setup_failed) : error_code{};
}

template <class Stream>
asio::awaitable<boost::system::result<OutboundResponse>> async_exchange(
    Stream& stream, const bhttp::request<bhttp::string_body>& msg, std::size_t max_body) {
  if (auto [ec, n] = co_await bhttp::async_write(stream, msg, kTuple); ec) co_return map_error(ec);
  beast::flat_buffer buffer;
  bhttp::response_parser<bhttp::string_body> parser;
  parser.header_limit(kMaxResponseHead);
  parser.body_limit(max_body);
  if (msg.method() == bhttp::verb::head) parser.skip(true);
  if (auto [ec, n] = co_await bhttp::async_read(stream, buffer, parser, kTuple); ec)
    co_return map_error(ec);
  auto res = parser.release();
  OutboundResponse out;
  out.status = res.result_int();
  for (const auto& field : res)
    out.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
  out.body = std::move(res.body());
  co_return out;
}

// Takes its arguments by value so that the coroutine frame owns them (see the wrapper below).
asio::awaitable<boost::system::result<OutboundResponse>> async_request_owned(
    asio::any_io_executor ex, OutboundRequest req, OutboundTlsOptions tls) {
  auto target = parse_target(req.url);
  if (!target) co_return target.error();
  if (!is_token(req.method)) co_return make_error_code(OutboundErrc::bad_request);
  for (const auto& [name, value] : req.headers)
    if (!is_token(name) || !is_field_value(value) || is_reserved_field(name))
      co_return make_error_code(OutboundErrc::bad_request);

  bhttp::request<bhttp::string_body> msg;
  msg.method_string(req.method);
  msg.target(target->path);
  msg.version(11);
  msg.set(bhttp::field::host, target->host_header);
  msg.set(bhttp::field::user_agent, "stella-gw");
  for (const auto& [name, value] : req.headers)
    msg.insert(name, value);
  // One request per connection: tell the server not to keep it open for us.
  msg.keep_alive(false);
  msg.body() = std::move(req.body);
  msg.prepare_payload();

  // One deadline for every step: the timer's expiry is handed to the stream for connect,
  // handshake, write and read, and raced against the resolver.
  asio::steady_timer deadline(ex);
  deadline.expires_after(req.timeout);
  auto endpoints = co_await async_resolve(ex, *target, deadline);
  if (!endpoints) co_return endpoints.error();

  if (!target->tls) {
    beast::tcp_stream stream(ex);
    stream.expires_at(deadline.expiry());
    if (auto [ec, ep] = co_await stream.async_connect(*endpoints, kTuple); ec)
      co_return map_error(ec);
    co_return co_await async_exchange(stream, msg, req.max_response_body);
  }

  asio::ssl::context ctx(asio::ssl::context::tls_client);
  if (auto ec = configure_client_context(ctx, tls)) co_return ec;
  asio::ssl::stream<beast::tcp_stream> stream(ex, ctx);
  if (!transport::tls::expect_peer_name(stream.native_handle(), target->host))
    co_return make_error_code(OutboundErrc::tls_setup_failed);
  beast::get_lowest_layer(stream).expires_at(deadline.expiry());
  if (auto [ec, ep] = co_await beast::get_lowest_layer(stream).async_connect(*endpoints, kTuple);
      ec)
    co_return map_error(ec);
  if (auto [ec] = co_await stream.async_handshake(asio::ssl::stream_base::client, kTuple); ec)
    co_return map_error(ec);
  // No TLS close_notify: the response is complete by its framing, and waiting for the
  // server's close_notify would only add a round trip (or a timeout) after the answer is in.
  co_return co_await async_exchange(stream, msg, req.max_response_body);
}

}  // namespace

const boost::system::error_category& outbound_category() noexcept {
  static const OutboundCategory category;
  return category;
}

// Not a coroutine itself: a coroutine's reference parameters are not copied into its frame,
// and `tls` is often the temporary default argument, gone before the request is awaited when
// the awaitable is handed to co_spawn.
asio::awaitable<boost::system::result<OutboundResponse>> async_http_request(
    asio::any_io_executor ex, OutboundRequest req, const OutboundTlsOptions& tls) {
  return async_request_owned(std::move(ex), std::move(req), tls);
}

}  // namespace stella::gw::http
