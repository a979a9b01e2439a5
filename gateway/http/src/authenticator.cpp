// Authentication and authorization (DESIGN.md §5, docs/security.md). The order of the checks
// is the order a request meets them:
//
//   credentials   exactly one Authorization header, scheme Bearer or DPoP      → 401
//   keys          a key set is loaded                                         → 503
//   token         cache hit (SHA-256 of the token), else full verification    → 401
//   binding       DPoP proof (scheme DPoP, or a cnf.jkt token), certificate   → 401
//                 (cnf.x5t#S256); a bound token as Bearer is refused
//   claims        every required claim of the route                           → 403
//   tenant        the route's {tenant} parameter is the token's tid           → 403
//   replay        the proof's jti is new here (and in Redis, when shared)     → 401 / 503
//
// The jti is recorded last, so a request refused for any other reason never burns its proof.
#include "stella/gateway/http/authenticator.hpp"

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <fstream>
#include <mutex>
#include <sstream>

#include "stella/core/clock.hpp"
#include "stella/core/text.hpp"
#include "stella/gateway/auth/auth_caches.hpp"
#include "stella/gateway/http/outbound_http_client.hpp"
#include "stella/gateway/redis/redis_client.hpp"

namespace stella::gw::http {
namespace asio = boost::asio;
using auth::AuthFailure;

namespace {

constexpr std::string_view kRealm = "stella-gw";
constexpr std::size_t kMaxJwksBytes = 1 << 20;

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

enum class Scheme : std::uint8_t { none, bearer, dpop, other };

struct Credentials {
  Scheme scheme = Scheme::none;
  std::string_view token;
  std::size_t authorization_headers = 0;
  std::size_t dpop_headers = 0;
  std::string_view proof;
};

// RFC 6750 §2.1 b64token: what a token may be made of. Anything else is not a token.
bool b64token(std::string_view t) {
  if (t.empty()) return false;
  std::size_t i = 0;
  for (; i < t.size(); ++i) {
    const char c = t[i];
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
    if (!ok) break;
  }
  while (i < t.size() && t[i] == '=')
    ++i;
  return i == t.size();
}

Credentials read_credentials(const RequestHead& head) {
  Credentials c;
  for (const auto& f : head.fields) {
    if (core::iequals_ascii(f.name, "authorization")) {
      ++c.authorization_headers;
      const std::string_view v = f.value;  // trimmed by the head parser
      const auto space = v.find(' ');
      const std::string_view scheme = v.substr(0, space);
      c.token = space == std::string_view::npos ? std::string_view() : trim(v.substr(space + 1));
      c.scheme = core::iequals_ascii(scheme, "bearer") ? Scheme::bearer
                 : core::iequals_ascii(scheme, "dpop") ? Scheme::dpop
                                                       : Scheme::other;
    } else if (core::iequals_ascii(f.name, "dpop")) {
      ++c.dpop_headers;
      c.proof = f.value;
    }
  }
  return c;
}

bool is_proof_failure(AuthFailure f) {
  switch (f) {
    case AuthFailure::dpop_missing:
    case AuthFailure::dpop_multiple:
    case AuthFailure::dpop_malformed:
    case AuthFailure::dpop_bad_type:
    case AuthFailure::dpop_bad_key:
    case AuthFailure::dpop_bad_signature:
    case AuthFailure::dpop_htm_mismatch:
    case AuthFailure::dpop_htu_mismatch:
    case AuthFailure::dpop_iat_out_of_window:
    case AuthFailure::dpop_ath_mismatch:
    case AuthFailure::dpop_replay:
      return true;
    default:
      return false;
  }
}

std::optional<auth::KeySet> read_jwks_file(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error = "cannot read '" + path + "'";
    return std::nullopt;
  }
  std::string text;
  text.resize(kMaxJwksBytes + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxJwksBytes) {
    error = "'" + path + "' is larger than 1 MiB";
    return std::nullopt;
  }
  std::string why;
  auto keys = auth::parse_jwks(text, &why);
  if (!keys) {
    error = "'" + path + "' is not a JWKS: " + why;
    return std::nullopt;
  }
  if (keys->size() == 0) {
    error = "'" + path + "' holds no usable signing key";
    return std::nullopt;
  }
  return keys;
}

std::string random_salt() {
  core::Random rng(core::entropy_seed());
  std::string s(16, '\0');
  rng.fill(s.data(), s.size());
  return s;
}

}  // namespace

