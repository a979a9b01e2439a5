// `stella-gw authority dev`: a development Authority so the quickstart and the tests have one
// without anything else installed. It serves
//
//   GET  /.well-known/openid-configuration   discovery (issuer, jwks_uri, token_endpoint)
//   GET  /jwks                               the public signing key
//   POST /token                              client_credentials; with a DPoP header (a proof
//                                            for POST {issuer}/token) the token is DPoP-bound
//                                            (cnf.jkt) and token_type is DPoP
//
// It issues a token to anyone who asks, with the subject, tenant and scope they ask for: a
// development tool, never an identity provider. It listens on loopback by default.
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>

#include "stella/core/clock.hpp"
#include "stella/gateway/auth/auth_caches.hpp"
#include "stella/gateway/auth/token_verifier.hpp"
#include "token_command.hpp"

namespace stella::cli {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace auth = gw::auth;
using asio::ip::tcp;
using nlohmann::json;
constexpr auto kTuple = asio::as_tuple(asio::use_awaitable);

struct AuthorityOptions {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  std::string key;  // private JWK file: read when it exists, else generated and written
  std::string issuer;
  std::vector<std::string> audiences{"stella-gateway"};
  long long ttl = 300;
  std::string alg = "ES256";
};

std::int64_t unix_now() {
  return static_cast<std::int64_t>(core::wall_clock_unix_nano() / 1'000'000'000);
}

int hex(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// application/x-www-form-urlencoded. A bad escape makes the whole body invalid.
std::optional<std::map<std::string, std::string>> parse_form(std::string_view body) {
  std::map<std::string, std::string> out;
  auto decode = [](std::string_view s) -> std::optional<std::string> {
    std::string r;
    for (std::size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        r += ' ';
      } else if (s[i] == '%') {
        if (i + 2 >= s.size() || hex(s[i + 1]) < 0 || hex(s[i + 2]) < 0) return std::nullopt;
        r += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
        i += 2;
      } else {
        r += s[i];
      }
    }
    return r;
  };
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view pair = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view() : body.substr(amp + 1);
    if (pair.empty()) continue;
    const auto eq = pair.find('=');
    auto k = decode(pair.substr(0, eq));
    auto v = decode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!k || !v) return std::nullopt;
    out[*k] = *v;
  }
  return out;
}

class DevAuthority {
 public:
  DevAuthority(auth::Jwk key, auth::Alg alg, std::string issuer, const AuthorityOptions& o)
      : key_(std::move(key)), alg_(alg), issuer_(std::move(issuer)), options_(o), replay_(100000) {}

  http::response<http::string_body> handle(const http::request<http::string_body>& req) {
    const std::string_view target = req.target();
    const std::string_view path = target.substr(0, target.find('?'));
    if (path == "/.well-known/openid-configuration" && req.method() == http::verb::get)
      return reply(req, 200,
                   json{{"issuer", issuer_},
                        {"jwks_uri", issuer_ + "/jwks"},
                        {"token_endpoint", issuer_ + "/token"},
                        {"grant_types_supported", {"client_credentials"}},
                        {"token_endpoint_auth_methods_supported", {"none"}},
                        {"dpop_signing_alg_values_supported",
                         {"ES256", "ES384", "RS256", "PS256", "EdDSA"}}});
    if (path == "/jwks" && req.method() == http::verb::get)
      return reply(req, 200, json{{"keys", json::array({auth::jwk_to_json(key_, false)})}});
    if (path == "/token" && req.method() == http::verb::post) return token(req);
    return reply(req, 404, json{{"error", "not_found"}});
  }

 private:
  http::response<http::string_body> reply(const http::request<http::string_body>& req,
                                          unsigned status, const json& body) {
    http::response<http::string_body> res{static_cast<http::status>(status), req.version()};
    res.set(http::field::content_type, "application/json");
    res.set(http::field::cache_control, "no-store");
    res.keep_alive(req.keep_alive());
    res.body() = body.dump();
    res.prepare_payload();
    return res;
  }

  http::response<http::string_body> error(const http::request<http::string_body>& req,
                                          unsigned status, std::string_view code,
                                          std::string description) {
    return reply(req, status, json{{"error", code}, {"error_description", description}});
  }

