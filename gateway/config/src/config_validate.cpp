// The rules that span keys or need the whole configuration. Per-key types and ranges are
// checked while reading (config_sections.cpp).
#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <string_view>

#include "config_sections.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/gateway/auth/jose.hpp"
#include "stella/gateway/auth/token_verifier.hpp"
#include "stella/gateway/health_tracker.hpp"
#include "stella/gateway/selector.hpp"
#include "stella/transport/tls/tls_settings.hpp"

namespace stella::gw::config::detail {
namespace {

bool is_ip_literal(const std::string& host) {
  unsigned char buf[16];
  return inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
}

bool is_wildcard(std::string_view host) {
  return host == "0.0.0.0" || host == "::";
}

bool is_loopback_name(std::string_view host) {
  return host == "localhost" || host == "127.0.0.1" || host == "::1";
}

// Whether two listeners on the same port would collide. Conservative: a wildcard collides with
// everything (with dual-stack sockets "::" covers 0.0.0.0 too), and "localhost" with both
// loopback addresses.
bool hosts_overlap(std::string_view a, std::string_view b) {
  if (a == b || is_wildcard(a) || is_wildcard(b)) return true;
  if (a == "localhost" || b == "localhost") return is_loopback_name(a) && is_loopback_name(b);
  return false;
}

bool is_tchar(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) ||
         std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

struct Listener {
  std::string_view name;  // key path of the listener's map
  const ListenAddress* address;
};

// "health.pingEwmaAlpha must be in (0, 1]" → key "health.pingEwmaAlpha", "must be in (0, 1]".
void report_prefixed(Diagnostics& d, const std::string& message, const std::string& fallback) {
  const auto space = message.find(' ');
  std::string key = message.substr(0, space);
  if (space == std::string::npos || key.find('.') == std::string::npos) {
    d.error(fallback, d.line_of(fallback), message);
    return;
  }
  d.error(key, d.line_of(key), message.substr(space + 1));
}

// "https://api.example.com" or "http://host:8080": scheme and authority only.
bool is_origin(std::string_view url) {
  if (url.find_first_of("?#") != std::string_view::npos) return false;
  const auto normal = auth::normalize_htu(url);
  if (!normal) return false;
  const auto authority = normal->find("://") + 3;
  return normal->find('/', authority) == normal->size() - 1 &&
         url.find('/', authority) >= url.size() - 1;
}

bool is_http_url(std::string_view url, bool allow_http) {
  const auto normal = auth::normalize_htu(url);
  if (!normal) return false;
  return allow_http || normal->rfind("https://", 0) == 0;
}

template <class Err>
void validate_auth(const GatewayConfig& c, Err& err) {
  const AuthConfig& a = c.auth;
  const AuthorityConfig& au = a.authority;
  const bool allow_http = !au.require_https_metadata;
  const char* scheme_hint =
      allow_http ? "an absolute http(s) URL" : "an absolute https URL (requireHttpsMetadata)";
  if (!au.issuer.empty() && au.jwks_uri.empty() && au.jwks_file.empty() &&
      !is_http_url(au.issuer, allow_http))
    err("auth.authority.issuer", "'" + au.issuer + "' must be " + scheme_hint +
                                     " for discovery, or give jwksUri or jwksFile");
  if (!au.jwks_uri.empty() && !is_http_url(au.jwks_uri, allow_http))
    err("auth.authority.jwksUri", "'" + au.jwks_uri + "' must be " + scheme_hint);
  if (!au.jwks_uri.empty() && !au.jwks_file.empty())
    err("auth.authority.jwksFile", "give jwksUri or jwksFile, not both");
  for (std::size_t i = 0; i < a.algorithms.size(); ++i) {
    if (!auth::alg_from_name(a.algorithms[i]))
      err("auth.algorithms[" + std::to_string(i) + "]",
          "'" + a.algorithms[i] +
              "' is not an accepted algorithm (ES256, ES384, ES512, RS256, RS384, RS512, PS256, "
              "PS384, PS512, EdDSA; never none or HMAC)");
  }
  if (a.algorithms.empty()) err("auth.algorithms", "must name at least one algorithm");
  // Wide windows weaken what they bound: an expired token lives on, and a DPoP proof stays
  // usable (and its id held in the replay cache) for as long.
  if (a.clock_skew > std::chrono::minutes(5))
    err("auth.clockSkew", "must be at most 5m (it extends every token's lifetime)");
  if (a.dpop_max_clock_skew > std::chrono::minutes(5))
    err("auth.dpopMaxClockSkew", "must be at most 5m (a proof stays usable for as long)");
  if (a.replay_cache.type == ReplayCacheType::redis && a.replay_cache.url.empty())
    err("auth.replayCache.url", "is required when auth.replayCache.type is redis");
  if (a.enabled && a.mtls_enabled &&
      (!c.http.tls.enabled ||
       c.http.tls.client_certificate_mode == transport::tls::ClientCertificateMode::none))
    err("auth.mtlsEnabled",
        "needs http.tls.enabled with http.tls.clientCertificateMode allow or require: "
        "certificate-bound tokens need the client's certificate");
  if (a.enabled && au.issuer.empty() && au.jwks_uri.empty() && au.jwks_file.empty())
    err("auth.enabled",
        "is true but no Authority is configured (auth.authority.issuer, jwksUri or jwksFile): "
        "requests could not be authenticated");
}

template <class Err>
void validate_rate_limiting(const RateLimitConfig& rl, Err& err) {
  if (rl.key_by == RateLimitKey::header &&
      (rl.key_header.empty() || !std::all_of(rl.key_header.begin(), rl.key_header.end(),
                                             [](char ch) { return is_tchar(ch); })))
    err("rateLimiting.keyBy", "'header:" + rl.key_header + "' does not name a header");
  if (!rl.effective_environment_rules().empty() && rl.effective_redis().empty())
    err("rateLimiting.forEnvironment.valkeyConnection",
        "is required when environment rules are configured (or give redisConnectionString)");
  for (std::size_t i = 0; i < rl.overrides.size(); ++i) {
    const auto& o = rl.overrides[i];
    const std::string key = "rateLimiting.overrides[" + std::to_string(i) + "]";
    if (o.service.empty() && o.path.empty() && o.method.empty())
      err(key + ".match", "must name a service, a method or a path (it would match every route)");
    if (o.exempt && (o.instance_rules || o.environment_rules))
      err(key + ".exempt", "an exempt route has no rules; give exempt or rules, not both");
    if (!o.exempt && !o.instance_rules && !o.environment_rules)
      err(key, "says nothing: give exempt: true, or forInstance/forEnvironment rules");
    if (o.environment_rules && !o.environment_rules->empty() && rl.effective_redis().empty())
      err(key + ".forEnvironment.rules", "needs rateLimiting.forEnvironment.valkeyConnection");
  }
}

}  // namespace

// A body that is not streamed travels inline in one REQUEST frame: it must fit the frame
// payload limit with room for the request's other fields.
// 1 MiB frames minus room for a maximal header block (http.maxHeaderBytes, 64 KiB by default)
// and the request's other fields.
constexpr std::uint64_t kMaxUnstreamedBody = 896 * 1024;

void validate_into(const GatewayConfig& c, Diagnostics& d) {
  auto err = [&d](const std::string& key, std::string message) {
    d.error(key, d.line_of(key), std::move(message));
  };

  // node
  if (c.node.region.empty()) {
    err("node.region", "must not be empty (instances of this region form the local tier)");
  }
  if (c.node.node_id.empty()) err("node.nodeId", "must not be empty");
  if (c.node.environment.empty()) err("node.environment", "must not be empty");

  // listeners
  const Listener listeners[] = {{"http", &c.http.listen},
                                {"transports.tcp", &c.tcp.listen},
                                {"transports.tls", &c.tls.listen}};
  for (const Listener& l : listeners) {
    const std::string& host = l.address->host;
    if (host != "localhost" && !is_ip_literal(host)) {
      err(std::string(l.name) + ".host",
          "'" + host +
              "' is not an IP address or \"localhost\" (host names are not resolved; "
              "0.0.0.0 listens on every IPv4 address)");
    }
  }
  std::vector<Listener> enabled{listeners[0]};
  if (c.tcp.enabled) enabled.push_back(listeners[1]);
  if (c.tls.enabled) enabled.push_back(listeners[2]);
  for (std::size_t i = 0; i < enabled.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      const ListenAddress& a = *enabled[j].address;
      const ListenAddress& b = *enabled[i].address;
      if (a.port != 0 && a.port == b.port && hosts_overlap(a.host, b.host)) {
        err(std::string(enabled[i].name) + ".port",
            "port " + std::to_string(b.port) + " on " + b.host + " is already used by " +
                std::string(enabled[j].name) + " (" + a.host + ":" + std::to_string(a.port) + ")");
      }
    }
  }

