// Input: lines separated by '\n'; every line but the last is a template (at most kMaxTemplates),
// the last line is a raw request path. Builds a matcher, normalises the path and matches it.
// Invariants, checked against a brute-force oracle that tests each template on its own:
//  - add() refuses a template iff one of the same shape is registered, and names it;
//  - normalisation errors carry a path_* code and a position inside the path; a normalised
//    path has no empty or dot segments, and its encoded() form is a fixed point;
//  - the match is the most specific matching template (segment-wise literal > param > end >
//    catch-all) with exactly the oracle's parameters; no parameter but a catch-all holds '/';
//  - a copy with one template removed agrees with the oracle on the remaining ones.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stella/core/path_matcher.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/core/path_template.hpp"

using namespace stella::core;

#define STELLA_PATH_FUZZ_CHECK(cond)                                                    \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond); \
      __builtin_trap();                                                                 \
    }                                                                                   \
  } while (0)

namespace {

constexpr std::size_t kMaxTemplates = 32;

using Params = std::vector<std::pair<std::string, std::string>>;

struct Entry {
  PathTemplate tmpl;
  std::uint32_t value;
};

std::optional<Params> oracle_match(const PathTemplate& t, const NormalizedPath& p) {
  Params params;
  const auto& segs = t.segments();
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].kind == SegmentKind::kCatchAll) {
      std::string rest;
      for (std::size_t k = i; k < p.segment_count(); ++k) {
        if (k > i) rest += '/';
        rest += p.segment(k);
      }
      params.emplace_back(segs[i].text, std::move(rest));
      return params;
    }
    if (i >= p.segment_count()) return std::nullopt;
    if (segs[i].kind == SegmentKind::kLiteral) {
      if (segs[i].text != p.segment(i)) return std::nullopt;
    } else {
      params.emplace_back(segs[i].text, std::string(p.segment(i)));
    }
  }
  if (segs.size() != p.segment_count()) return std::nullopt;
  return params;
}

int rank_at(const PathTemplate& t, std::size_t i) {
  if (i >= t.segments().size()) return 2;
  switch (t.segments()[i].kind) {
    case SegmentKind::kLiteral:
      return 0;
    case SegmentKind::kParam:
      return 1;
    case SegmentKind::kCatchAll:
      return 3;
  }
  return 3;
}

bool more_specific(const PathTemplate& a, const PathTemplate& b) {
  for (std::size_t i = 0;; ++i) {
    const int ra = rank_at(a, i);
    const int rb = rank_at(b, i);
    if (ra != rb) return ra < rb;
    if (ra >= 2) return false;
  }
}

// Checks `m` against the oracle over `entries` (skipping index `skip`) for path `p`.
void check_match(const PathMatcher& m, const std::vector<Entry>& entries, std::size_t skip,
                 const NormalizedPath& p) {
  const Entry* best = nullptr;
  Params best_params;
  for (std::size_t i = 0; i < entries.size(); ++i) {
    if (i == skip) continue;
    auto params = oracle_match(entries[i].tmpl, p);
    if (!params) continue;
    if (best == nullptr || more_specific(entries[i].tmpl, best->tmpl)) {
      best = &entries[i];
      best_params = std::move(*params);
    }
  }
  MatchResult views;
  const bool matched = m.match(p, views);
  STELLA_PATH_FUZZ_CHECK(matched == (best != nullptr));
  if (!matched) {
    STELLA_PATH_FUZZ_CHECK(views.route == nullptr && views.params.empty());
    return;
  }
  STELLA_PATH_FUZZ_CHECK(views.value == best->value);
  STELLA_PATH_FUZZ_CHECK(views.route != nullptr);
  STELLA_PATH_FUZZ_CHECK(views.route->shape() == best->tmpl.shape());
  STELLA_PATH_FUZZ_CHECK(views.params.size() == best_params.size());
  for (std::size_t i = 0; i < views.params.size(); ++i) {
    STELLA_PATH_FUZZ_CHECK(views.params[i].name == best_params[i].first);
    STELLA_PATH_FUZZ_CHECK(views.params[i].value == best_params[i].second);
    const bool is_catch_all = best->tmpl.has_catch_all() && i + 1 == views.params.size();
    if (!is_catch_all) {
      STELLA_PATH_FUZZ_CHECK(views.params[i].value.find('/') == std::string_view::npos);
      STELLA_PATH_FUZZ_CHECK(!views.params[i].value.empty());
    }
  }
  const auto owned = m.match(p);
  STELLA_PATH_FUZZ_CHECK(owned.has_value() && owned->value == views.value &&
                         owned->params == best_params);
}

