#include "stella/gateway/http/openapi_publisher.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "stella/core/text.hpp"
#include "stella/gateway/auth/jose.hpp"

namespace stella::gw::http {

namespace {

std::string strong_etag(std::string_view body) {
  static constexpr char kHex[] = "0123456789abcdef";
  const std::string digest = auth::sha256(body);
  std::string tag = "\"";
  for (std::size_t i = 0; i < 16; ++i) {
    const auto b = static_cast<unsigned char>(digest[i]);
    tag += kHex[b >> 4];
    tag += kHex[b & 0xF];
  }
  return tag + "\"";
}

OpenApiRendering rendering(std::string body) {
  OpenApiRendering r;
  r.etag = strong_etag(body);
  r.body = std::move(body);
  return r;
}

std::string dump(const nlohmann::ordered_json& doc) {
  // Peer text is made valid UTF-8 by the merge; `replace` is the belt to those braces.
  return doc.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

// The files of swagger-ui-dist the page uses, with their types.
struct UiFile {
  std::string_view name;
  std::string_view content_type;
};
constexpr UiFile kUiFiles[] = {
    {"swagger-ui.css", "text/css; charset=utf-8"},
    {"swagger-ui-bundle.js", "text/javascript; charset=utf-8"},
    {"favicon-32x32.png", "image/png"},
    {"favicon-16x16.png", "image/png"},
};

// Relative references: the page works behind a path prefix too (/docs → docs/..., openapi.json).
constexpr std::string_view kPage = R"(<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>TITLE</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="stylesheet" href="docs/swagger-ui.css">
<link rel="icon" type="image/png" href="docs/favicon-32x32.png" sizes="32x32">
<link rel="icon" type="image/png" href="docs/favicon-16x16.png" sizes="16x16">
</head>
<body>
<div id="swagger-ui"></div>
<script src="docs/swagger-ui-bundle.js"></script>
<script src="docs/stella-init.js"></script>
</body>
</html>
)";

// No inline script: the page keeps working under a Content-Security-Policy of script-src 'self'.
constexpr std::string_view kInit = R"(window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({
    url: "openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    displayOperationId: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout"
  });
});
)";

StaticAsset make_asset(std::string body, std::string_view type) {
  StaticAsset a;
  a.etag = strong_etag(body);
  a.body = std::move(body);
  a.content_type = type;
  return a;
}

}  // namespace

std::vector<openapi::ServiceInput> openapi_inputs(const RouteSnapshot& snapshot,
                                                  const config::GatewayConfig& config) {
  struct Acc {
    openapi::ServiceInput input;
    std::set<std::uint64_t> connections;
    std::set<std::string> versions;
    core::TimePoint earliest = core::TimePoint::max();
  };
  std::map<std::string, Acc> by_service;
  const auto& anon = config.auth.anonymous_services;
  const auto default_ms = static_cast<std::uint32_t>(
      std::chrono::duration_cast<std::chrono::milliseconds>(config.routing.default_timeout)
          .count());
  for (const auto& method : snapshot.methods()) {
    for (const auto& route : method->routes) {
      if (route.candidates.empty() || !route.endpoint) continue;  // held for a departed owner
      auto& acc = by_service[route.service];
      const RouteCandidate* source = &route.candidates.front();
      for (const auto& c : route.candidates) {
        if (c.endpoint == route.endpoint) source = &c;
        acc.versions.insert(c.info->service_version);
        if (acc.connections.insert(c.info->connection_id).second &&
            c.info->registered_at < acc.earliest) {
          acc.earliest = c.info->registered_at;
          acc.input.version = c.info->service_version;
        }
      }
      openapi::EndpointInput e;
      e.descriptor = *route.endpoint;
      e.descriptor.path = route.template_text;
      e.service_version = source->info->service_version;
      e.timeout_ms = e.descriptor.timeout_ms != 0 ? e.descriptor.timeout_ms : default_ms;
      e.required_claims = route.required_claims;
      e.anonymous =
          route.anonymous && std::find(anon.begin(), anon.end(), route.service) != anon.end();
      acc.input.endpoints.push_back(std::move(e));
    }
  }
  std::vector<openapi::ServiceInput> out;
  for (auto& [name, acc] : by_service) {
    acc.input.name = name;
    acc.input.instances = acc.connections.size();
    for (const auto& v : acc.versions)
      if (v != acc.input.version) acc.input.other_versions.push_back(v);
    out.push_back(std::move(acc.input));
  }
  return out;
}

openapi::DocumentOptions openapi_options(const config::GatewayConfig& config) {
  const auto& c = config.openapi;
  openapi::DocumentOptions o;
  o.title = c.title;
  o.version = c.version;
  o.description = c.description;
  o.servers = c.servers;
  if (o.servers.empty() && !config.http.external_url.empty())
    o.servers.push_back(config.http.external_url);
  o.auth_enabled = config.auth.enabled;
  o.bearer_accepted = !config.auth.require_sender_constrained || config.auth.mtls_enabled;
  o.issuer = config.auth.authority.issuer;
  o.limits.max_fragment_bytes = c.limits.max_fragment_bytes;
  o.limits.max_depth = c.limits.max_depth;
  o.limits.max_components = c.limits.max_components;
  return o;
}