  // transports
  if (!c.tcp.enabled && !c.tls.enabled) {
    err("transports",
        "transports.tcp and transports.tls are both disabled: services could not reach the "
        "gateway (enable at least one)");
  }
  const auto& tls = c.tls.tls;
  if (c.tls.enabled && tls.certificate_path.empty()) {
    err("transports.tls.certificatePath", "is required when transports.tls.enabled is true");
  }
  for (std::size_t i = 0; i < tls.allowed_client_certificate_thumbprints.size(); ++i) {
    std::string why;
    if (!transport::tls::parse_thumbprint(tls.allowed_client_certificate_thumbprints[i], why)) {
      err("transports.tls.allowedClientCertificateThumbprints[" + std::to_string(i) + "]", why);
    }
  }
  if (tls.client_certificate_mode == transport::tls::ClientCertificateMode::none &&
      !tls.allowed_client_certificate_thumbprints.empty()) {
    err("transports.tls.allowedClientCertificateThumbprints",
        "needs clientCertificateMode AllowCertificate or RequireCertificate (it is "
        "NoCertificate, so no client certificate would ever be checked)");
  }

  // openapi
  for (std::size_t i = 0; i < c.openapi.servers.size(); ++i) {
    const auto& url = c.openapi.servers[i];
    if (!is_http_url(url, true) && !(url.starts_with('/') && !url.starts_with("//")))
      err("openapi.servers[" + std::to_string(i) + "]",
          "'" + url + "' is neither an http(s) URL nor a path starting with '/'");
  }
  if (c.openapi.title.empty()) err("openapi.title", "must not be empty");
  if (c.openapi.version.empty()) err("openapi.version", "must not be empty");