  http::response<http::string_body> token(const http::request<http::string_body>& req) {
    const auto form = parse_form(req.body());
    if (!form) return error(req, 400, "invalid_request", "the body is not form-encoded");
    auto get = [&](const char* k, std::string def = {}) {
      const auto it = form->find(k);
      return it == form->end() ? def : it->second;
    };
    if (get("grant_type") != "client_credentials")
      return error(req, 400, "unsupported_grant_type", "only client_credentials");
    const std::int64_t now = unix_now();
    json claims = {{"iss", issuer_},      {"sub", get("sub", get("client_id", "dev-client"))},
                   {"iat", now},          {"exp", now + options_.ttl},
                   {"jti", random_jti()}, {"client_id", get("client_id", "dev-client")}};
    if (options_.audiences.size() == 1) claims["aud"] = options_.audiences.front();
    if (options_.audiences.size() > 1) claims["aud"] = options_.audiences;
    if (const auto s = get("scope"); !s.empty()) claims["scope"] = s;
    if (const auto t = get("tenant"); !t.empty()) claims["tid"] = t;
    std::string token_type = "Bearer";
    std::size_t proofs = 0;
    std::string_view proof;
    for (const auto& f : req)
      if (beast::iequals(f.name_string(), "dpop")) {
        ++proofs;
        proof = f.value();
      }
    if (proofs > 1) return error(req, 400, "invalid_dpop_proof", "more than one DPoP header");
    if (proofs == 1) {
      auth::DpopRequest dr;
      dr.method = "POST";
      const std::string url = issuer_ + "/token";
      dr.url = url;
      auto v = auth::verify_dpop_proof(proof, dr, auth::DpopPolicy{}, now);
      if (!v)
        return error(req, 400, "invalid_dpop_proof",
                     std::string(auth::auth_failure_name(v.failure)) + ": " + v.detail);
      if (replay_.check_and_insert(v.value->jkt + '\n' + v.value->jti, v.value->iat + 61, now) !=
          auth::ReplayVerdict::fresh)
        return error(req, 400, "invalid_dpop_proof", "the proof was used before");
      claims["cnf"] = {{"jkt", v.value->jkt}};
      token_type = "DPoP";
    }
    const json header = {{"alg", auth::alg_name(alg_)}, {"typ", "at+jwt"}, {"kid", key_.kid}};
    const auto token = auth::sign_compact(header, claims, alg_, key_);
    if (!token) return error(req, 500, "server_error", "signing failed");
    json body = {
        {"access_token", *token}, {"token_type", token_type}, {"expires_in", options_.ttl}};
    if (claims.contains("scope")) body["scope"] = claims["scope"];
    return reply(req, 200, body);
  }

  auth::Jwk key_;
  auth::Alg alg_;
  std::string issuer_;
  AuthorityOptions options_;
  auth::ReplayCache replay_;
};

asio::awaitable<void> serve_one(tcp::socket socket, DevAuthority& authority) {
  beast::tcp_stream stream(std::move(socket));
  beast::flat_buffer buffer;
  for (;;) {
    http::request_parser<http::string_body> parser;
    parser.header_limit(16 * 1024);
    parser.body_limit(64 * 1024);
    stream.expires_after(std::chrono::seconds(30));
    auto read = co_await http::async_read(stream, buffer, parser, kTuple);
    if (std::get<0>(read)) break;
    auto res = authority.handle(parser.get());
    const bool keep = res.keep_alive();
    auto written = co_await http::async_write(stream, res, kTuple);
    if (std::get<0>(written) || !keep) break;
  }
  beast::error_code ignore;
  stream.socket().shutdown(tcp::socket::shutdown_both, ignore);
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor, DevAuthority& authority) {
  for (;;) {
    auto accepted = co_await acceptor.async_accept(kTuple);
    if (const auto ec = std::get<0>(accepted)) {
      if (ec == asio::error::operation_aborted) co_return;
      continue;
    }
    asio::co_spawn(acceptor.get_executor(), serve_one(std::move(std::get<1>(accepted)), authority),
                   [](std::exception_ptr e) {
                     if (!e) return;
                     try {
                       std::rethrow_exception(e);
                     } catch (const std::exception& x) {
                       std::fprintf(stderr, "authority: connection failed: %s\n", x.what());
                     }
                   });
  }
}