struct Authenticator::Impl : std::enable_shared_from_this<Impl> {
  Impl(const config::GatewayConfig& c, Log l, WallClock w)
      : cfg(c.auth),
        external_url(c.http.external_url),
        log(std::move(l)),
        wall(std::move(w)),
        token_cache(c.auth.token_cache_size),
        replay_cache(c.auth.replay_cache.capacity) {
    for (const auto& name : cfg.algorithms)
      if (auto a = auth::alg_from_name(name)) algorithms.push_back(*a);
    token_policy.issuer = cfg.authority.issuer;
    token_policy.audiences = cfg.authority.audiences;
    token_policy.algorithms = algorithms;
    token_policy.clock_skew_s =
        std::chrono::duration_cast<std::chrono::seconds>(cfg.clock_skew).count();
    token_policy.max_token_bytes = cfg.max_token_size;
    dpop_policy.algorithms = algorithms;
    dpop_policy.max_clock_skew_s =
        std::chrono::duration_cast<std::chrono::seconds>(cfg.dpop_max_clock_skew).count();
    dpop_policy.max_proof_bytes = cfg.max_token_size;
    dpop_policy.key_cache = &proof_keys;
    for (std::size_t i = 0; i < algorithms.size(); ++i) {
      if (i) algs_text += ' ';
      algs_text += auth::alg_name(algorithms[i]);
    }
  }

  const config::AuthConfig cfg;
  const std::string external_url;
  Log log;
  WallClock wall;
  std::vector<auth::Alg> algorithms;
  std::string algs_text;  // "ES256 RS256 ..." for WWW-Authenticate
  auth::TokenPolicy token_policy;
  auth::DpopPolicy dpop_policy;
  auth::TokenCache token_cache;
  auth::ReplayCache replay_cache;
  auth::ProofKeyCache proof_keys{4096};
  const std::size_t max_per_key = cfg.replay_cache.max_per_key != 0
                                      ? cfg.replay_cache.max_per_key
                                      : std::max<std::size_t>(1, cfg.replay_cache.capacity / 10);
  const std::string replay_salt = random_salt();
  AuthStats stats;

  mutable std::mutex keys_mutex;
  std::shared_ptr<const auth::KeySet> current_keys;

  // Background work (on the executor given to start()).
  std::optional<asio::any_io_executor> executor;
  std::unique_ptr<asio::steady_timer> timer;
  std::unique_ptr<redis::RedisClient> redis;
  std::atomic<bool> stopped{false};
  std::atomic<std::int64_t> last_kick_unix{0};
  core::Random jitter{core::entropy_seed()};

  std::int64_t now() const { return wall(); }

  std::shared_ptr<const auth::KeySet> key_set() const {
    std::lock_guard lock(keys_mutex);
    return current_keys;
  }

  void install(auth::KeySet set, std::string_view from) {
    for (const auto& why : set.skipped)
      log("warn", "auth: a key of " + std::string(from) + " was skipped: " + core::printable(why));
    const std::size_t n = set.size();
    {
      std::lock_guard lock(keys_mutex);
      current_keys = std::make_shared<const auth::KeySet>(std::move(set));
    }
    // A key that left the set must stop working at once: forget tokens verified with it.
    token_cache.clear();
    stats.keys.store(n, std::memory_order_relaxed);
    stats.keys_loaded_unix.store(now(), std::memory_order_relaxed);
    if (stats.refreshes.fetch_add(1, std::memory_order_relaxed) == 0 || failing.exchange(false))
      log("info",
          "auth: " + std::to_string(n) + " signing key(s) loaded from " + core::printable(from));
  }
  std::atomic<bool> failing{false};
  std::atomic<std::int64_t> last_failure_log{0};

