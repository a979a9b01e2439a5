#include "stella/gateway/http/request_pipeline.hpp"

#include <algorithm>

#include <array>
#include <new>

namespace stella::gw::http {
namespace {

// Header names as services may read them: case-insensitive, and '_' the same as '-' (CGI and
// WSGI style servers fold both into one variable, so X_User_Id would pass for X-User-Id).
char fold(char c) noexcept {
  if (c == '_') return '-';
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
bool same_name(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (fold(a[i]) != fold(b[i])) return false;
  return true;
}
bool starts_with_name(std::string_view s, std::string_view prefix) noexcept {
  return s.size() >= prefix.size() && same_name(s.substr(0, prefix.size()), prefix);
}

bool connection_names(std::string_view connection_value, std::string_view name) noexcept {
  while (!connection_value.empty()) {
    const auto comma = connection_value.find(',');
    std::string_view token = connection_value.substr(0, comma);
    while (!token.empty() && (token.front() == ' ' || token.front() == '\t'))
      token.remove_prefix(1);
    while (!token.empty() && (token.back() == ' ' || token.back() == '\t'))
      token.remove_suffix(1);
    if (iequals(token, name)) return true;
    if (comma == std::string_view::npos) break;
    connection_value.remove_prefix(comma + 1);
  }
  return false;
}

// traceparent/tracestate: the trace-context stage sends the gateway's own (the service's
// parent is the gateway's span) in the REQUEST frame's fields, never the client's as a header.
constexpr std::array<std::string_view, 43> kOwned{
    "connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
    "content-length", "forwarded", "x-real-ip", "x-correlation-id", "x-tenant-id", "x-tenant",
    "x-subject", "x-user-id", "x-scopes", "x-scope", "x-client-id", "x-claims",
    "proxy-authorization", "x-original-url", "traceparent", "tracestate", "x-user", "x-remote-user",
    "x-auth-user", "x-authenticated-user", "x-client-cert",
    // who the caller is, as other proxies and
    // frameworks spell it
    "x-roles", "x-role", "x-groups", "remote-user", "x-authenticated-userid", "x-username",
    "x-email", "x-principal", "ssl-client-cert", "x-client-certificate",
    // what the request is: a service honouring
    // these would act on a path or method that
    // authorization never saw
    "x-original-uri", "x-rewrite-url", "x-http-method-override", "x-method-override",
    "x-http-method"};

// Identity-shaped families: default deny. Whatever a service might read as who the caller is,
// only the gateway sets (docs/http.md, "Identity headers").
constexpr std::array<std::string_view, 11> kOwnedPrefixes{
    "x-forwarded-", "x-user-",  "x-stellaops-",   "x-auth-request-", "x-tenant-", "x-subject-",
    "x-scope-",     "x-claim-", "x-client-cert-", "x-ssl-client-",   "x-dpop-"};

}  // namespace

void ProxyRequest::clear() {
  correlation_id.clear();
  frame.method.clear();
  frame.path.clear();
  frame.query.clear();
  // The entries keep their strings for the next request's headers: a header longer than a
  // string's own buffer (most names a browser sends) is then not allocated again. A pooled
  // exchange lives as long as its worker, hence the bound (the entry itself counted too). Out of
  // memory growing the spare list only keeps fewer.
  for (core::Header& h : frame.headers) {
    const std::size_t bytes = sizeof(core::Header) + h.name.capacity() + h.value.capacity();
    if (spare_header_bytes + bytes > kKeptHeaderBytes) break;
    try {
      spare_headers.push_back(std::move(h));
    } catch (const std::bad_alloc&) {
      break;
    }
    spare_header_bytes += bytes;
  }
  frame.headers.clear();
  frame.body.clear();
  frame.timeout_ms = 0;
  frame.correlation_id.clear();
  frame.tenant.clear();
  frame.subject.clear();
  frame.scopes.clear();
  frame.claims.clear();
  frame.traceparent.clear();
  frame.tracestate.clear();
  frame.route.clear();
  frame.client_id.clear();
  frame.dpop_jkt.clear();
  frame.cert_thumbprint.clear();
  stripped_headers = 0;
  lookup.status = LookupStatus::not_found;
  lookup.route = nullptr;
  lookup.allowed_methods.clear();
  pick.reset();
  timeout = {};
}

void assign_correlation_id(const RequestHead& head, core::Random& rng, ProxyRequest& req) {
  const std::string_view given = head.field("x-correlation-id");
  bool ok = !given.empty() && given.size() <= 128;
  for (char c : given) {
    const bool allowed = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
                         (c >= '0' && c <= '9') || c == '.' || c == '_' || c == ':' || c == '-';
    if (!allowed) {
      ok = false;
      break;
    }
  }
  if (ok) {
    req.correlation_id.assign(given);
    return;
  }
  static constexpr char kHex[] = "0123456789abcdef";
  req.correlation_id.resize(32);
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = rng.next();
    for (int i = 0; i < 16; ++i) {
      req.correlation_id[static_cast<std::size_t>(half * 16 + i)] = kHex[bits & 0xF];
      bits >>= 4;
    }
  }
}

namespace {
bool owned(std::string_view name, std::string_view connection_value, std::string_view prefix,
           const std::vector<std::string>& strip, const std::vector<std::string>& allow) noexcept {
  for (std::string_view owned_name : kOwned)
    if (same_name(name, owned_name)) return true;
  for (std::string_view owned_prefix : kOwnedPrefixes) {
    if (!starts_with_name(name, owned_prefix)) continue;
    const bool allowed = owned_prefix != "x-forwarded-" &&
                         std::any_of(allow.begin(), allow.end(),
                                     [&](const std::string& a) { return same_name(name, a); });
    if (!allowed) return true;
  }
  if (!prefix.empty() && starts_with_name(name, prefix)) return true;
  for (const std::string& s : strip) {
    const bool is_prefix = !s.empty() && s.back() == '*';
    if (is_prefix ? starts_with_name(name, std::string_view(s).substr(0, s.size() - 1))
                  : same_name(name, s))
      return true;
  }
  return connection_names(connection_value, name);
}
}  // namespace

bool is_gateway_owned(std::string_view name, std::string_view connection_value,
                      std::string_view prefix) noexcept {
  static const std::vector<std::string> none;
  return owned(name, connection_value, prefix, none, none);
}

bool is_gateway_owned(std::string_view name, std::string_view connection_value,
                      const PipelineConfig& config) noexcept {
  return owned(name, connection_value, config.identity_header_prefix, config.identity_headers_strip,
               config.identity_headers_allow);
}

void apply_identity_policy(const PipelineConfig& config, const RequestHead& head,
                           const ConnectionFacts& conn, ProxyRequest& req) {
  const std::string_view connection = head.field("connection");
  auto& out = req.frame.headers;
  out.reserve(head.fields.size() + 3);
  const auto add = [&](std::string_view name, std::string_view value) {
    core::Header h;
    if (!req.spare_headers.empty()) {  // an earlier request's entry, with its capacity
      h = std::move(req.spare_headers.back());
      req.spare_headers.pop_back();
      req.spare_header_bytes -= sizeof(core::Header) + h.name.capacity() + h.value.capacity();
    }
    h.name.assign(name);
    h.value.assign(value);
    out.push_back(std::move(h));
  };
  for (const auto& f : head.fields) {
    if (is_gateway_owned(f.name, connection, config)) {
      ++req.stripped_headers;
      continue;
    }
    add(f.name, f.value);
  }
  add("X-Forwarded-For", conn.peer_ip);
  add("X-Forwarded-Proto", conn.tls ? "https" : "http");
  if (!head.host.empty()) add("X-Forwarded-Host", head.host);
}

std::optional<Problem> normalize_request_path(const PipelineConfig& config, const RequestHead& head,
                                              ProxyRequest& req) {
  const std::string_view target = head.target;
  if (target == "*") return bad_request("asterisk-form is only meaningful for OPTIONS of a server");
  const std::string_view raw_path = target.substr(0, target.find('?'));
  if (auto err = core::normalize_path_into(raw_path, req.path, config.path_limits)) {
    if (err->code == core::Errc::path_too_long) return uri_too_long();
    // The request was well framed: the connection is kept (docs/http.md).
    return make_problem(Outcome::bad_request_path, "path refused: " + std::string(err->reason) +
                                                       " (at byte " +
                                                       std::to_string(err->position) + ")");
  }
  return std::nullopt;
}

std::optional<Problem> match_route(const RequestHead& head, const RouteSnapshot& snapshot,
                                   ProxyRequest& req) {
  snapshot.lookup(head.method, req.path, req.lookup);
  if (req.lookup.status == LookupStatus::not_found) return not_found(req.path.path());
  if (req.lookup.status == LookupStatus::method_not_allowed) {
    std::string allow;
    for (auto m : req.lookup.allowed_methods) {
      if (!allow.empty()) allow += ", ";
      allow += m;
    }
    return method_not_allowed(std::move(allow));
  }
  return std::nullopt;
}

std::optional<Problem> pick_route_instance(const PipelineConfig& config, const RequestHead& head,
                                           const Selector& selector, core::Random& rng,
                                           std::vector<Candidate>& scratch, ProxyRequest& req,
                                           LocalWorker worker) {
  const std::string_view target = head.target;
  const auto q = target.find('?');
  const Route& route = *req.lookup.route;
  req.pick = pick_instance(route, selector, rng, scratch);
  if (!req.pick) return no_instance(route.service, route.candidates.empty());
  prefer_local(route, *req.pick, worker);
  const auto& endpoint = req.pick->instance->endpoint;
  req.timeout = endpoint && endpoint->timeout_ms > 0
                    ? core::Duration(std::chrono::milliseconds(endpoint->timeout_ms))
                    : config.default_timeout;
  req.frame.method.assign(head.method);
  req.path.append_encoded(req.frame.path);
  if (q != std::string_view::npos) req.frame.query.assign(target.substr(q + 1));
  req.frame.route = route.template_text;
  req.frame.correlation_id = req.correlation_id;
  req.frame.timeout_ms = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(req.timeout).count());
  return std::nullopt;
}

std::optional<Problem> route_request(const PipelineConfig& config, const RequestHead& head,
                                     const RouteSnapshot& snapshot, const Selector& selector,
                                     core::Random& rng, std::vector<Candidate>& scratch,
                                     ProxyRequest& req) {
  if (auto p = normalize_request_path(config, head, req)) return p;
  if (auto p = match_route(head, snapshot, req)) return p;
  return pick_route_instance(config, head, selector, rng, scratch, req);
}

}  // namespace stella::gw::http
