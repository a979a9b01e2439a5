// The simulator's engine (private). One Engine is one run; its implementation is split by
// concern: engine.cpp (setup, loop, requests), engine_conn.cpp (connections, sessions, links,
// fake services), engine_failures.cpp (the failure schedule, liveness), engine_report.cpp
// (timeline and report).
#pragma once

#include <deque>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "stella/core/gateway_session.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/core/service_session.hpp"
#include "stella/gateway/instance_picker.hpp"
#include "stella/gateway/service_registry.hpp"
#include "stella/gateway/upstream_router.hpp"
#include "stella/sim/event_log.hpp"
#include "stella/sim/event_queue.hpp"
#include "stella/sim/histogram.hpp"
#include "stella/sim/link.hpp"
#include "stella/sim/simulator.hpp"

namespace stella::sim::detail {

inline constexpr std::uint32_t kNone = 0xFFFFFFFFu;
inline constexpr core::TimePoint kNever = core::TimePoint::max();

enum class ErrorKind : std::uint8_t {
  no_route,             // 404: no template matches
  no_instance,          // 503: no routable instance
  send_failed,          // 503: the connection refused the request (in-flight bound, closing)
  timeout,              // 504
  instance_lost,        // 502: the connection closed with the request open
  service_error,        // 500 from the service (errorRate)
  service_unavailable,  // 503 from the service (queue full, draining)
  gateway_down,         // the gateway is restarting
  gateway_overload,     // gateway queue or pending-request limit
  count_
};
const char* error_kind_name(ErrorKind k) noexcept;

struct Job {
  std::uint32_t conn = 0;
  std::uint32_t stream = 0;
};

struct InstanceSim {
  std::string name;
  std::uint32_t service = 0;
  std::uint32_t region = 0;
  const InstanceGroup* cfg = nullptr;
  core::Random rng{0};      // service times, error draws
  core::Random net_rng{0};  // reconnect jitter
  core::Duration base_latency{};

  bool alive = true;
  bool paused = false;
  bool draining = false;
  std::uint32_t incarnation = 1;
  core::TimePoint paused_since = kNever;
  core::TimePoint drain_since = kNever;
  double slow_factor = 1;
  core::Duration slow_add{};
  std::uint32_t conn = kNone;  // current connection
  bool connect_scheduled = false;
  core::Duration backoff{};

  std::uint32_t running = 0;
  std::deque<Job> queue;
  std::vector<Job> deferred;  // completions that fell into a pause

  core::HealthStatus gw_state = core::HealthStatus::unknown;
  std::uint64_t requests = 0, ok = 0, errors = 0, spilled = 0, sec_picks = 0;
  std::vector<HealthChange> health;
};

struct Conn {
  std::uint64_t id = 0;
  std::uint32_t instance = 0;
  std::uint32_t incarnation = 0;
  std::unique_ptr<core::GatewaySession> gs;
  std::unique_ptr<core::ServiceSession> ss;
  Link to_service, to_gateway;
  core::TimePoint gs_timer = kNever, ss_timer = kNever;
  std::shared_ptr<gw::InstanceState> state;
  bool registered = false;
  bool gs_dead = false, ss_dead = false;  // to release after the pump
  int partition_blocks = 0;
  core::TimePoint dead_since = kNever;  // its instance process died
  core::TimePoint drain_since = kNever;
};

struct RouteW {
  std::string method;
  std::string label;  // "GET /api/v1/orders/{id}"
  std::vector<core::NormalizedPath> paths;
  std::vector<core::Request> requests;  // one per path variant, reused for every send
  std::uint32_t service = kNone;        // the service that declares it (for liveness)
};

struct Req {
  std::uint32_t gen = 0;
  bool live = false;
  bool sent = false;
  std::uint16_t route = 0;
  std::uint16_t variant = 0;
  std::uint32_t conn = kNone;
  std::uint32_t stream = 0;
  std::uint32_t instance = kNone;
  core::TimePoint arrived{};
};

// Request deadlines, one FIFO per distinct timeout value. A deadline is the send time plus the
// timeout, so within a lane deadlines never decrease: one agenda event per lane (for the oldest
// request still waiting) replaces one per request, which keeps the agenda small. Most requests
// finish long before their deadline: when the lane's event fires, the entries of those that
// ended are dropped up to the next one still waiting. Bounded by rate × timeout entries.
struct TimeoutLane {
  core::Duration timeout{};
  struct Entry {
    core::TimePoint at;
    std::uint32_t slot;
    std::uint32_t gen;
  };
  std::deque<Entry> entries;
};

struct Action {
  enum class Op {
    crash,
    restart,
    pause,
    resume,
    slow,
    unslow,
    partition,
    heal,
    drain,
    gw_restart,
    gw_up
  };
  Op op = Op::crash;
  core::TimePoint at{};
  std::vector<std::uint32_t> instances;
  std::uint32_t region = kNone;  // partition / heal: the region cut off from the gateway's
  bool silent = false;
  double factor = 1;
  core::Duration add{};
  core::Duration duration{};
  std::string label;  // for the log and the report's failure marks
};

class Engine {
 public:
  Engine(const Topology& t, const SimOptions& o);
  SimResult run();