  void refresh_failed(const std::string& why) {
    stats.refresh_failures.fetch_add(1, std::memory_order_relaxed);
    failing = true;
    // Without keys the loop retries every 1–2 s: one line a minute is enough to see it.
    const std::int64_t t = now();
    if (t - last_failure_log.load() < 60) return;
    last_failure_log = t;
    log("warn",
        "auth: key refresh failed (" + core::printable(why) + "); " +
            (key_set() ? "the last good keys stay in use" : "no keys yet: 503 until loaded"));
  }

  // Asks the refresh loop to fetch now, at most once per unknownKidRefreshInterval.
  void kick() {
    if (!executor || !timer) return;
    const std::int64_t t = now();
    const std::int64_t every =
        std::chrono::duration_cast<std::chrono::seconds>(cfg.authority.unknown_kid_refresh_interval)
            .count();
    std::int64_t last = last_kick_unix.load(std::memory_order_relaxed);
    if (t - last < every) return;
    if (!last_kick_unix.compare_exchange_strong(last, t)) return;
    asio::post(*executor, [self = shared_from_this()] {
      if (self->timer) self->timer->cancel();
    });
  }

  asio::awaitable<bool> fetch_json_url(const std::string& url, std::string& body,
                                       std::string& error) {
    OutboundRequest req;
    req.url = url;
    req.timeout = cfg.authority.fetch_timeout;
    req.max_response_body = kMaxJwksBytes;
    req.headers.emplace_back("Accept", "application/json");
    OutboundTlsOptions tls;
    tls.ca_file = cfg.authority.ca_path;
    auto result = co_await async_http_request(*executor, std::move(req), tls);
    if (!result) {
      error = url + ": " + result.error().message();
      co_return false;
    }
    if (result->status != 200) {
      error = url + ": HTTP " + std::to_string(result->status);
      co_return false;
    }
    body = std::move(result->body);
    co_return true;
  }

  bool allowed_url(std::string_view url) const {
    const auto n = auth::normalize_htu(url);
    return n && (!cfg.authority.require_https_metadata || n->rfind("https://", 0) == 0);
  }

  asio::awaitable<void> refresh_once() {
    const auto& a = cfg.authority;
    if (!a.jwks_file.empty()) {
      std::string error;
      auto set = read_jwks_file(a.jwks_file, error);
      if (set)
        install(std::move(*set), a.jwks_file);
      else
        refresh_failed("auth.authority.jwksFile: " + error);
      co_return;
    }
    std::string jwks_url = a.jwks_uri;
    std::string error, body;
    if (jwks_url.empty()) {
      std::string issuer = a.issuer;
      while (!issuer.empty() && issuer.back() == '/')
        issuer.pop_back();
      const std::string url = issuer + "/.well-known/openid-configuration";
      const bool fetched = co_await fetch_json_url(url, body, error);
      if (!fetched) {
        refresh_failed("discovery " + error);
        co_return;
      }
      auto doc = auth::parse_strict_json(body, {kMaxJwksBytes, 32}, &error);
      if (!doc || !doc->is_object() || !doc->contains("jwks_uri") ||
          !(*doc)["jwks_uri"].is_string()) {
        refresh_failed("discovery " + url + ": no jwks_uri" +
                       (error.empty() ? "" : " (" + error + ")"));
        co_return;
      }
      // OpenID Connect Discovery §4.3: the document must be the issuer's own.
      const auto* iss = doc->contains("issuer") ? &(*doc)["issuer"] : nullptr;
      if (!iss || !iss->is_string() || iss->get<std::string>() != a.issuer) {
        refresh_failed("discovery " + url + ": its issuer is not " + a.issuer);
        co_return;
      }
      jwks_url = (*doc)["jwks_uri"].get<std::string>();
      if (!allowed_url(jwks_url)) {
        refresh_failed("discovery " + url + ": jwks_uri '" + jwks_url +
                       "' is not an https URL (auth.authority.requireHttpsMetadata)");
        co_return;
      }
    }
    body.clear();
    const bool fetched = co_await fetch_json_url(jwks_url, body, error);
    if (!fetched) {
      refresh_failed("JWKS " + error);
      co_return;
    }
    auto set = auth::parse_jwks(body, &error);
    if (!set || set->size() == 0) {
      refresh_failed("JWKS " + jwks_url + ": " + (set ? "no usable signing key" : error));
      co_return;
    }
    install(std::move(*set), jwks_url);
  }

