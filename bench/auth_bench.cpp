// The authentication stage's cost per request (docs/performance.md, "Authentication"):
//   auth/bearer_cached   a Bearer token the cache has already verified: the whole
//                        Authenticator::authenticate() call (header scan, SHA-256, cache lookup,
//                        claims, identity into the frame)
//   auth/dpop_request    a DPoP-bound token (cached) with a fresh proof each time: the proof's
//                        parse and ES256 signature check, htu/ath/jkt, the replay cache
//   auth/es256_verify    one ES256 signature check alone (compare: openssl speed ecdsap256)
#include <benchmark/benchmark.h>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <fstream>

#include "stella/gateway/auth/jose.hpp"
#include "stella/gateway/auth/token_verifier.hpp"
#include "stella/gateway/http/authenticator.hpp"

namespace {

namespace auth = stella::gw::auth;
namespace http = stella::gw::http;
using nlohmann::json;

constexpr std::int64_t kNow = 1'900'000'000;  // a fixed wall clock: tokens and proofs agree

struct Fixture {
  auth::Jwk issuer = auth::generate_key(auth::Alg::ES256);
  auth::Jwk client = auth::generate_key(auth::Alg::ES256);
  std::filesystem::path jwks_file =
      std::filesystem::temp_directory_path() / ("stella-bench-jwks-" + std::to_string(::getpid()));
  std::unique_ptr<http::Authenticator> authenticator;
  std::optional<stella::gw::Route> route;
  std::string bearer, bound;

  Fixture() {
    {
      std::ofstream out(jwks_file);
      out << json{{"keys", json::array({auth::jwk_to_json(issuer, false)})}}.dump();
    }
    stella::gw::config::GatewayConfig c;
    c.auth.enabled = true;
    c.auth.authority.issuer = "https://issuer.bench";
    c.auth.authority.jwks_file = jwks_file.string();
    c.auth.authority.audiences = {"stella-gateway"};
    std::string error;
    authenticator = http::Authenticator::create(
        c, [](std::string_view, const std::string&) {}, error, [] { return kNow; });
    if (!authenticator) throw std::runtime_error(error);
    route.emplace(stella::gw::Route{"GET",
                                    stella::core::PathTemplate::parse("/api/items").value(),
                                    "/api/items",
                                    "bench",
                                    nullptr,
                                    {{"scope", "items:read"}},
                                    false,
                                    {},
                                    nullptr,
                                    nullptr});
    bearer = token("");
    bound = token(client.thumbprint);
  }
  ~Fixture() { std::filesystem::remove(jwks_file); }

  std::string token(const std::string& jkt) const {
    json claims = {{"iss", "https://issuer.bench"},
                   {"aud", "stella-gateway"},
                   {"sub", "bench-user"},
                   {"tid", "acme"},
                   {"scope", "items:read"},
                   {"iat", kNow},
                   {"exp", kNow + 3600}};
    if (!jkt.empty()) claims["cnf"] = {{"jkt", jkt}};
    json header = {{"alg", "ES256"}, {"typ", "at+jwt"}, {"kid", issuer.kid}};
    return *auth::sign_compact(header, claims, auth::Alg::ES256, issuer);
  }
  std::string proof(int i, const std::string& tok) const {
    json header = {{"typ", "dpop+jwt"}, {"alg", "ES256"}, {"jwk", client.public_json}};
    json claims = {{"jti", "bench-" + std::to_string(i)},
                   {"htm", "GET"},
                   {"htu", "http://bench.test/api/items"},
                   {"iat", kNow},
                   {"ath", auth::base64url_encode(auth::sha256(tok))}};
    return *auth::sign_compact(header, claims, auth::Alg::ES256, client);
  }
};

Fixture& fixture() {
  static Fixture f;
  return f;
}

http::RequestHead head_with(std::vector<http::HeaderField> fields) {
  http::RequestHead h;
  h.method = "GET";
  h.target = "/api/items";
  h.host = "bench.test";
  h.fields = std::move(fields);
  return h;
}

void run_once(benchmark::State& state, const http::RequestHead& head, http::Exchange& ex) {
  ex.identity.clear();
  ex.problem.reset();
  ex.proxy.frame.claims.clear();
  const auto step = fixture().authenticator->authenticate(head, http::ConnectionFacts{}, ex);
  if (step == http::AuthStep::refuse) state.SkipWithError("refused");
}

void bearer_cached(benchmark::State& state) {
  auto& f = fixture();
  const std::string value = "Bearer " + f.bearer;
  const auto head = head_with({{"Host", "bench.test"},
                               {"Accept", "application/json"},
                               {"Authorization", value},
                               {"User-Agent", "bench"}});
  http::Exchange ex;
  ex.proxy.lookup.status = stella::gw::LookupStatus::found;
  ex.proxy.lookup.route = &*f.route;
  run_once(state, head, ex);  // verified once; then the cache answers
  for (auto _ : state)
    run_once(state, head, ex);
}
BENCHMARK(bearer_cached)->Name("auth/bearer_cached");

void dpop_request(benchmark::State& state) {
  auto& f = fixture();
  // Fresh proofs (the replay cache refuses a second use), made before timing.
  constexpr int kProofs = 6000;
  static const std::vector<std::string> proofs = [&] {
    std::vector<std::string> v;
    for (int i = 0; i < kProofs; ++i)
      v.push_back(f.proof(i, f.bound));
    return v;
  }();
  static int next = 0;
  const std::string authorization = "DPoP " + f.bound;
  http::Exchange ex;
  ex.proxy.lookup.status = stella::gw::LookupStatus::found;
  ex.proxy.lookup.route = &*f.route;
  for (auto _ : state) {
    if (next == kProofs) {
      state.SkipWithError("out of proofs");
      break;
    }
    const auto head = head_with({{"Host", "bench.test"},
                                 {"Authorization", authorization},
                                 {"DPoP", proofs[static_cast<std::size_t>(next++)]}});
    run_once(state, head, ex);
  }
}
BENCHMARK(dpop_request)->Name("auth/dpop_request")->Iterations(5000);

void es256_verify(benchmark::State& state) {
  auto& f = fixture();
  const std::string input = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJiZW5jaCJ9";
  const auto sig = *auth::sign(auth::Alg::ES256, f.issuer, input);
  for (auto _ : state)
    benchmark::DoNotOptimize(auth::verify_signature(auth::Alg::ES256, f.issuer, input, sig));
}
BENCHMARK(es256_verify)->Name("auth/es256_verify");

}  // namespace

namespace {
// What a proof costs besides its signature: its public key parsed into an OpenSSL key.
void jwk_parse(benchmark::State& state) {
  const json jwk = fixture().client.public_json;
  for (auto _ : state)
    benchmark::DoNotOptimize(auth::parse_jwk(jwk, false));
}
BENCHMARK(jwk_parse)->Name("auth/jwk_parse_ec");
}  // namespace
