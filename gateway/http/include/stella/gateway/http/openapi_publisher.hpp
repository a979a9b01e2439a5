// The aggregated OpenAPI document as the gateway serves it (docs/openapi.md):
//   /openapi.json, /openapi.yaml   the whole document (openapi/openapi.hpp builds it)
//   /openapi/{service}.json        one service's part, as its own document
//   /docs                          Swagger UI (openapi.ui), its files from openapi.ui.assetsDir
//
// The document is built from the current route snapshot: only routes with a live instance
// (a route held for a departed owner is not listed). It is rebuilt when the snapshot version
// has changed and the last build is at least openapi.cacheTtlSeconds old (or lists no service
// at all: the startup build, made before services connect, is replaced at once); between rebuilds
// every reader gets the same bytes, ETag and all. The first build happens in the constructor;
// later ones run on the thread of the request that finds the document due, and readers that
// arrive meanwhile get the previous build (nobody waits). A build that throws leaves the
// previous one in place until a TTL later.
//
// Thread-safety: every member function may be called from any thread.
#pragma once

#include <array>
#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/config/gateway_config.hpp"
#include "stella/gateway/openapi/openapi.hpp"
#include "stella/gateway/route_snapshot.hpp"

namespace stella::gw::http {

/// One rendering of a document: its bytes and strong ETag (quoted, from SHA-256 of the bytes).
struct OpenApiRendering {
  std::string body;
  std::string etag;
};

struct OpenApiBuild {
  std::uint64_t snapshot_version = 0;
  core::TimePoint built_at{};
  OpenApiRendering json, yaml;
  std::map<std::string, OpenApiRendering, std::less<>> services;  // by service name
  /// Fragments (or parts) left out of this build, by openapi::Reason.
  std::array<std::uint64_t, openapi::kReasonCount> rejected{};
};

/// A file of the /docs page, read once at startup.
struct StaticAsset {
  std::string body;
  std::string_view content_type;
  std::string etag;
};

/// The merge's inputs for a snapshot under the gateway's policy: effective timeouts, claims,
/// and anonymity (auth.anonymousServices). Services by name; each shows the version of its
/// earliest registered instance and lists the others.
std::vector<openapi::ServiceInput> openapi_inputs(const RouteSnapshot& snapshot,
                                                  const config::GatewayConfig& config);
/// Title, version, servers (openapi.servers, else http.externalUrl), security as configured.
openapi::DocumentOptions openapi_options(const config::GatewayConfig& config);

class OpenApiPublisher {
 public:
  using SnapshotFn = std::function<std::shared_ptr<const RouteSnapshot>()>;
  using LogFn = std::function<void(std::string_view level, const std::string& line)>;

  /// Reads the /docs files when openapi.ui.enabled (a missing file is logged as a warning and
  /// makes /docs answer 503).
  OpenApiPublisher(std::shared_ptr<const config::GatewayConfig> config, SnapshotFn snapshot,
                   const core::Clock& clock, LogFn log);

  /// The current build; rebuilds first when it is due. Never null.
  std::shared_ptr<const OpenApiBuild> current();
  /// The last build without building: for metrics. Never null.
  std::shared_ptr<const OpenApiBuild> latest() const;
  std::uint64_t rebuilds() const noexcept { return rebuilds_.load(std::memory_order_relaxed); }

  /// /docs: empty when the page can be served, else why not.
  const std::string& ui_problem() const noexcept { return ui_problem_; }
  /// The page itself, and a file it references by name (nullptr: no such file).
  const StaticAsset& docs_page() const noexcept { return page_; }
  const StaticAsset* asset(std::string_view name) const;

 private:
  std::shared_ptr<const OpenApiBuild> build(std::shared_ptr<const RouteSnapshot> snapshot);
  bool due(const OpenApiBuild& b, std::uint64_t version) const;
  void load_ui();

  std::shared_ptr<const config::GatewayConfig> config_;
  SnapshotFn snapshot_;
  const core::Clock& clock_;
  LogFn log_;
  mutable std::mutex mutex_;  // guards current_
  std::shared_ptr<const OpenApiBuild> current_;
  std::mutex build_mutex_;  // one build at a time
  std::atomic<std::uint64_t> rebuilds_{0};
  std::string ui_problem_;
  StaticAsset page_;
  std::map<std::string, StaticAsset, std::less<>> assets_;
};

/// Whether an If-None-Match field value matches `etag` (weak comparison, RFC 9110 §13.1.2:
/// a list of entity tags, W/ ignored, or "*").
bool if_none_match_matches(std::string_view field, std::string_view etag);

}  // namespace stella::gw::http