  asio::awaitable<void> refresh_loop() {
    auto self = shared_from_this();
    while (!stopped.load()) {
      co_await refresh_once();
      if (stopped.load()) break;
      // Without keys every authenticated request gets 503: retry soon (1–2 s, jittered so a
      // fleet restarting together does not hit the Authority in step).
      const core::Duration wait =
          key_set() ? core::Duration(cfg.authority.refresh_interval)
                    : core::Duration(std::chrono::milliseconds(1000 + jitter.next() % 1000));
      timer->expires_after(wait);
      // Cancelled early by a kick (unknown kid) or by stop: either way, look again.
      co_await timer->async_wait(asio::as_tuple(asio::use_awaitable));
    }
  }

  // ---- the request path ----------------------------------------------------------------

  Problem refusal(AuthFailure f, Scheme scheme, const std::string& detail,
                  std::string_view scope = {}, bool from_proof = false) const {
    Outcome outcome = Outcome::auth_invalid;
    std::string challenge;
    const std::string dpop_challenge =
        "DPoP realm=\"" + std::string(kRealm) + "\", algs=\"" + algs_text + "\"";
    switch (f) {
      case AuthFailure::missing_token:
        outcome = Outcome::auth_missing;
        challenge = "Bearer realm=\"" + std::string(kRealm) + "\"";
        if (cfg.dpop_enabled) challenge += ", " + dpop_challenge;
        break;
      case AuthFailure::insufficient_scope:
        outcome = Outcome::auth_forbidden;
        challenge = std::string(scheme == Scheme::dpop ? "DPoP" : "Bearer") + " realm=\"" +
                    std::string(kRealm) + "\", error=\"insufficient_scope\", scope=\"" +
                    std::string(scope) + "\"";
        break;
      case AuthFailure::tenant_mismatch:
      case AuthFailure::tenant_required:
        outcome = Outcome::auth_forbidden;
        break;
      case AuthFailure::authority_unavailable:
      case AuthFailure::replay_cache_unavailable:
        outcome = Outcome::auth_unavailable;
        break;
      case AuthFailure::dpop_key_over_quota:
        outcome = Outcome::rate_limited;
        break;
      default:
        if (from_proof || is_proof_failure(f))
          challenge = dpop_challenge + ", error=\"invalid_dpop_proof\"";
        else if (scheme == Scheme::dpop)
          challenge = dpop_challenge + ", error=\"invalid_token\"";
        else
          challenge = "Bearer realm=\"" + std::string(kRealm) + "\", error=\"invalid_token\"";
        break;
    }
    std::string text = std::string(auth::auth_failure_name(f));
    if (!detail.empty()) text += ": " + core::printable(detail.substr(0, 200));
    Problem p = make_problem(outcome, std::move(text));
    if (!challenge.empty()) p.headers.emplace_back("WWW-Authenticate", std::move(challenge));
    if (outcome == Outcome::auth_unavailable) p.headers.emplace_back("Retry-After", "1");
    if (outcome == Outcome::rate_limited)
      p.headers.emplace_back("Retry-After", std::to_string(dpop_policy.max_clock_skew_s));
    p.headers.emplace_back("Cache-Control", "no-store");
    return p;
  }

