// Helpers shared by the route-table tests: endpoint and instance builders, lookups that keep
// their snapshot and path alive, and a compact rendering of verdicts.
#pragma once

#include <gtest/gtest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "stella/core/path_normalize.hpp"
#include "stella/gateway/routing_state.hpp"

namespace stella::gw::testing {

using core::EndpointDescriptor;
using core::RejectReason;

inline EndpointDescriptor ep(std::string method, std::string path, std::uint32_t timeout_ms = 0,
                             std::vector<core::Claim> claims = {}) {
  EndpointDescriptor d;
  d.method = std::move(method);
  d.path = std::move(path);
  d.timeout_ms = timeout_ms;
  d.required_claims = std::move(claims);
  return d;
}

inline InstanceInfo inst(std::uint64_t conn, std::string service, std::string id = "",
                         std::string region = "eu1") {
  return InstanceInfo{conn,
                      std::move(service),
                      "1.0.0",
                      id.empty() ? "i" + std::to_string(conn) : std::move(id),
                      std::move(region),
                      core::TimePoint{}};
}

inline core::NormalizedPath path(std::string_view raw) {
  auto r = core::normalize_path(raw);
  EXPECT_TRUE(r.ok()) << raw;
  return std::move(r).value();
}

// Looks up in the current snapshot. Lookup results view into the snapshot and the path, so
// both are kept alive until the end of the test program (deques do not move their elements).
inline LookupResult find(const RouteTable& t, std::string_view method, std::string_view raw) {
  static std::deque<std::shared_ptr<const RouteSnapshot>> snapshots;
  static std::deque<core::NormalizedPath> paths;
  snapshots.push_back(t.snapshot());
  paths.push_back(path(raw));
  return snapshots.back()->lookup(method, paths.back());
}

// "accepted" or the reject reason's number, per endpoint, e.g. "ok ok 5".
inline std::string verdicts(const RegisterResult& r) {
  std::string s;
  for (const auto& v : r.endpoints) {
    if (!s.empty()) s += ' ';
    s += v.accepted ? "ok" : std::to_string(static_cast<int>(v.reason));
  }
  return s;
}

}  // namespace stella::gw::testing