int run_authority(const AuthorityOptions& o) {
  const auto alg = auth::alg_from_name(o.alg);
  if (!alg) {
    std::fprintf(stderr, "stella-gw authority dev: --alg '%s' is not an asymmetric algorithm\n",
                 o.alg.c_str());
    return 2;
  }
  std::optional<auth::Jwk> key;
  std::string error;
  if (!o.key.empty() && std::filesystem::exists(o.key)) {
    key = read_private_jwk(o.key, error);
    if (!key) {
      std::fprintf(stderr, "stella-gw authority dev: --key: %s\n", error.c_str());
      return 1;
    }
    if (!key->usable_with(*alg)) {
      std::fprintf(stderr, "stella-gw authority dev: --key '%s' cannot sign %s\n", o.key.c_str(),
                   o.alg.c_str());
      return 1;
    }
  } else {
    key = auth::generate_key(*alg);
    key->alg = o.alg;
    if (!o.key.empty()) {
      std::ofstream out(o.key, std::ios::trunc);
      out << auth::jwk_to_json(*key, true).dump(2) << "\n";
      out.close();
      std::filesystem::permissions(
          o.key, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write);
      if (!out) {
        std::fprintf(stderr, "stella-gw authority dev: cannot write --key '%s'\n", o.key.c_str());
        return 1;
      }
    }
  }
  asio::io_context io{1};
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(o.host, ec);
  if (ec) {
    std::fprintf(stderr, "stella-gw authority dev: --host '%s' is not an IP address\n",
                 o.host.c_str());
    return 2;
  }
  tcp::acceptor acceptor(io);
  const tcp::endpoint ep(address, o.port);
  acceptor.open(ep.protocol(), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ep, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::fprintf(stderr, "stella-gw authority dev: cannot listen on %s:%u: %s\n", o.host.c_str(),
                 o.port, ec.message().c_str());
    return 1;
  }
  const auto port = acceptor.local_endpoint().port();
  const std::string host = address.is_v6() ? "[" + o.host + "]" : o.host;
  const std::string issuer =
      o.issuer.empty() ? "http://" + host + ":" + std::to_string(port) : o.issuer;
  DevAuthority authority(*key, *alg, issuer, o);
  std::printf("authority: issuer %s (kid %s; development only: it issues tokens to anyone)\n",
              issuer.c_str(), key->kid.c_str());
  std::printf("authority: token endpoint %s/token, JWKS %s/jwks\n", issuer.c_str(), issuer.c_str());
  std::fflush(stdout);
  asio::co_spawn(io, accept_loop(acceptor, authority), [](std::exception_ptr) {});
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&](const boost::system::error_code& e, int) {
    if (e) return;
    acceptor.close();
    io.stop();
  });
  io.run();
  return 0;
}

}  // namespace

void add_authority_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("authority",
                                 "A development Authority (OIDC discovery, JWKS, "
                                 "token endpoint with DPoP)");
  cmd->require_subcommand(1);
  auto o = std::make_shared<AuthorityOptions>();
  auto* dev = cmd->add_subcommand(
      "dev", "Serve discovery, JWKS and POST /token on loopback (development only)");
  dev->add_option("--host", o->host, "IP address to listen on")->capture_default_str();
  dev->add_option("--port", o->port, "Port (0: pick one and print it)")->capture_default_str();
  dev->add_option("--key", o->key,
                  "Private JWK file: used when it exists, else generated and written there "
                  "(default: a new key each start)");
  dev->add_option("--issuer", o->issuer,
                  "iss and the base of every URL (default: http://HOST:PORT)");
  dev->add_option("--audience", o->audiences, "aud of issued tokens")->capture_default_str();
  dev->add_option("--ttl", o->ttl, "Token lifetime in seconds")->capture_default_str();
  dev->add_option("--alg", o->alg, "Signing algorithm of a generated key")->capture_default_str();
  dev->callback([o, &exit_code] { exit_code = run_authority(*o); });
}

}  // namespace stella::cli