OpenApiPublisher::OpenApiPublisher(std::shared_ptr<const config::GatewayConfig> config,
                                   SnapshotFn snapshot, const core::Clock& clock, LogFn log)
    : config_(std::move(config)),
      snapshot_(std::move(snapshot)),
      clock_(clock),
      log_(std::move(log)) {
  if (config_->openapi.ui.enabled) load_ui();
  // A first build now: no request ever waits for one (later builds are served the previous one
  // while they run).
  current_ = build(snapshot_());
}

void OpenApiPublisher::load_ui() {
  namespace fs = std::filesystem;
  const fs::path dir = config_->openapi.ui.assets_dir;
  for (const auto& f : kUiFiles) {
    const fs::path file = dir / f.name;
    std::ifstream in(file, std::ios::binary);
    std::ostringstream body;
    body << in.rdbuf();
    if (!in || body.str().empty()) {
      ui_problem_ = "Swagger UI's files are not in openapi.ui.assetsDir ('" + dir.string() +
                    "': " + std::string(f.name) + " is missing)";
      log_("warn",
           "WARNING: " + ui_problem_ + "; /docs answers 503 (bash scripts/setup.sh installs them)");
      assets_.clear();
      return;
    }
    assets_.emplace(std::string(f.name), make_asset(body.str(), f.content_type));
  }
  assets_.emplace("stella-init.js",
                  make_asset(std::string(kInit), "text/javascript; charset=utf-8"));
  std::string page(kPage);
  page.replace(page.find("TITLE"), 5, core::html_escape(config_->openapi.title));
  page_ = make_asset(std::move(page), "text/html; charset=utf-8");
}

const StaticAsset* OpenApiPublisher::asset(std::string_view name) const {
  auto it = assets_.find(name);
  return it == assets_.end() ? nullptr : &it->second;
}

bool OpenApiPublisher::due(const OpenApiBuild& b, std::uint64_t version) const {
  // A document without any service is never worth keeping for a TTL: the gateway builds one at
  // startup, before services connect, and the first one to register must show without waiting.
  return b.snapshot_version != version &&
         (b.services.empty() || clock_.now() - b.built_at >= config_->openapi.cache_ttl);
}

std::shared_ptr<const OpenApiBuild> OpenApiPublisher::latest() const {
  std::lock_guard lock(mutex_);
  return current_;
}

std::shared_ptr<const OpenApiBuild> OpenApiPublisher::current() {
  auto have = latest();
  if (!due(*have, snapshot_()->version())) return have;
  std::unique_lock building(build_mutex_, std::try_to_lock);
  if (!building.owns_lock()) return have;  // someone is building: the previous build meanwhile
  have = latest();
  auto snapshot = snapshot_();
  if (!due(*have, snapshot->version())) return have;  // built while we took the lock
  std::shared_ptr<const OpenApiBuild> fresh;
  try {
    fresh = build(std::move(snapshot));
  } catch (const std::exception& e) {
    // Out of memory, most likely: keep serving the last build, and try again a TTL later.
    log_("warn", std::string("openapi: the document could not be rebuilt (") + e.what() +
                     "); the previous one is served");
    auto retry = std::make_shared<OpenApiBuild>(*have);
    retry->built_at = clock_.now();
    fresh = std::move(retry);
  }
  std::lock_guard lock(mutex_);
  current_ = fresh;
  return fresh;
}

std::shared_ptr<const OpenApiBuild> OpenApiPublisher::build(
    std::shared_ptr<const RouteSnapshot> snapshot) {
  auto b = std::make_shared<OpenApiBuild>();
  b->snapshot_version = snapshot->version();
  b->built_at = clock_.now();
  const auto inputs = openapi_inputs(*snapshot, *config_);
  const auto options = openapi_options(*config_);
  auto merged = openapi::merge(inputs, options);
  b->rejected = merged.rejected;
  for (const auto& w : merged.warnings) {
    log_("warn", "openapi: service " + core::printable(w.service) +
                     (w.endpoint.empty() ? "" : " " + core::printable(w.endpoint)) + ": " +
                     std::string(openapi::reason_name(w.reason)) + ": " +
                     core::printable(w.detail) + " (left out)");
  }
  b->json = rendering(dump(merged.document));
  b->yaml = rendering(openapi::to_yaml(merged.document));
  for (const auto& s : inputs) {
    auto one = openapi::merge({s}, options);
    b->services.emplace(s.name, rendering(dump(one.document)));
  }
  rebuilds_.fetch_add(1, std::memory_order_relaxed);
  return b;
}

bool if_none_match_matches(std::string_view field, std::string_view etag) {
  auto strip_weak = [](std::string_view t) {
    if (t.starts_with("W/")) t.remove_prefix(2);
    return t;
  };
  const auto want = strip_weak(etag);
  while (!field.empty()) {
    const auto comma = field.find(',');
    std::string_view item = field.substr(0, comma);
    field = comma == std::string_view::npos ? std::string_view() : field.substr(comma + 1);
    while (!item.empty() && (item.front() == ' ' || item.front() == '\t'))
      item.remove_prefix(1);
    while (!item.empty() && (item.back() == ' ' || item.back() == '\t'))
      item.remove_suffix(1);
    if (item == "*" || strip_weak(item) == want) return true;
  }
  return false;
}

}  // namespace stella::gw::http
