// Topology files: errors name the file and the key path; unknown keys are errors.
#include <gtest/gtest.h>

#include "sim_test_util.hpp"
#include "stella/gateway/stream_map.hpp"
#include "stella/sim/histogram.hpp"

namespace stella::sim {
namespace {

const std::string kValid = R"(
name: t
regions: [{name: a}]
gateway: {region: a}
services:
  - name: s
    endpoints: [{method: GET, path: "/x/{id}"}]
    instances: [{region: a, count: 2, serviceTime: {normal: {mean: 2ms, stddev: 1ms}}}]
workload: {rate: [{rps: 10}], mix: [{route: "GET /x/{id}"}]}
)";

std::string with(std::string y, const std::string& from, const std::string& to) {
  y.replace(y.find(from), from.size(), to);
  return y;
}

std::string error_of(const std::string& yaml) {
  try {
    (void)parse_topology(yaml, "topo.yaml");
  } catch (const TopologyError& e) {
    return e.what();
  }
  return "";
}

TEST(SimTopology, ParsesAValidFileWithDefaults) {
  const Topology t = parse_topology(kValid, "topo.yaml");
  EXPECT_EQ(t.services.at(0).instances.at(0).count, 2u);
  EXPECT_EQ(t.gateway.heartbeat_interval, std::chrono::seconds(10));
  EXPECT_EQ(t.duration, std::chrono::seconds(60));
}

TEST(SimTopology, UnknownKeyIsAnErrorNamingFileAndPath) {
  const std::string e = error_of(
      with(kValid, "gateway: {region: a}", "gateway: {region: a, heartbeatIntervall: 5s}"));
  EXPECT_NE(e.find("topo.yaml"), std::string::npos) << e;
  EXPECT_NE(e.find("gateway.heartbeatIntervall"), std::string::npos) << e;
  EXPECT_NE(e.find("unknown key"), std::string::npos) << e;
}

TEST(SimTopology, BadValuesNameTheirKey) {
  std::string y = with(kValid, "count: 2", "count: -2");
  EXPECT_NE(error_of(y).find("services[0].instances[0].count"), std::string::npos) << error_of(y);
  y = kValid;
  y = with(kValid, "mean: 2ms", "mean: 2 parsecs");
  EXPECT_NE(error_of(y).find("serviceTime.normal.mean"), std::string::npos) << error_of(y);
  y = kValid;
  y = with(kValid, "{region: a, count", "{region: z, count");
  EXPECT_NE(error_of(y).find("unknown region 'z'"), std::string::npos) << error_of(y);
  EXPECT_NE(error_of("regions: [").find("topo.yaml: line"), std::string::npos);
  EXPECT_NE(
      error_of(kValid + "failures: [{at: 1s, kind: melt, instance: x}]").find("failures[0].kind"),
      std::string::npos);
}

TEST(SimTopology, AFailureNamingAnUnknownInstanceIsReportedAtStart) {
  const Topology t =
      parse_topology(kValid + "failures: [{at: 1s, kind: crash, instance: nope}]", "topo.yaml");
  try {
    (void)test::run(t, 1);
    FAIL() << "expected a TopologyError";
  } catch (const TopologyError& e) {
    EXPECT_NE(std::string(e.what()).find("failures[0]"), std::string::npos) << e.what();
  }
}

TEST(SimTopology, EveryDistributionSamplesAroundItsMedian) {
  core::Random rng(9);
  for (const Distribution& d :
       {Distribution::fixed(std::chrono::milliseconds(5)),
        Distribution::normal(std::chrono::milliseconds(5), std::chrono::milliseconds(1)),
        Distribution::lognormal(std::chrono::milliseconds(5), 0.5),
        Distribution::percentiles(
            {{0.5, std::chrono::milliseconds(5)}, {1.0, std::chrono::milliseconds(9)}})}) {
    Histogram h;
    for (int i = 0; i < 20000; ++i)
      h.record(static_cast<std::uint64_t>(d.sample(rng).count()));
    EXPECT_NEAR(static_cast<double>(h.quantile(0.5)), 5e6, 0.1e6) << d.describe();
  }
}

TEST(SimHistogram, QuantilesAreWithinOnePercent) {
  Histogram h;
  for (std::uint64_t v = 1; v <= 100000; ++v)
    h.record(v * 1000);
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double want = q * 1e8;
    EXPECT_NEAR(static_cast<double>(h.quantile(q)), want, want * 0.01) << q;
  }
  EXPECT_EQ(h.max(), 100000000u);
}

// Keys from `key(rng)`; values never kNone.
template <class Key, class KeyGen>
void churn_against_a_map(KeyGen key) {
  gw::IdMap<Key> m;
  std::map<Key, std::uint32_t> ref;
  core::Random rng(1);
  for (int i = 0; i < 200000; ++i) {
    const Key k = key(rng);
    if (ref.count(k)) {
      ASSERT_EQ(m.erase(k), ref[k]);
      ref.erase(k);
    } else {
      const auto v = static_cast<std::uint32_t>(rng.below(1000000));
      m.insert(k, v);
      ref[k] = v;
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  for (const auto& [k, v] : ref)
    EXPECT_EQ(m.find(k), v);
}

TEST(SimStreamMap, BehavesLikeAMapUnderChurn) {
  churn_against_a_map<std::uint32_t>(
      [](core::Random& rng) { return static_cast<std::uint32_t>(1 + rng.below(3000)); });
  gw::StreamMap m;
  m.insert(7, 1);
  EXPECT_EQ(m.find(5000), gw::StreamMap::kNone);
}

// Connection ids: any 64-bit value, 0 and values past 2^32 included (ids that differ only in
// their high half must not collide into one entry).
TEST(SimStreamMap, ConnectionIdsOfAnyWidthIncludingZero) {
  churn_against_a_map<std::uint64_t>([](core::Random& rng) {
    const std::uint64_t low = rng.below(1500);
    return rng.below(2) == 0 ? low : low | (std::uint64_t{1} << 40);
  });
  gw::IdMap<std::uint64_t> m;
  m.insert(0, 5);
  m.insert(std::uint64_t{1} << 32, 6);
  EXPECT_EQ(m.find(0), 5u);
  EXPECT_EQ(m.find(std::uint64_t{1} << 32), 6u);
  EXPECT_EQ(m.find(1), gw::IdMap<std::uint64_t>::kNone);
  EXPECT_EQ(m.erase(0), 5u);
  EXPECT_EQ(m.find(0), gw::IdMap<std::uint64_t>::kNone);
  EXPECT_EQ(m.find(std::uint64_t{1} << 32), 6u);
}

}  // namespace
}  // namespace stella::sim