  AuthStep refuse(Exchange& ex, AuthFailure f, Scheme scheme, const std::string& detail,
                  std::string_view scope = {}, bool from_proof = false) const {
    ex.identity.failure = f;
    ex.problem = refusal(f, scheme, detail, scope, from_proof);
    return AuthStep::refuse;
  }

  // The URL the client addressed, for htu: externalUrl when set, else the connection's scheme
  // and the Host header; the path as sent (normalize_htu compares both sides).
  std::string request_url(const RequestHead& head, const ConnectionFacts& facts) const {
    const std::string_view path = head.target.substr(0, head.target.find('?'));
    std::string url;
    if (!external_url.empty()) {
      url = external_url;
      while (!url.empty() && url.back() == '/')
        url.pop_back();
    } else {
      url = facts.tls ? "https://" : "http://";
      url += head.host;
    }
    url += path;
    return url;
  }

  // Required claims (403 insufficient_scope with the missing scopes) and the tenant rule.
  AuthStep authorize(const Route& route, const LookupResult& lookup, const auth::VerifiedToken& t,
                     Scheme scheme, Exchange& ex) const {
    std::string missing;
    for (const auto& c : route.required_claims) {
      bool ok = false;
      if (c.value.empty()) {
        // A claim type with no value: the token must carry the claim at all ("tid": a tenant).
        if (c.type == "tid" || c.type == "tenant")
          ok = !t.tenant.empty();
        else
          ok = t.claims.is_object() && t.claims.contains(c.type) && !t.claims[c.type].is_null();
        if (!ok && (c.type == "tid" || c.type == "tenant"))
          return refuse(ex, AuthFailure::tenant_required, scheme,
                        "the service requires a tenant (tid)");
      } else {
        ok = t.has_claim(c.type, c.value);
      }
      if (!ok) {
        if (!missing.empty()) missing += ' ';
        missing += c.value.empty() ? c.type : c.value;
      }
    }
    if (!missing.empty())
      return refuse(ex, AuthFailure::insufficient_scope, scheme, "missing " + missing, missing);
    if (const auto tenant = lookup.match.param("tenant")) {
      if (t.tenant.empty())
        return refuse(ex, AuthFailure::tenant_required, scheme,
                      "the route is per tenant and the token has no tid");
      if (*tenant != t.tenant)
        return refuse(ex, AuthFailure::tenant_mismatch, scheme,
                      "the route's tenant is not the token's");
    }
    return AuthStep::pass;
  }

  void set_identity(const auth::VerifiedToken& t, const std::string& jkt, const std::string& x5t,
                    Exchange& ex) const {
    auto& f = ex.proxy.frame;
    if (!cfg.forward_credentials) strip_credentials(ex);
    ex.identity.subject = t.subject;
    ex.identity.tenant = t.tenant;
    f.subject = t.subject;
    f.tenant = t.tenant;
    f.scopes = t.scopes;
    f.client_id = t.client_id;
    f.dpop_jkt = jkt;
    f.cert_thumbprint = x5t;
    for (const auto& r : t.roles)
      f.claims.push_back({"role", r});
    ex.identity.authenticated = true;
  }

  // The credentials were for the gateway: a service gets the verified identity instead, and
  // never a token it could present elsewhere (auth.forwardCredentials).
  static void strip_credentials(Exchange& ex) {
    auto& h = ex.proxy.frame.headers;
    std::erase_if(h, [](const core::Header& f) {
      return core::iequals_ascii(f.name, "authorization") || core::iequals_ascii(f.name, "dpop");
    });
  }

