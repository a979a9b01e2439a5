// The same seed gives the same run, byte for byte; a different seed gives a different one.
#include <gtest/gtest.h>

#include <sstream>

#include "sim_test_util.hpp"

namespace stella::sim {
namespace {

using namespace std::chrono_literals;

SimResult run_logged(const Topology& t, std::uint64_t seed, std::string& log) {
  std::ostringstream out;
  SimOptions o;
  o.seed = seed;
  o.rate_scale = 0.02;
  o.event_log = &out;
  SimResult r = run_simulation(t, o);
  log = out.str();
  return r;
}

TEST(SimDeterminism, SameSeedGivesIdenticalJsonAndEventHash) {
  const Topology t = load_topology(test::topology_path("local-region-loss.yaml"));
  std::string log1, log2;
  const SimResult a = run_logged(t, 7, log1);
  const SimResult b = run_logged(t, 7, log2);
  ASSERT_FALSE(a.violation) << a.violation->detail;
  EXPECT_EQ(a.event_hash, b.event_hash);
  EXPECT_EQ(to_json(a.report), to_json(b.report));
  EXPECT_EQ(log1, log2);
  EXPECT_EQ(to_html(a.report), to_html(b.report));
  EXPECT_GT(a.report.requests, 1000u);  // 40/s for 60 s
  EXPECT_GT(a.report.event_lines, 50u);
}

TEST(SimDeterminism, DifferentSeedGivesDifferentHash) {
  const Topology t = load_topology(test::topology_path("local-region-loss.yaml"));
  std::string log1, log2;
  const SimResult a = run_logged(t, 7, log1);
  const SimResult b = run_logged(t, 8, log2);
  EXPECT_NE(a.event_hash, b.event_hash);
  EXPECT_NE(to_json(a.report), to_json(b.report));
}

TEST(SimDeterminism, TheHashCoversRequestOutcomes) {
  // Same control plane, different workload draws: the hash must still differ, because every
  // request outcome is folded into it.
  const Topology t = load_topology(test::topology_path("three-regions-steady.yaml"));
  SimOptions o;
  o.seed = 1;
  o.rate_scale = 0.05;
  o.duration = 5s;
  const auto a = run_simulation(t, o);
  o.rate_scale = 0.051;
  const auto b = run_simulation(t, o);
  EXPECT_NE(a.event_hash, b.event_hash);
}

}  // namespace
}  // namespace stella::sim

namespace stella::sim {
namespace {

// The report names what it measures: a local-region loss fails over to the neighbor (served
// outside the local region) without spilling; the charts' ticks are round numbers.
TEST(SimReport, FailoverIsNotSpillAndTicksAreRound) {
  const Topology t = load_topology(test::topology_path("local-region-loss.yaml"));
  SimOptions o;
  o.seed = 7;
  o.rate_scale = 0.02;
  const SimResult r = run_simulation(t, o);
  EXPECT_GT(r.report.outside_local_share, 0.15);  // the neighbor served during the loss
  EXPECT_LT(r.report.spill_share, 0.01);
  const std::string summary = summary_table(r.report);
  EXPECT_NE(summary.find("route availability"), std::string::npos) << summary;
  EXPECT_NE(summary.find("failover"), std::string::npos) << summary;
  const std::string html = to_html(r.report);
  for (const char* tick : {">25</text>", ">75</text>", ">10 s</text>", ">70 s</text>"})
    EXPECT_NE(html.find(tick), std::string::npos) << tick;
  // No tick label with more decimals than its step needs (the old charts printed 9.51, 22 s).
  EXPECT_EQ(html.find(".51</text>"), std::string::npos);
}

}  // namespace
}  // namespace stella::sim