bool is_path_code(Errc c) {
  switch (c) {
    case Errc::path_not_absolute:
    case Errc::path_bad_percent:
    case Errc::path_encoded_separator:
    case Errc::path_nul:
    case Errc::path_bad_char:
    case Errc::path_escapes_root:
    case Errc::path_too_long:
      return true;
    default:
      return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  for (;;) {
    const std::size_t nl = in.find('\n', start);
    if (nl == std::string_view::npos) {
      lines.push_back(in.substr(start));
      break;
    }
    lines.push_back(in.substr(start, nl - start));
    start = nl + 1;
  }
  const std::string_view raw_path = lines.back();
  lines.pop_back();
  if (lines.size() > kMaxTemplates) lines.resize(kMaxTemplates);

  PathMatcher m;
  std::vector<Entry> entries;
  for (const std::string_view line : lines) {
    auto parsed = PathTemplate::parse(line);
    if (!parsed.ok()) continue;
    const auto value = static_cast<std::uint32_t>(entries.size() * 7 + 3);
    const auto err = m.add(parsed.value(), value);
    const Entry* same = nullptr;
    for (const Entry& e : entries) {
      if (e.tmpl.shape() == parsed.value().shape()) same = &e;
    }
    STELLA_PATH_FUZZ_CHECK(err.has_value() == (same != nullptr));
    if (err) {
      STELLA_PATH_FUZZ_CHECK(err->code == Errc::template_conflict);
      STELLA_PATH_FUZZ_CHECK(err->existing == same->tmpl.to_string());
      STELLA_PATH_FUZZ_CHECK(err->existing_value == same->value);
      continue;
    }
    entries.push_back(Entry{std::move(parsed).value(), value});
  }
  STELLA_PATH_FUZZ_CHECK(m.size() == entries.size());

  const auto normalized = normalize_path(raw_path);
  if (!normalized.ok()) {
    STELLA_PATH_FUZZ_CHECK(is_path_code(normalized.error().code));
    STELLA_PATH_FUZZ_CHECK(normalized.error().position <= raw_path.size());
    return 0;
  }
  const NormalizedPath& p = normalized.value();
  STELLA_PATH_FUZZ_CHECK(p.path().size() <= raw_path.size());
  for (std::size_t i = 0; i < p.segment_count(); ++i) {
    const std::string_view s = p.segment(i);
    STELLA_PATH_FUZZ_CHECK(!s.empty() && s != "." && s != "..");
    STELLA_PATH_FUZZ_CHECK(s.find('/') == std::string_view::npos);
  }
  const std::string encoded = p.encoded();
  const auto again = normalize_path(encoded);
  STELLA_PATH_FUZZ_CHECK(again.ok() && again.value() == p && again.value().encoded() == encoded);

  check_match(m, entries, entries.size(), p);

  if (!entries.empty()) {
    // A snapshot copy with the first template removed: removal, node pruning and the route
    // move must leave a matcher equivalent to the remaining templates.
    PathMatcher copy = m;
    const auto removed = copy.remove(entries.front().tmpl);
    STELLA_PATH_FUZZ_CHECK(removed.has_value() && *removed == entries.front().value);
    STELLA_PATH_FUZZ_CHECK(!copy.remove(entries.front().tmpl).has_value());
    check_match(copy, entries, 0, p);
    check_match(m, entries, entries.size(), p);  // the original is untouched
  }
  return 0;
}