  AuthStep authenticate(const RequestHead& head, const ConnectionFacts& facts, Exchange& ex) {
    const LookupResult& lookup = ex.proxy.lookup;
    const Route& route = *lookup.route;
    if (route.anonymous && std::find(cfg.anonymous_services.begin(), cfg.anonymous_services.end(),
                                     route.service) != cfg.anonymous_services.end()) {
      if (!cfg.forward_credentials) strip_credentials(ex);
      return AuthStep::pass;
    }

    const Credentials cred = read_credentials(head);
    if (cred.authorization_headers == 0)
      return refuse(ex, AuthFailure::missing_token, Scheme::none, "");
    if (cred.authorization_headers > 1)
      return refuse(ex, AuthFailure::malformed_token, Scheme::none,
                    "more than one Authorization header");
    if (cred.scheme == Scheme::other || cred.scheme == Scheme::none)
      return refuse(ex, AuthFailure::missing_token, Scheme::none,
                    "the Authorization scheme is not Bearer or DPoP");
    if (cred.scheme == Scheme::dpop && !cfg.dpop_enabled)
      return refuse(ex, AuthFailure::missing_token, Scheme::none, "DPoP is not enabled here");
    if (!b64token(cred.token) || cred.token.size() > cfg.max_token_size)
      return refuse(ex, AuthFailure::malformed_token, cred.scheme, "not a token");

    // The cache first: it only ever holds tokens verified with a loaded key set (and is emptied
    // when the set changes), so a hit needs neither the set nor its lock.
    const std::int64_t t_now = now();
    std::shared_ptr<const auth::VerifiedToken> token =
        token_cache.find(cred.token, t_now, token_policy.clock_skew_s);
    if (!token) {
      const auto keys = key_set();
      if (!keys)
        return refuse(ex, AuthFailure::authority_unavailable, cred.scheme,
                      "no signing keys from the Authority yet");
      auto v = auth::verify_access_token(cred.token, *keys, token_policy, t_now);
      if (!v) {
        if (v.failure == AuthFailure::unknown_kid) kick();
        return refuse(ex, v.failure, cred.scheme, v.detail);
      }
      token = std::make_shared<const auth::VerifiedToken>(std::move(*v.value));
      token_cache.insert(cred.token, token);
    }

    // Sender binding.
    std::string jkt, x5t;
    if (!token->cnf_x5t_s256.empty()) {
      if (!cfg.mtls_enabled)
        return refuse(ex, AuthFailure::mtls_certificate_missing, cred.scheme,
                      "certificate-bound tokens are not accepted here (auth.mtlsEnabled)");
      if (facts.client_cert_x5t.empty())
        return refuse(ex, AuthFailure::mtls_certificate_missing, cred.scheme,
                      "the token is bound to a client certificate and none was presented");
      if (!auth::constant_time_equal(facts.client_cert_x5t, token->cnf_x5t_s256))
        return refuse(ex, AuthFailure::mtls_certificate_mismatch, cred.scheme,
                      "the token is bound to another client certificate");
      x5t = token->cnf_x5t_s256;
    }
    if (cred.scheme == Scheme::bearer && !token->cnf_jkt.empty())
      return refuse(ex, AuthFailure::bound_token_as_bearer, cred.scheme,
                    "a DPoP-bound token must be sent with the DPoP scheme");
    std::optional<auth::DpopProof> proof;
    if (cred.scheme == Scheme::dpop) {
      if (token->cnf_jkt.empty())
        return refuse(ex, AuthFailure::dpop_jkt_mismatch, cred.scheme,
                      "the token is not DPoP-bound (no cnf.jkt)");
      if (cred.dpop_headers == 0)
        return refuse(ex, AuthFailure::dpop_missing, cred.scheme, "no DPoP header");
      if (cred.dpop_headers > 1)
        return refuse(ex, AuthFailure::dpop_multiple, cred.scheme, "more than one DPoP header");
      const std::string url = request_url(head, facts);
      auth::DpopRequest dr;
      dr.method = head.method;
      dr.url = url;
      dr.access_token = cred.token;
      dr.expected_jkt = token->cnf_jkt;
      auto v = auth::verify_dpop_proof(cred.proof, dr, dpop_policy, t_now);
      if (!v) return refuse(ex, v.failure, cred.scheme, v.detail, {}, /*from_proof=*/true);
      proof = std::move(*v.value);
      jkt = proof->jkt;
    }
    if (cfg.require_sender_constrained && jkt.empty() && x5t.empty())
      return refuse(ex, AuthFailure::bound_token_as_bearer, cred.scheme,
                    "this gateway accepts only sender-constrained tokens (DPoP or certificate)");

    if (authorize(route, lookup, *token, cred.scheme, ex) == AuthStep::refuse)
      return AuthStep::refuse;

    if (proof) {
      // Last: a proof refused for any other reason is not burnt. Kept for the whole window in
      // which its iat would still be accepted.
      const std::int64_t until = proof->iat + dpop_policy.max_clock_skew_s + 1;
      const std::string id = proof->jkt + '\n' + proof->jti;
      // The local cache's key is salted per process: a client choosing its jti values cannot
      // aim them all at one shard of the cache and fill it. The shared key cannot be salted
      // (every gateway must compute the same one); Redis shards nothing by it.
      const std::string local_key = auth::sha256(replay_salt + id);
      switch (replay_cache.check_and_insert(local_key, until, t_now, proof->jkt, max_per_key)) {
        case auth::ReplayVerdict::fresh:
          break;
        case auth::ReplayVerdict::replay:
          return refuse(ex, AuthFailure::dpop_replay, cred.scheme, "the proof was used before", {},
                        true);
        case auth::ReplayVerdict::full:
          return refuse(ex, AuthFailure::replay_cache_unavailable, cred.scheme,
                        "the replay cache is full");
        case auth::ReplayVerdict::over_quota:
          return refuse(ex, AuthFailure::dpop_key_over_quota, cred.scheme,
                        "too many proofs of this key within the proof window");
      }
      set_identity(*token, jkt, x5t, ex);
      if (redis) {
        ex.identity.replay_key = "stella:dpop:" + auth::base64url_encode(auth::sha256(id));
        // The shared entry outlives the window by the skew once more: another gateway's clock
        // may run that far behind this one's.
        ex.identity.replay_ttl_ms =
            std::max<std::int64_t>(1, until - t_now + dpop_policy.max_clock_skew_s) * 1000;
        ex.identity.local_replay_key = local_key;
        return AuthStep::check_replay;
      }
      return AuthStep::pass;
    }
    set_identity(*token, jkt, x5t, ex);
    return AuthStep::pass;
  }

