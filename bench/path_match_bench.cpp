// Path matching and normalisation micro-benchmarks. The claim to check: lookup cost barely
// grows with the table (10,000 templates within 2x of 10), and the steady path allocates
// nothing (normalize_path_into + match into a reused MatchResult).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <string>
#include <utility>
#include <vector>

#include "stella/core/path_matcher.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/core/path_template.hpp"

namespace stella::core {
namespace {

// Template i of a table of realistic shapes: five endpoints per service.
std::string template_text(std::size_t i) {
  const std::string svc = "/svc" + std::to_string(i / 5);
  switch (i % 5) {
    case 0:
      return "/api/v1" + svc + "/items/{id}";
    case 1:
      return "/api/v1" + svc + "/items/{id}/sub";
    case 2:
      return "/api/v1" + svc + "/items";
    case 3:
      return "/api/v2" + svc + "/orders/{order}/lines/{line}";
    default:
      return "/api/v1" + svc + "/files/{*path}";
  }
}

PathMatcher make_table(std::size_t n) {
  PathMatcher m;
  for (std::size_t i = 0; i < n; ++i) {
    auto t = PathTemplate::parse(template_text(i));
    if (!t.ok() || m.add(t.value(), static_cast<std::uint32_t>(i))) std::abort();
  }
  return m;
}

NormalizedPath must_normalize(const std::string& raw) {
  auto r = normalize_path(raw);
  if (!r.ok()) std::abort();
  return std::move(r).value();
}

// One path, matched over and over (hot caches).
void BM_MatchOnePath(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const PathMatcher m = make_table(n);
  const NormalizedPath p =
      must_normalize("/api/v1/svc" + std::to_string(n / 10) + "/items/12345/sub");
  MatchResult out;
  for (auto _ : state) {
    const bool ok = m.match(p, out);
    benchmark::DoNotOptimize(ok);
    benchmark::DoNotOptimize(out.params.data());
  }
  if (!m.match(p, out) || out.params.size() != 1) state.SkipWithError("no match");
}
BENCHMARK(BM_MatchOnePath)->Arg(10)->Arg(1000)->Arg(10000);

// 256 paths spread over the whole table, matched in turn (colder caches, as in real traffic).
void BM_MatchSpread(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const PathMatcher m = make_table(n);
  std::vector<NormalizedPath> paths;
  for (std::size_t k = 0; k < 256; ++k) {
    const std::size_t svc = (k * 7919) % (n / 5);
    paths.push_back(must_normalize("/api/v1/svc" + std::to_string(svc) + "/items/" +
                                   std::to_string(k) + "/sub"));
  }
  MatchResult out;
  std::size_t k = 0;
  for (auto _ : state) {
    const bool ok = m.match(paths[k++ & 255], out);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_MatchSpread)->Arg(10)->Arg(1000)->Arg(10000);

// A path that matches nothing but shares a long prefix (the 404 path).
void BM_MatchMiss(benchmark::State& state) {
  const PathMatcher m = make_table(static_cast<std::size_t>(state.range(0)));
  const NormalizedPath p = must_normalize("/api/v1/svc1/items/12345/nope");
  MatchResult out;
  for (auto _ : state) {
    const bool ok = m.match(p, out);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_MatchMiss)->Arg(10)->Arg(10000);

// The convenience match that copies the route and parameters, for comparison.
void BM_MatchOwned(benchmark::State& state) {
  const PathMatcher m = make_table(static_cast<std::size_t>(state.range(0)));
  const NormalizedPath p = must_normalize("/api/v1/svc1/items/12345/sub");
  for (auto _ : state) {
    auto r = m.match(p);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_MatchOwned)->Arg(10000);

const std::string kTypicalPath = "/api/v1/scans/8f14e45f-ceea-467f-a0e6-1e4b7f5f3d2b/results";
const std::string kMessyPath =
    "/api//v1/scans/./8f14e45f%2Dceea/../8f14e45f/files/my%20report.pdf/";

void BM_NormalizeTypical(benchmark::State& state) {
  for (auto _ : state) {
    auto r = normalize_path(kTypicalPath);
    benchmark::DoNotOptimize(r);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kTypicalPath.size()));
}
BENCHMARK(BM_NormalizeTypical);

void BM_NormalizeTypicalReused(benchmark::State& state) {
  NormalizedPath p;
  for (auto _ : state) {
    auto err = normalize_path_into(kTypicalPath, p);
    benchmark::DoNotOptimize(err);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kTypicalPath.size()));
}
BENCHMARK(BM_NormalizeTypicalReused);

void BM_NormalizeMessyReused(benchmark::State& state) {
  NormalizedPath p;
  for (auto _ : state) {
    auto err = normalize_path_into(kMessyPath, p);
    benchmark::DoNotOptimize(err);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * kMessyPath.size()));
}
BENCHMARK(BM_NormalizeMessyReused);

// What a request pays: normalise into a reused path, then match into a reused result.
void BM_NormalizeAndMatch(benchmark::State& state) {
  const PathMatcher m = make_table(static_cast<std::size_t>(state.range(0)));
  const std::string raw = "/api/v1/svc1/items/12345/sub";
  NormalizedPath p;
  MatchResult out;
  for (auto _ : state) {
    if (normalize_path_into(raw, p)) state.SkipWithError("normalize failed");
    const bool ok = m.match(p, out);
    benchmark::DoNotOptimize(ok);
  }
}
BENCHMARK(BM_NormalizeAndMatch)->Arg(10)->Arg(10000);

}  // namespace
}  // namespace stella::core