  // http
  if (!c.http.tls.enabled &&
      c.http.tls.client_certificate_mode != transport::tls::ClientCertificateMode::none) {
    err("http.tls.clientCertificateMode",
        "needs http.tls.enabled: client certificates exist only on HTTPS connections");
  }
  if (!c.http.external_url.empty()) {
    if (!is_origin(c.http.external_url))
      err("http.externalUrl", "'" + c.http.external_url +
                                  "' is not scheme://host[:port] (http or https, no path, query "
                                  "or user info)");
  }
  if (c.http.tls.enabled && c.http.tls.certificate_path.empty()) {
    err("http.tls.certificatePath", "is required when http.tls.enabled is true");
  }
  if (c.http.max_header_field > c.http.max_header_bytes) {
    err("http.maxHeaderFieldSize", "must be at most http.maxHeaderBytes (" +
                                       std::to_string(c.http.max_header_bytes) + "), got " +
                                       std::to_string(c.http.max_header_field));
  }
  const std::string& prefix = c.http.identity_header_prefix;
  if (prefix.empty()) {
    err("http.identityHeaderPrefix",
        "must not be empty (client headers starting with it are removed: empty would remove "
        "them all)");
  } else if (!std::all_of(prefix.begin(), prefix.end(), is_tchar)) {
    err("http.identityHeaderPrefix", "'" + prefix +
                                         "' is not a header-name prefix (letters, "
                                         "digits and !#$%&'*+-.^_`|~ only)");
  }
  const std::pair<const char*, const std::vector<std::string>*> name_lists[] = {
      {"http.identityHeadersStrip", &c.http.identity_headers_strip},
      {"http.identityHeadersAllow", &c.http.identity_headers_allow}};
  for (const auto& [key, names] : name_lists) {
    for (std::size_t i = 0; i < names->size(); ++i) {
      std::string_view n = (*names)[i];
      // A trailing '*' (a prefix) only makes sense in the strip list; '*' alone would strip all.
      if (key == name_lists[0].first && n.size() > 1 && n.back() == '*') n.remove_suffix(1);
      if (n.empty() ||
          !std::all_of(n.begin(), n.end(), [](char ch) { return is_tchar(ch) && ch != '*'; }))
        err(std::string(key) + "[" + std::to_string(i) + "]",
            "'" + (*names)[i] + "' is not a header name" +
                (key == name_lists[0].first ? " or a prefix ending in '*'" : ""));
    }
  }