  // One log line when Redis stops answering and one when it is back (not one per request).
  std::atomic<bool> redis_down{false};
  void note_redis(bool answered, const std::string& why) {
    if (answered) {
      if (redis_down.exchange(false))
        log("info", "auth: the shared replay cache (Redis) answers again");
    } else if (!redis_down.exchange(true)) {
      log("warn", "auth: the shared replay cache (Redis) does not answer (" + core::printable(why) +
                      "); " +
                      (cfg.replay_cache.on_unavailable == config::ReplayFallback::closed
                           ? "DPoP requests get 503 until it does"
                           : "proofs are checked against this gateway's cache only"));
    }
  }

  asio::awaitable<AuthStep> check_replay(Exchange& ex) {
    std::vector<std::string> cmd{
        "SET", ex.identity.replay_key, "1", "NX", "PX", std::to_string(ex.identity.replay_ttl_ms)};
    auto reply = co_await redis->async_command(std::move(cmd));
    const bool answered = reply && !reply->is_error();
    note_redis(answered, answered ? std::string() : reply ? reply->str : reply.error().message());
    if (answered) {
      if (reply->type == redis::RedisReply::Type::nil) {
        ex.identity.authenticated = false;
        co_return refuse(ex, AuthFailure::dpop_replay, Scheme::dpop,
                         "the proof was used before (at another gateway)");
      }
      co_return AuthStep::pass;
    }
    // Redis unreachable or refusing: the local cache already took the proof.
    stats.replay_fallbacks.fetch_add(1, std::memory_order_relaxed);
    if (cfg.replay_cache.on_unavailable == config::ReplayFallback::closed) {
      // Refused for the gateway's own reason: the client may retry the same proof.
      replay_cache.erase(ex.identity.local_replay_key);
      ex.identity.authenticated = false;
      co_return refuse(ex, AuthFailure::replay_cache_unavailable, Scheme::dpop,
                       "the shared replay cache cannot be reached");
    }
    co_return AuthStep::pass;
  }
};

