// Properties of templates, normalisation and the matcher, checked against a brute-force oracle
// that tests each template on its own (no trie) and picks the winner by the documented
// segment-wise specificity order.
#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "stella/core/path_matcher.hpp"
#include "stella/core/path_normalize.hpp"
#include "stella/core/path_template.hpp"

namespace stella::core {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

// ---- oracle ------------------------------------------------------------------------------

std::optional<Params> oracle_match(const PathTemplate& t, const NormalizedPath& p) {
  Params params;
  const auto& segs = t.segments();
  for (std::size_t i = 0; i < segs.size(); ++i) {
    if (segs[i].kind == SegmentKind::kCatchAll) {
      // Segments i.. joined with '/', computed independently of NormalizedPath::rest().
      std::string rest;
      for (std::size_t k = i; k < p.segment_count(); ++k) {
        if (k > i) rest += '/';
        rest += p.segment(k);
      }
      if (i > p.segment_count()) return std::nullopt;
      params.emplace_back(segs[i].text, rest);
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

// Rank of position i: literal 0 < param 1 < template ends here 2 < catch-all 3.
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

// True when a is strictly more specific than b (both match the same path).
bool more_specific(const PathTemplate& a, const PathTemplate& b) {
  for (std::size_t i = 0;; ++i) {
    const int ra = rank_at(a, i);
    const int rb = rank_at(b, i);
    if (ra != rb) return ra < rb;
    if (ra >= 2) return false;  // both end, or both catch-all: same shape
  }
}

// ---- generators --------------------------------------------------------------------------

const std::string kLiteralChars = "abcxyzAZ09-._~!$&'()*+,;=:@";
const std::string kPchar =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@";

bool is_dot(const std::string& s) {
  return s == "." || s == "..";
}

// A uniform integer in [lo, hi). rapidcheck scales inRange() with the test size, which starts
// at 0; pinning the size keeps short tables and paths from dominating the early tests.
template <typename T>
T pick(T lo, T hi) {
  return *rc::gen::resize(rc::kNominalSize, rc::gen::inRange<T>(lo, hi));
}

// A string of 1..max_len characters of `chars`, never a dot segment.
rc::Gen<std::string> gen_segment_text(std::vector<char> chars, std::size_t max_len) {
  return rc::gen::suchThat(rc::gen::exec([chars, max_len] {
                             return *rc::gen::container<std::string>(
                                 pick<std::size_t>(1, max_len + 1), rc::gen::elementOf(chars));
                           }),
                           [](const std::string& s) { return !is_dot(s); });
}

rc::Gen<std::string> gen_literal() {
  return gen_segment_text(std::vector<char>(kLiteralChars.begin(), kLiteralChars.end()), 6);
}

// A decoded parameter value: no '/', '\', NUL or controls (those can never appear in a
// normalised segment), but bytes that need percent-encoding are welcome.
rc::Gen<std::string> gen_value() {
  static const std::vector<char> kValueChars = {'a', 'b',    'Z',    '0',    '9', '.', '-', '~',
                                                ':', '@',    ' ',    '%',    '?', '#', '{', '}',
                                                '"', '\xc3', '\xa9', '\xff', '+', '='};
  return gen_segment_text(kValueChars, 8);
}

// Percent-encodes what must be encoded, and randomly some of what need not be.
std::string encode_segment(const std::string& decoded, const std::vector<bool>& encode_some) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  for (std::size_t i = 0; i < decoded.size(); ++i) {
    const auto b = static_cast<unsigned char>(decoded[i]);
    const bool must = kPchar.find(decoded[i]) == std::string::npos || b >= 0x80;
    const bool may = !encode_some.empty() && encode_some[i % encode_some.size()];
    if (must || may) {
      out += '%';
      out += kHex[b >> 4];
      out += kHex[b & 0xF];
    } else {
      out += decoded[i];
    }
  }
  return out;
}

NormalizedPath must_normalize(const std::string& raw) {
  auto r = normalize_path(raw);
  RC_ASSERT(r.ok());
  return std::move(r).value();
}

// ---- (a) a path generated from a template matches it with exactly the generated params ---

RC_GTEST_PROP(PathMatcherProp, GeneratedPathMatchesItsTemplate, ()) {
  const auto n = pick<std::size_t>(0, 7);
  const bool catch_all = *rc::gen::arbitrary<bool>();
  std::string text;
  std::string raw;
  Params expected;
  for (std::size_t i = 0; i < n; ++i) {
    const std::vector<bool> encode_some =
        *rc::gen::container<std::vector<bool>>(rc::gen::arbitrary<bool>());
    if (*rc::gen::arbitrary<bool>()) {
      const std::string lit = *gen_literal();
      text += "/" + lit;
      raw += "/" + encode_segment(lit, encode_some);
    } else {
      const std::string name = "p" + std::to_string(i);
      const std::string value = *gen_value();
      text += "/{" + name + "}";
      raw += "/" + encode_segment(value, encode_some);
      expected.emplace_back(name, value);
    }
  }
  if (catch_all) {
    text += "/{*rest}";
    const auto values =
        *rc::gen::container<std::vector<std::string>>(pick<std::size_t>(0, 4), gen_value());
    std::string joined;
    for (std::size_t k = 0; k < values.size(); ++k) {
      if (k > 0) joined += '/';
      joined += values[k];
      raw += "/" + encode_segment(values[k], {});
    }
    expected.emplace_back("rest", joined);
  }
  if (text.empty()) text = "/";
  if (raw.empty()) raw = "/";
  if (*rc::gen::arbitrary<bool>()) raw += "/";  // one trailing slash is ignored

  auto parsed = PathTemplate::parse(text);
  RC_ASSERT(parsed.ok());
  PathMatcher m;
  RC_ASSERT(!m.add(parsed.value(), 42).has_value());
  const NormalizedPath p = must_normalize(raw);
  const auto r = m.match(p);
  RC_ASSERT(r.has_value());
  RC_ASSERT(r->value == 42u);
  RC_ASSERT(r->route == parsed.value().to_string());
  RC_ASSERT(r->params == expected);
  // (c) a parameter other than a catch-all never contains '/'.
  for (std::size_t i = 0; i < r->params.size(); ++i) {
    if (!(catch_all && i + 1 == r->params.size())) {
      RC_ASSERT(r->params[i].second.find('/') == std::string::npos);
    }
  }
}

// ---- (b) the winner is the most specific of all matching templates ------------------------

rc::Gen<std::string> gen_small_template() {
  return rc::gen::exec([] {
    const auto n = pick<std::size_t>(0, 4);
    std::string text;
    for (std::size_t i = 0; i < n; ++i) {
      switch (pick(0, 5)) {
        case 0:
          text += "/a";
          break;
        case 1:
          text += "/b";
          break;
        case 2:
          text += "/c";
          break;
        default:
          text += "/{p" + std::to_string(i) + "}";
          break;
      }
    }
    if (pick(0, 4) == 0) text += "/{*rest}";
    return text.empty() ? std::string("/") : text;
  });
}

RC_GTEST_PROP(PathMatcherProp, WinnerIsTheMostSpecificMatchingTemplate, ()) {
  const auto texts =
      *rc::gen::container<std::vector<std::string>>(pick<std::size_t>(1, 21), gen_small_template());
  // Short paths over a small alphabet, so that several templates compete for most of them.
  const auto depth = pick<std::size_t>(0, 5);
  const auto path_segs = *rc::gen::container<std::vector<std::string>>(
      depth, rc::gen::elementOf(std::vector<std::string>{"a", "b", "c", "d"}));
  std::string raw;
  for (const std::string& seg : path_segs)
    raw += "/" + seg;
  if (raw.empty()) raw = "/";

  PathMatcher m;
  std::vector<std::pair<PathTemplate, std::uint32_t>> added;
  for (const std::string& text : texts) {
    auto parsed = PathTemplate::parse(text);
    RC_ASSERT(parsed.ok());
    const auto value = static_cast<std::uint32_t>(added.size() + 1000);
    const auto err = m.add(parsed.value(), value);
    bool same_shape_registered = false;
    for (const auto& [t, v] : added)
      same_shape_registered |= t.shape() == parsed.value().shape();
    RC_ASSERT(err.has_value() == same_shape_registered);
    if (!err) added.emplace_back(std::move(parsed).value(), value);
  }
  RC_ASSERT(m.size() == added.size());

  const NormalizedPath p = must_normalize(raw);
  const PathTemplate* best = nullptr;
  std::uint32_t best_value = 0;
  Params best_params;
  for (const auto& [t, v] : added) {
    auto params = oracle_match(t, p);
    if (!params) continue;
    if (best == nullptr || more_specific(t, *best)) {
      best = &t;
      best_value = v;
      best_params = std::move(*params);
    }
  }
  const auto r = m.match(p);
  RC_ASSERT(r.has_value() == (best != nullptr));
  if (!r) return;
  RC_ASSERT(r->value == best_value);
  RC_ASSERT(r->route == best->to_string());
  RC_ASSERT(r->params == best_params);
  // (c) again, on tables with backtracking.
  for (std::size_t i = 0; i < r->params.size(); ++i) {
    if (!(best->has_catch_all() && i + 1 == r->params.size())) {
      RC_ASSERT(r->params[i].second.find('/') == std::string::npos);
    }
  }
  // The allocation-free match agrees with the owning one.
  MatchResult views;
  RC_ASSERT(m.match(p, views));
  RC_ASSERT(views.value == r->value);
  RC_ASSERT(views.params.size() == r->params.size());
  for (std::size_t i = 0; i < views.params.size(); ++i) {
    RC_ASSERT(views.params[i].name == r->params[i].first);
    RC_ASSERT(views.params[i].value == r->params[i].second);
  }
}

// Removing templates leaves a matcher equivalent to one built from the remaining templates.
RC_GTEST_PROP(PathMatcherProp, RemoveEqualsNeverAdded, ()) {
  const auto texts =
      *rc::gen::container<std::vector<std::string>>(pick<std::size_t>(1, 16), gen_small_template());
  const auto remove_mask =
      *rc::gen::container<std::vector<bool>>(texts.size(), rc::gen::arbitrary<bool>());
  PathMatcher all;
  PathMatcher kept;
  std::vector<PathTemplate> removed;
  for (std::size_t i = 0; i < texts.size(); ++i) {
    const PathTemplate t = PathTemplate::parse(texts[i]).value();
    if (all.add(t, static_cast<std::uint32_t>(i))) continue;  // conflict: skip everywhere
    if (remove_mask[i]) {
      removed.push_back(t);
    } else {
      RC_ASSERT(!kept.add(t, static_cast<std::uint32_t>(i)).has_value());
    }
  }
  for (const PathTemplate& t : removed)
    RC_ASSERT(all.remove(t).has_value());
  RC_ASSERT(all.size() == kept.size());
  for (const char* raw : {"/", "/a", "/b", "/a/b", "/a/a/c", "/c/b/a/d", "/d", "/a/b/c/a"}) {
    const NormalizedPath p = must_normalize(raw);
    const auto x = all.match(p);
    const auto y = kept.match(p);
    RC_ASSERT(x.has_value() == y.has_value());
    if (x) {
      RC_ASSERT(x->value == y->value);
      RC_ASSERT(x->params == y->params);
    }
  }
}

// ---- (d) normalisation is idempotent on its output -----------------------------------------

RC_GTEST_PROP(NormalizePathProp, IdempotentOnItsEncodedOutput, ()) {
  // Mostly tokens that normalise, now and then one that is refused, so that both outcomes
  // are common.
  static const std::vector<std::string> kGood = {
      "/",   "/", "/",        "//", ".", "..",  "%2E",    "%2e", "a",   "b",   "Z", "%20", "%25",
      "%41", "~", "\xc3\xa9", ":",  "{", "%3F", "%2E%2E", "%7e", "%C3", "%5B", "@", "%40", "%2525"};
  static const std::vector<std::string> kBad = {"%2F", "%",   "%G",  "?",  " ",
                                                "\\",  "%00", "%7f", "%5C"};
  const auto tokens = *rc::gen::container<std::vector<std::string>>(
      pick<std::size_t>(0, 40),
      rc::gen::weightedOneOf<std::string>(
          {{30, rc::gen::elementOf(kGood)}, {1, rc::gen::elementOf(kBad)}}));
  std::string raw = *rc::gen::arbitrary<bool>() ? "/" : "";
  for (const auto& t : tokens)
    raw += t;

  const auto first = normalize_path(raw);
  if (!first.ok()) {
    RC_ASSERT(first.error().position <= raw.size());
    RC_ASSERT(first.error().code != Errc::ok);
    return;
  }
  const NormalizedPath& p = first.value();
  // The decoded form has no empty or dot segments and no trailing slash.
  for (std::size_t i = 0; i < p.segment_count(); ++i) {
    RC_ASSERT(!p.segment(i).empty());
    RC_ASSERT(p.segment(i) != ".");
    RC_ASSERT(p.segment(i) != "..");
    RC_ASSERT(p.segment(i).find('/') == std::string_view::npos);
  }
  RC_ASSERT(p.path() == "/" || p.path().back() != '/');

  const std::string encoded = p.encoded();
  const auto second = normalize_path(encoded);
  RC_ASSERT(second.ok());
  RC_ASSERT(second.value() == p);
  RC_ASSERT(second.value().encoded() == encoded);
  // Decoding happens once: where the decoded path holds no '%' and no byte the raw syntax
  // refuses, it is itself a fixed point too.
  if (p.path().find_first_of("% ?#") == std::string_view::npos) {
    const auto third = normalize_path(p.path());
    RC_ASSERT(third.ok());
    RC_ASSERT(third.value().path() == p.path());
  }
}

}  // namespace
}  // namespace stella::core