  if (c.routing.stream_window != 0 && c.routing.stream_window < 16 * 1024) {
    err("routing.streamWindow",
        "must be 0 (no credit) or at least 16KiB, got " + std::to_string(c.routing.stream_window));
  }
  if (!c.tls.service_identities.empty() &&
      (!c.tls.enabled ||
       c.tls.tls.client_certificate_mode == transport::tls::ClientCertificateMode::none)) {
    err("transports.tls.serviceIdentities",
        "needs transports.tls.enabled with clientCertificateMode AllowCertificate or "
        "RequireCertificate: without client certificates no connection could register the "
        "names it reserves");
  }

  // routing
  const auto& neighbors = c.routing.selector.neighbor_regions;
  for (std::size_t i = 0; i < neighbors.size(); ++i) {
    const std::string key = "routing.neighborRegions[" + std::to_string(i) + "]";
    if (neighbors[i].empty()) {
      err(key, "must not be empty");
    } else if (neighbors[i] == c.node.region) {
      err(key, "'" + neighbors[i] +
                   "' is this gateway's own region (node.region): it is the local tier already");
    } else if (std::find(neighbors.begin(), neighbors.begin() + static_cast<std::ptrdiff_t>(i),
                         neighbors[i]) != neighbors.begin() + static_cast<std::ptrdiff_t>(i)) {
      err(key, "'" + neighbors[i] + "' is listed twice");
    }
  }
  SelectorSettings selector = c.routing.selector;
  selector.local_region = c.node.region;
  if (auto why = validate(selector)) report_prefixed(d, *why, "routing.loadBalancing");

  // health
  if (auto why = validate(c.health)) report_prefixed(d, *why, "health");

  // Fail closed: a security feature switched on must work, or the gateway does not start
  // (docs/configuration.md, "keys that are refused").
  validate_auth(c, err);
  validate_rate_limiting(c.rate_limiting, err);
  if (!c.routing.streaming_enabled && c.routing.max_request_body_size > kMaxUnstreamedBody) {
    err("routing.maxRequestBodySize",
        "must be at most " + std::to_string(kMaxUnstreamedBody) +
            " bytes when routing.streamingEnabled is false (a body then travels in one frame), "
            "got " +
            std::to_string(c.routing.max_request_body_size));
  }

  // telemetry
  const auto& m = c.telemetry.metrics;
  // Requests are matched on their normalised path: a path that normalises to something else
  // ("/a//m", "/m%65trics", "/x/") would never be served.
  core::NormalizedPath normalized;
  const bool canonical = !m.path.empty() && m.path.front() == '/' &&
                         !core::normalize_path_into(m.path, normalized) &&
                         normalized.path() == m.path;
  if (!canonical || m.path.rfind("/health/", 0) == 0) {
    err("telemetry.metrics.path",
        "'" + m.path +
            "' must be an absolute path in normal form (\"/metrics\": no empty, dot or "
            "percent-encoded segments, no trailing slash), outside /health/");
  }
  if (m.listen) {
    if (m.listen->host != "localhost" && !is_ip_literal(m.listen->host))
      err("telemetry.metrics.host", "'" + m.listen->host + "' is not an IP address");
    for (const Listener& l : enabled) {
      if (m.listen->port != 0 && m.listen->port == l.address->port &&
          hosts_overlap(m.listen->host, l.address->host))
        err("telemetry.metrics.port", "port " + std::to_string(m.listen->port) +
                                          " is already used by " + std::string(l.name));
    }
  }
  const auto& tr = c.telemetry.tracing;
  if (tr.enabled) {
    const bool http = tr.endpoint.rfind("http://", 0) == 0;
    const bool https = tr.endpoint.rfind("https://", 0) == 0;
    const std::size_t host_at = http ? 7 : 8;
    if ((!http && !https) || tr.endpoint.size() <= host_at || tr.endpoint[host_at] == '/')
      err("telemetry.tracing.endpoint", "'" + tr.endpoint +
                                            "' is not an http:// or https:// URL with a host "
                                            "(e.g. http://127.0.0.1:4318/v1/traces)");
    if (tr.max_batch_spans > tr.max_queue_spans)
      err("telemetry.tracing.maxBatchSpans", "must be at most telemetry.tracing.maxQueueSpans");
  }
}

}  // namespace stella::gw::config::detail