Authenticator::Authenticator(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Authenticator::~Authenticator() {
  stop();
}

std::unique_ptr<Authenticator> Authenticator::create(const config::GatewayConfig& config, Log log,
                                                     std::string& error, WallClock wall) {
  if (!wall)
    wall = [] { return static_cast<std::int64_t>(core::wall_clock_unix_nano() / 1'000'000'000); };
  auto impl = std::make_shared<Impl>(config, std::move(log), std::move(wall));
  if (const auto& file = config.auth.authority.jwks_file; !file.empty()) {
    std::string why;
    auto set = read_jwks_file(file, why);
    if (!set) {
      error = "auth.authority.jwksFile: " + why;
      return nullptr;
    }
    impl->install(std::move(*set), file);
  }
  if (config.auth.replay_cache.type == config::ReplayCacheType::redis) {
    std::string why;
    if (!redis::parse_redis_address(config.auth.replay_cache.url, &why)) {
      error = "auth.replayCache.url: " + why;
      return nullptr;
    }
  }
  return std::unique_ptr<Authenticator>(new Authenticator(std::move(impl)));
}

void Authenticator::start(asio::any_io_executor ex) {
  auto& i = *impl_;
  i.executor = ex;
  i.timer = std::make_unique<asio::steady_timer>(ex);
  if (i.cfg.replay_cache.type == config::ReplayCacheType::redis) {
    std::string why;
    auto settings = redis::parse_redis_address(i.cfg.replay_cache.url, &why);
    settings->command_timeout = i.cfg.replay_cache.command_timeout;
    i.redis = std::make_unique<redis::RedisClient>(ex, *settings);
  }
  // A file given at startup was loaded by create(); the loop re-reads it every refreshInterval
  // (key rotation without a restart). Discovery/JWKS start at once.
  const bool loaded = i.key_set() != nullptr;
  asio::co_spawn(
      ex,
      [self = impl_, loaded]() -> asio::awaitable<void> {
        if (loaded) {
          self->timer->expires_after(self->cfg.authority.refresh_interval);
          co_await self->timer->async_wait(asio::as_tuple(asio::use_awaitable));
        }
        co_await self->refresh_loop();
      },
      [log = i.log](std::exception_ptr e) {
        if (!e) return;
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& x) {
          log("error", std::string("auth: key refresh stopped: ") + x.what());
        }
      });
}

void Authenticator::stop() {
  if (!impl_ || impl_->stopped.exchange(true)) return;
  if (impl_->redis) impl_->redis->close();
  if (impl_->executor && impl_->timer)
    asio::post(*impl_->executor, [self = impl_] { self->timer->cancel(); });
}

bool Authenticator::has_keys() const noexcept {
  return impl_->key_set() != nullptr;
}

const AuthStats& Authenticator::stats() const noexcept {
  return impl_->stats;
}

std::uint64_t Authenticator::token_cache_hits() const noexcept {
  return impl_->token_cache.hits();
}

std::uint64_t Authenticator::token_cache_misses() const noexcept {
  return impl_->token_cache.misses();
}

AuthStep Authenticator::authenticate(const RequestHead& head, const ConnectionFacts& facts,
                                     Exchange& ex) {
  return impl_->authenticate(head, facts, ex);
}

asio::awaitable<AuthStep> Authenticator::async_check_replay(Exchange& ex) {
  auto self = impl_;  // the shared state outlives this call whatever stop() does meanwhile
  const AuthStep step = co_await self->check_replay(ex);
  co_return step;
}

}  // namespace stella::gw::http
