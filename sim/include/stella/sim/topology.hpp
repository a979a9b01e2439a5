// A simulated platform: regions, the network between them, the gateway, services and their
// instances, a workload and a failure schedule. Loaded from YAML (docs/simulation.md lists
// every key); plain values after loading, validated once.
//
// Errors: load_topology / parse_topology throw TopologyError whose message names the file, the
// key path ("services[0].instances[1].serviceTime") and what is wrong. Unknown keys are errors.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/selector.hpp"
#include "stella/sim/distribution.hpp"

namespace stella::sim {

class TopologyError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct Region {
  std::string name;
  std::vector<std::string> neighbors;  // the gateway's neighbor tier when it sits here
};

struct LatencyPair {
  std::string a;
  std::string b;
  core::Duration latency{};  // one way
};

struct Network {
  core::Duration same_region = std::chrono::microseconds(200);  // one way
  core::Duration default_latency = std::chrono::milliseconds(40);
  /// Uniform extra delay in [0, jitter) per message; delivery stays in order (TCP).
  core::Duration jitter = core::Duration::zero();
  std::vector<LatencyPair> pairs;
};

struct GatewayConfig {
  std::string region;
  core::Duration heartbeat_interval = std::chrono::seconds(10);
  core::Duration heartbeat_timeout = std::chrono::seconds(30);
  std::uint32_t unhealthy_threshold = 3;
  std::uint32_t healthy_threshold = 2;
  core::Duration default_timeout = std::chrono::seconds(30);
  gw::Policy policy = gw::Policy::p2c;
  double overprovisioning_factor = 1.4;
  std::size_t max_candidates = 64;
  bool prefer_healthy = true;
  /// Modelled gateway work per request (auth, routing, encoding): the "routing overhead".
  Distribution processing = Distribution::fixed(std::chrono::microseconds(50));
  /// Parallel request workers; 0 = unlimited (no queueing in the gateway).
  std::uint32_t workers = 0;
  std::uint32_t worker_queue_limit = 100000;
  std::uint32_t max_in_flight_per_connection = 1024;
};

struct Endpoint {
  std::string method;
  std::string path;                                 // template
  core::Duration timeout = core::Duration::zero();  // 0: gateway default
};

struct InstanceGroup {
  std::string region;
  std::uint32_t count = 1;
  std::vector<std::string> names;  // optional explicit names (size == count)
  Distribution service_time;
  std::uint32_t concurrency = 64;
  std::uint32_t queue_limit = 1000;
  double error_rate = 0;  // share of requests answered 500
};

struct Service {
  std::string name;
  std::string version = "1.0.0";
  std::vector<Endpoint> endpoints;
  std::vector<InstanceGroup> instances;
};

struct RatePhase {
  core::Duration from{};  // the phase starts here (virtual time)
  double rps = 0;
};

struct RouteMix {
  std::string method;
  std::string path;  // a template; {param} segments get a random number per request
  double weight = 1;
};

struct Workload {
  std::vector<RatePhase> rate;  // sorted by `from`
  std::vector<RouteMix> mix;
};

enum class FailureKind {
  crash,
  restart,
  pause,  // heartbeat loss: the instance stops reading and answering for `duration`
  slowdown,
  flap,
  partition,
  drain,
  gateway_restart,
};
const char* failure_kind_name(FailureKind k) noexcept;

struct Failure {
  FailureKind kind = FailureKind::crash;
  core::Duration at{};
  // Targets (instance kinds): an instance name, or every instance of a region (and/or
  // service).
  std::string instance;
  std::string region;
  std::string service;
  bool silent = false;                   // crash: no connection reset (host loss)
  core::Duration duration{};             // pause, slowdown, partition; gateway downtime
  double factor = 1;                     // slowdown: service time × factor
  core::Duration add{};                  // slowdown: + this much per request
  core::Duration down{}, up{}, until{};  // flap
  std::vector<std::string> regions;      // partition: exactly two
};

struct SloTargets {
  core::Duration overhead_p50 = std::chrono::milliseconds(2);
  core::Duration overhead_p99 = std::chrono::milliseconds(5);
  core::Duration e2e_p99 = std::chrono::milliseconds(50);
  double error_rate = 0.001;
};

struct Reconnect {
  core::Duration initial_backoff = std::chrono::milliseconds(100);
  core::Duration max_backoff = std::chrono::seconds(5);
};

struct SimLimits {
  std::size_t max_events = 20'000'000;      // events queued at once
  std::size_t max_pending = 2'000'000;      // requests in flight at once (beyond: error)
  std::size_t max_connections = 1'000'000;  // connections opened over a run
  std::size_t max_health_events = 100'000;  // kept for the report's health timeline
};

struct Topology {
  std::string name;
  std::string description;
  std::string source_file;  // for messages
  core::Duration duration = std::chrono::seconds(60);
  std::vector<Region> regions;
  Network network;
  GatewayConfig gateway;
  std::vector<Service> services;
  Workload workload;
  std::vector<Failure> failures;  // sorted by `at`
  SloTargets slo;
  Reconnect reconnect;
  SimLimits limits;

  const Region* region(std::string_view name) const noexcept;
  /// One-way latency between two regions.
  core::Duration latency(std::string_view a, std::string_view b) const noexcept;
};

/// Reads and validates a topology file. Throws TopologyError.
Topology load_topology(const std::string& path);
/// Parses YAML text; `source` names it in messages. Throws TopologyError.
Topology parse_topology(const std::string& yaml_text, const std::string& source);

}  // namespace stella::sim