 private:
  // ---- engine.cpp
  void setup_instances();
  void setup_routes();
  void schedule(core::TimePoint at, EventKind k, std::uint32_t a = 0, std::uint32_t b = 0,
                std::uint32_t gen = 0);
  void handle(const Event& e);
  void on_arrival(bool redraw);
  void schedule_next_arrival();
  void start_processing(std::uint32_t slot);
  void on_dispatch(std::uint32_t slot, std::uint32_t gen);
  void route_request(std::uint32_t slot);
  void on_timeout_lane(std::uint32_t lane);
  /// Whether the request of a lane entry still waits for its answer.
  bool waiting(const TimeoutLane::Entry& e) const noexcept {
    return reqs_[e.slot].gen == e.gen && reqs_[e.slot].live;
  }
  void arm_timeout(std::uint32_t slot, core::Duration timeout);
  void timeout_request(std::uint32_t slot);
  void complete(std::uint32_t slot, std::uint16_t status);
  void fail(std::uint32_t slot, ErrorKind kind);
  void free_slot(std::uint32_t slot);
  void count_error(ErrorKind kind, std::uint32_t instance);
  void violate(std::string invariant, std::string detail);
  core::TimePoint down_since(const Conn& c, core::Duration& bound) const;

  // ---- engine_conn.cpp
  void on_connect(std::uint32_t inst, std::uint32_t incarnation);
  void schedule_reconnect(InstanceSim& in, std::uint32_t idx);
  void pump_gateway(std::uint32_t conn);
  void pump_service(std::uint32_t conn);
  void handle_gateway_event(Conn& c, std::uint32_t ci, core::GatewayEvent& ev);
  void handle_service_event(Conn& c, std::uint32_t ci, core::ServiceEvent& ev);
  void send(Conn& c, std::uint32_t ci, bool to_service, std::string_view bytes, bool fin);
  void on_deliver(std::uint32_t conn, bool to_service);
  void on_gateway_timer(std::uint32_t conn, core::TimePoint at);
  void on_service_timer(std::uint32_t conn, core::TimePoint at);
  void rearm_gateway(Conn& c, std::uint32_t ci);
  void rearm_service(Conn& c, std::uint32_t ci);
  void arm(std::optional<core::TimePoint> deadline, core::TimePoint& timer, EventKind kind,
           std::uint32_t ci);
  void on_job_done(std::uint32_t conn, std::uint32_t stream);
  void start_jobs(InstanceSim& in);
  core::Duration service_time(InstanceSim& in);
  void respond(Conn& c, std::uint32_t ci, std::uint32_t stream, std::uint16_t status);
  void health_change(Conn& c, std::optional<gw::HealthTransition> t);
  void record_health(InstanceSim& in, const char* state, const char* reason);
  void close_gateway_side(Conn& c, std::uint32_t ci, bool send_fin);
  void unblock(Link& l, std::uint32_t ci, bool to_service);

  // ---- engine_failures.cpp
  void expand_failures();
  std::vector<std::uint32_t> targets(const Failure& f, std::size_t index) const;
  void on_action(std::uint32_t index);
  void crash(std::uint32_t inst, bool silent);
  void gateway_restart(core::Duration downtime);
  void on_liveness_check();
  bool partitioned(std::uint32_t region) const { return partition_count_[region] > 0; }

  // ---- engine_report.cpp
  void on_second_tick();
  bool all_routes_routable() const;
  Report build_report() const;

  const Topology& t_;
  SimOptions o_;
  Bounds bounds_;
  core::TimePoint now_{};
  core::TimePoint end_{};       // workload stops
  core::TimePoint hard_end_{};  // the run stops even with requests open (they cannot be)
  EventQueue queue_;
  EventLog log_;
  core::Random workload_rng_{0}, select_rng_{0}, net_rng_{0}, gateway_rng_{0};

  // Gateway.
  gw::RegistrySettings registry_settings_;
  /// The production wiring of the service plane: registry events and the call table (stream
  /// → request slot), as the gateway's UpstreamHub uses it.
  std::unique_ptr<gw::UpstreamRouter> router_;
  std::unique_ptr<gw::Selector> selector_;
  core::GatewaySessionConfig gs_config_;
  std::vector<gw::Candidate> scratch_;
  gw::LookupResult lookup_;
  bool gateway_down_ = false;
  std::uint32_t busy_workers_ = 0;
  std::deque<std::uint32_t> gateway_queue_;
  std::uint64_t ignore_health_rr_ = 0;

  // World.
  std::vector<std::string> region_names_;
  std::vector<int> partition_count_;
  std::vector<core::TimePoint> partition_since_;
  std::vector<InstanceSim> instances_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<RouteW> routes_;
  std::vector<double> route_cum_;  // cumulative workload.mix weight of routes_[0..i]
  std::vector<Action> actions_;
  std::optional<core::TimePoint> heal_time_;
  std::vector<FailureMark> failure_marks_;

  // Requests.
  std::vector<TimeoutLane> lanes_;
  std::vector<Req> reqs_;
  std::vector<std::uint32_t> free_reqs_;
  std::size_t pending_ = 0;
  core::Response ok_response_{200, {}, {}};
  std::string out_;  // take_output scratch

  // Statistics.
  std::uint64_t arrivals_ = 0, ok_ = 0, errors_ = 0, picks_ = 0, spills_ = 0;
  std::uint64_t errors_by_kind_[static_cast<int>(ErrorKind::count_)] = {};
  std::vector<std::uint64_t> region_picks_, region_ok_, region_errors_, sec_region_picks_;
  Histogram overhead_, e2e_;
  CoarseHistogram sec_e2e_, sec_overhead_;
  std::uint64_t sec_requests_ = 0, sec_errors_ = 0;
  std::vector<TimelineBucket> timeline_;
  std::vector<std::uint32_t> timeline_instances_;
  std::uint64_t routable_seconds_ = 0, seconds_ = 0;
  std::uint64_t health_events_ = 0, health_dropped_ = 0;
  std::uint64_t events_processed_ = 0;
  InvariantReport inv_;
  std::optional<Violation> violation_;
};

}  // namespace stella::sim::detail
