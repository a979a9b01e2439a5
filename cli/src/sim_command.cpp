#include "sim_command.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/core/units.hpp"
#include "stella/sim/simulator.hpp"

namespace stella::cli {
namespace {

struct SimCliOptions {
  std::string topology;
  std::optional<std::uint64_t> seed;
  std::string duration;
  std::string policy;
  std::string report_json;
  std::string report_html;
  std::string event_log;
  std::uint32_t sweep = 0;
  double rate_scale = 1.0;
  bool progress = false;
  bool fault_ignore_health = false;  // test hook (hidden)
};

std::string replay_command(const SimCliOptions& o, std::uint64_t seed) {
  std::string cmd = "stella-gw sim --topology " + o.topology + " --seed " + std::to_string(seed);
  if (!o.duration.empty()) cmd += " --duration " + o.duration;
  if (!o.policy.empty()) cmd += " --policy " + o.policy;
  if (o.rate_scale != 1.0) {
    char buf[64];
    std::snprintf(buf, sizeof buf, " --rate-scale %g", o.rate_scale);
    cmd += buf;
  }
  if (o.fault_ignore_health) cmd += " --fault-ignore-health";
  return cmd;
}

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  out.flush();
  if (!out) {
    std::fprintf(stderr, "stella-gw sim: cannot write '%s'\n", path.c_str());
    return false;
  }
  return true;
}

// A one-line bar on stderr, redrawn in place.
void draw_progress(double fraction, double duration_s) {
  const int width = 40;
  const int filled = static_cast<int>(fraction * width);
  std::string bar(static_cast<std::size_t>(filled), '#');
  bar.resize(width, '.');
  std::fprintf(stderr, "\r[%s] %3d%%  t=%.0f/%.0f s", bar.c_str(),
               static_cast<int>(fraction * 100 + 0.5), fraction * duration_s, duration_s);
  std::fflush(stderr);
}

void print_violation(const SimCliOptions& o, std::uint64_t seed, const sim::Violation& v) {
  std::printf("INVARIANT VIOLATED: %s\n  %s\n  at t=%.6f s (virtual), seed %llu\n  replay: %s\n",
              v.invariant.c_str(), v.detail.c_str(),
              std::chrono::duration<double>(v.at.time_since_epoch()).count(),
              static_cast<unsigned long long>(seed), replay_command(o, seed).c_str());
}

int run(const SimCliOptions& o) {
  sim::Topology topo;
  try {
    topo = sim::load_topology(o.topology);
  } catch (const sim::TopologyError& e) {
    std::fprintf(stderr, "stella-gw sim: topology error: %s\n", e.what());
    return 1;
  }
  sim::SimOptions so;
  if (!o.duration.empty()) {
    std::string error;
    const auto d = core::parse_duration(o.duration, error);
    if (!d || *d <= std::chrono::nanoseconds::zero()) {
      std::fprintf(stderr, "stella-gw sim: --duration '%s': %s\n", o.duration.c_str(),
                   d ? "must be > 0" : error.c_str());
      return 2;
    }
    so.duration = std::chrono::duration_cast<core::Duration>(*d);
  }
  if (!o.policy.empty()) {
    so.policy = gw::parse_policy(o.policy);
    if (!so.policy) {
      std::fprintf(stderr, "stella-gw sim: --policy: expected lowest-ping, p2c or round-robin\n");
      return 2;
    }
  }
  so.fault_ignore_health = o.fault_ignore_health;
  if (!(o.rate_scale > 0)) {
    std::fprintf(stderr, "stella-gw sim: --rate-scale must be > 0\n");
    return 2;
  }
  so.rate_scale = o.rate_scale;
  // The only entropy in the simulator's path: choosing a seed when none is given. It is
  // printed first, so the run can be replayed.
  const std::uint64_t seed = o.seed ? *o.seed : std::random_device{}();
  std::printf("seed: %llu\nreplay: %s\n", static_cast<unsigned long long>(seed),
              replay_command(o, seed).c_str());
  std::fflush(stdout);
  const double duration_s =
      std::chrono::duration<double>(so.duration.value_or(topo.duration)).count();

  if (o.sweep > 0) {
    std::vector<std::uint64_t> failing;
    for (std::uint32_t i = 0; i < o.sweep; ++i) {
      sim::SimOptions s = so;
      s.seed = seed + i;
      try {
        const sim::SimResult r = sim::run_simulation(topo, s);
        if (r.violation) {
          failing.push_back(s.seed);
          print_violation(o, s.seed, *r.violation);
        } else {
          std::printf("seed %llu: ok  requests %llu  errors %llu  hash %016llx\n",
                      static_cast<unsigned long long>(s.seed),
                      static_cast<unsigned long long>(r.report.requests),
                      static_cast<unsigned long long>(r.report.errors),
                      static_cast<unsigned long long>(r.event_hash));
        }
      } catch (const std::exception& e) {
        std::fprintf(stderr, "stella-gw sim: seed %llu: %s\n",
                     static_cast<unsigned long long>(s.seed), e.what());
        failing.push_back(s.seed);
      }
      std::fflush(stdout);
    }
    std::printf("sweep: %u seeds, %zu failing", o.sweep, failing.size());
    for (auto f : failing)
      std::printf(" %llu", static_cast<unsigned long long>(f));
    std::printf("\n");
    return failing.empty() ? 0 : 1;
  }

  so.seed = seed;
  std::unique_ptr<std::ofstream> log;
  if (!o.event_log.empty()) {
    log = std::make_unique<std::ofstream>(o.event_log, std::ios::binary | std::ios::trunc);
    if (!*log) {
      std::fprintf(stderr, "stella-gw sim: cannot write '%s'\n", o.event_log.c_str());
      return 1;
    }
    so.event_log = log.get();
  }
  const bool show_progress = o.progress || ::isatty(::fileno(stderr)) != 0;
  if (show_progress) so.progress = [duration_s](double f) { draw_progress(f, duration_s); };

  const core::SteadyClock wall;
  const core::TimePoint started = wall.now();
  sim::SimResult result;
  try {
    result = sim::run_simulation(topo, so);
  } catch (const sim::TopologyError& e) {
    std::fprintf(stderr, "%sstella-gw sim: topology error: %s\n", show_progress ? "\n" : "",
                 e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%sstella-gw sim: %s\n", show_progress ? "\n" : "", e.what());
    return 1;
  }
  const double wall_s = std::chrono::duration<double>(wall.now() - started).count();
  if (show_progress) std::fprintf(stderr, "\n");

  std::printf("\n%s", sim::summary_table(result.report).c_str());
  std::fprintf(stderr, "wall time %.2f s, %.0f simulated requests per second\n", wall_s,
               wall_s > 0 ? static_cast<double>(result.requests) / wall_s : 0.0);
  bool ok = true;
  if (!o.report_json.empty()) {
    ok = write_file(o.report_json, sim::to_json(result.report)) && ok;
    if (ok) std::printf("report: %s\n", o.report_json.c_str());
  }
  if (!o.report_html.empty()) {
    ok = write_file(o.report_html, sim::to_html(result.report)) && ok;
    if (ok) std::printf("report: %s\n", o.report_html.c_str());
  }
  if (log) log->flush();
  if (result.violation) {
    print_violation(o, seed, *result.violation);
    return 1;
  }
  return ok ? 0 : 1;
}

}  // namespace

void add_sim_command(CLI::App& app, int& exit_code) {
  auto opt = std::make_shared<SimCliOptions>();
  auto* sim = app.add_subcommand(
      "sim",
      "Simulate a topology offline: deterministic virtual time, the real routing, health and "
      "codec; checks invariants, prints a summary and writes JSON/HTML reports");
  sim->add_option("--topology", opt->topology, "Topology file (YAML, docs/simulation.md)")
      ->required()
      ->check(CLI::ExistingFile);
  sim->add_option("--seed", opt->seed, "Seed of every random choice (default: a random one)");
  sim->add_option("--duration", opt->duration, "Virtual duration, e.g. 60s (overrides the file)");
  sim->add_option("--policy", opt->policy, "lowest-ping, p2c or round-robin (overrides the file)");
  sim->add_option("--report-json", opt->report_json, "Write the JSON report here");
  sim->add_option("--report-html", opt->report_html, "Write the self-contained HTML report here");
  sim->add_option("--event-log", opt->event_log, "Write the event log lines here");
  sim->add_option("--rate-scale", opt->rate_scale,
                  "Multiply every workload rate by this factor (e.g. 0.1 for a quick look)");
  sim->add_option("--sweep", opt->sweep, "Run N seeds (seed, seed+1, ...) and list failing ones");
  sim->add_flag("--progress", opt->progress, "Show the progress bar even when stderr is no tty");
  // Test hook: a deliberately broken selection, to see the invariant checker fire.
  sim->add_flag("--fault-ignore-health", opt->fault_ignore_health)->group("");
  sim->callback([opt, &exit_code] { exit_code = run(*opt); });
}

}  // namespace stella::cli
