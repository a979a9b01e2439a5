#include "stella/core/path_matcher.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

namespace stella::core {
namespace {

PathTemplate tmpl(std::string_view text) {
  auto r = PathTemplate::parse(text);
  EXPECT_TRUE(r.ok()) << text;
  return std::move(r).value();
}

NormalizedPath path(std::string_view raw) {
  auto r = normalize_path(raw);
  EXPECT_TRUE(r.ok()) << raw;
  return std::move(r).value();
}

// Builds a matcher where template i gets value i.
PathMatcher build(std::initializer_list<std::string_view> templates) {
  PathMatcher m;
  std::uint32_t v = 0;
  for (std::string_view t : templates) {
    const auto err = m.add(tmpl(t), v++);
    EXPECT_FALSE(err.has_value()) << t << ": " << (err ? err->message : "");
  }
  return m;
}

// The matched template's text, or "" for no match.
std::string winner(const PathMatcher& m, std::string_view raw) {
  const auto r = m.match(path(raw));
  return r ? r->route : std::string();
}

TEST(PathMatcher, EmptyMatcherMatchesNothing) {
  PathMatcher m;
  MatchResult out;
  EXPECT_FALSE(m.match(path("/"), out));
  EXPECT_EQ(out.route, nullptr);
  EXPECT_FALSE(m.match(path("/a")).has_value());
  EXPECT_TRUE(m.empty());
}

TEST(PathMatcher, RootTemplate) {
  const PathMatcher m = build({"/", "/a"});
  EXPECT_EQ(winner(m, "/"), "/");
  EXPECT_EQ(winner(m, "//"), "/");
  EXPECT_EQ(winner(m, "/a"), "/a");
  EXPECT_EQ(winner(m, "/b"), "");
}

TEST(PathMatcher, ExtractsDecodedParams) {
  const PathMatcher m = build({"/api/v1/scans/{id}/files/{name}"});
  const auto r = m.match(path("/api/v1/scans/42/files/my%20file.txt"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->value, 0u);
  EXPECT_EQ(r->route, "/api/v1/scans/{id}/files/{name}");
  ASSERT_EQ(r->params.size(), 2u);
  EXPECT_EQ(r->params[0], (std::pair<std::string, std::string>{"id", "42"}));
  EXPECT_EQ(r->param("name"), "my file.txt");
  EXPECT_EQ(r->param("nope"), std::nullopt);
}

TEST(PathMatcher, LiteralBeatsParamBeatsCatchAll) {
  const PathMatcher m = build({"/a/{*rest}", "/a/{x}", "/a/b"});  // order must not matter
  EXPECT_EQ(winner(m, "/a/b"), "/a/b");
  EXPECT_EQ(winner(m, "/a/c"), "/a/{x}");
  EXPECT_EQ(winner(m, "/a/c/d"), "/a/{*rest}");
  EXPECT_EQ(winner(m, "/a"), "/a/{*rest}");  // catch-all matching zero segments
}

TEST(PathMatcher, PrecedenceIndependentOfRegistrationOrder) {
  const PathMatcher forward = build({"/a/b", "/a/{x}", "/a/{*rest}"});
  const PathMatcher backward = build({"/a/{*rest}", "/a/{x}", "/a/b"});
  for (std::string_view p : {"/a/b", "/a/z", "/a/b/c", "/a"}) {
    EXPECT_EQ(winner(forward, p), winner(backward, p)) << p;
  }
}

TEST(PathMatcher, EarlierLiteralWins) {
  const PathMatcher m = build({"/a/{x}/c", "/a/b/{y}"});
  const auto r = m.match(path("/a/b/c"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->route, "/a/b/{y}");
  EXPECT_EQ(r->param("y"), "c");
  EXPECT_EQ(winner(m, "/a/z/c"), "/a/{x}/c");
}

TEST(PathMatcher, BacktracksWhenTheLiteralBranchDeadEnds) {
  const PathMatcher m = build({"/a/b/c", "/a/{x}/d", "/{*all}"});
  EXPECT_EQ(winner(m, "/a/b/d"), "/a/{x}/d");  // literal b has no child d: back to {x}
  EXPECT_EQ(winner(m, "/a/b/e"), "/{*all}");   // nothing deeper: back to the root catch-all
  EXPECT_EQ(winner(m, "/a/b/c"), "/a/b/c");
}

TEST(PathMatcher, ExactBeatsCatchAllMatchingZeroSegments) {
  const PathMatcher m = build({"/a/{*rest}", "/a"});
  EXPECT_EQ(winner(m, "/a"), "/a");
  EXPECT_EQ(winner(m, "/a/"), "/a");
  EXPECT_EQ(winner(m, "/a/x"), "/a/{*rest}");
}

TEST(PathMatcher, CatchAllValues) {
  const PathMatcher m = build({"/files/{*path}", "/{*all}"});
  auto r = m.match(path("/files"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->route, "/files/{*path}");
  EXPECT_EQ(r->param("path"), "");
  r = m.match(path("/files/a//b/./c/"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->param("path"), "a/b/c");  // normalised: no empty segments, no trailing slash
  r = m.match(path("/"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->route, "/{*all}");
  EXPECT_EQ(r->param("all"), "");
}

TEST(PathMatcher, ParamNeverSpansASlash) {
  const PathMatcher m = build({"/a/{x}"});
  EXPECT_EQ(winner(m, "/a/b/c"), "");
  EXPECT_EQ(winner(m, "/a"), "");  // and never matches an empty segment
}

TEST(PathMatcher, TrailingSlashIsIgnoredOnce) {
  const PathMatcher m = build({"/a/b"});
  EXPECT_EQ(winner(m, "/a/b/"), "/a/b");
  EXPECT_EQ(winner(m, "/a/b"), "/a/b");
}

TEST(PathMatcher, MatchingIsCaseSensitive) {
  const PathMatcher m = build({"/Api"});
  EXPECT_EQ(winner(m, "/Api"), "/Api");
  EXPECT_EQ(winner(m, "/api"), "");
}

TEST(PathMatcher, LiteralsMatchDecodedSegments) {
  const PathMatcher m = build({"/a:b/x@y"});
  EXPECT_EQ(winner(m, "/a%3Ab/x%40y"), "/a:b/x@y");
}

TEST(PathMatcher, ParamNamesComeFromTheMatchedTemplate) {
  // Both share the trie's parameter child; the names must not leak between them.
  const PathMatcher m = build({"/u/{user}/posts", "/u/{id}/likes"});
  auto r = m.match(path("/u/7/posts"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->params, (std::vector<std::pair<std::string, std::string>>{{"user", "7"}}));
  r = m.match(path("/u/7/likes"));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->params, (std::vector<std::pair<std::string, std::string>>{{"id", "7"}}));
}

TEST(PathMatcher, ConflictNamesTheRegisteredTemplate) {
  PathMatcher m;
  ASSERT_FALSE(m.add(tmpl("/a/{id}/b"), 7).has_value());
  const auto err = m.add(tmpl("/a/{name}/b/"), 8);
  ASSERT_TRUE(err.has_value());
  EXPECT_EQ(err->code, Errc::template_conflict);
  EXPECT_EQ(err->existing, "/a/{id}/b");
  EXPECT_EQ(err->existing_value, 7u);
  EXPECT_NE(err->message.find("/a/{id}/b"), std::string::npos) << err->message;
  EXPECT_EQ(m.size(), 1u);
  EXPECT_EQ(m.match(path("/a/x/b"))->value, 7u);  // the first one stays
}

TEST(PathMatcher, ConflictRules) {
  PathMatcher m;
  ASSERT_FALSE(m.add(tmpl("/a/{*rest}"), 1).has_value());
  EXPECT_TRUE(m.add(tmpl("/a/{*other}"), 2).has_value());  // same shape, other name
  EXPECT_FALSE(m.add(tmpl("/a/{x}"), 3).has_value());      // param vs catch-all: distinct
  EXPECT_FALSE(m.add(tmpl("/a"), 4).has_value());          // ends vs catch-all: distinct
  EXPECT_FALSE(m.add(tmpl("/a/x"), 5).has_value());        // literal vs param: distinct
  EXPECT_TRUE(m.add(tmpl("/a/"), 6).has_value());          // trailing slash is the same
  EXPECT_FALSE(m.add(tmpl("/A"), 7).has_value());          // literals are byte-compared
  EXPECT_EQ(m.size(), 5u);
}

TEST(PathMatcher, RemoveByShapeAndPrune) {
  PathMatcher m = build({"/a/b/c", "/a/{x}", "/a/{*rest}", "/"});
  EXPECT_EQ(m.remove(tmpl("/a/b/{y}")), std::nullopt);  // not registered
  EXPECT_EQ(m.remove(tmpl("/a/b")), std::nullopt);      // only a prefix of one
  EXPECT_EQ(m.remove(tmpl("/a/{other}")), 1u);          // names do not matter
  EXPECT_EQ(m.size(), 3u);
  EXPECT_EQ(winner(m, "/a/z"), "/a/{*rest}");
  EXPECT_EQ(m.remove(tmpl("/a/b/c")), 0u);
  EXPECT_EQ(winner(m, "/a/b/c"), "/a/{*rest}");
  EXPECT_EQ(m.remove(tmpl("/a/{*r}")), 2u);
  EXPECT_EQ(winner(m, "/a/b/c"), "");
  EXPECT_EQ(winner(m, "/"), "/");
  EXPECT_EQ(m.match(path("/"))->value, 3u);  // the moved route kept its value
  EXPECT_EQ(m.remove(tmpl("/")), 3u);
  EXPECT_TRUE(m.empty());
  // Re-adding after removal works and reuses freed nodes.
  ASSERT_FALSE(m.add(tmpl("/a/b/c"), 9).has_value());
  EXPECT_EQ(m.match(path("/a/b/c"))->value, 9u);
}

// A node with more literal children than the matcher scans in place goes through its hash index;
// random adds and removes of 40 siblings (crossing that size both ways) against a set: every
// sibling matches exactly while registered (checked at 8 and 9 live siblings, where the index
// comes and goes, and every 50 steps), near-miss names never do, and a re-added sibling
// conflicts.
TEST(PathMatcher, WideNodesMatchThroughTheirIndexAcrossAddsAndRemoves) {
  PathMatcher m;
  std::set<int> live;
  std::uint64_t state = 12345;
  auto next = [&state] {
    state = state * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int>((state >> 33) % 40);
  };
  auto name = [](int i) { return "/v1/s" + std::to_string(i) + "/items"; };
  for (int step = 0; step < 2000; ++step) {
    const int i = next();
    if (live.count(i) == 0) {
      ASSERT_FALSE(m.add(tmpl(name(i)), static_cast<std::uint32_t>(i)).has_value()) << step;
      live.insert(i);
    } else if (step % 3 == 0) {
      ASSERT_EQ(m.add(tmpl(name(i)), 99)->code, Errc::template_conflict);
    } else {
      ASSERT_EQ(m.remove(tmpl(name(i))), static_cast<std::uint32_t>(i)) << step;
      live.erase(i);
    }
    if (step % 50 != 0 && live.size() != 9 && live.size() != 8) continue;
    for (int k = 0; k < 40; ++k) {
      const auto r = m.match(path(name(k)));
      ASSERT_EQ(r.has_value(), live.count(k) == 1) << "step " << step << " s" << k;
      if (r) {
        EXPECT_EQ(r->value, static_cast<std::uint32_t>(k));
      }
    }
    EXPECT_FALSE(m.match(path("/v1/s/items")).has_value());
    EXPECT_FALSE(m.match(path("/v1/s100/items")).has_value());
    EXPECT_EQ(m.size(), live.size());
  }
}

TEST(PathMatcher, AllocationFreeMatchGivesViews) {
  const PathMatcher m = build({"/s/{svc}/items/{id}/{*rest}"});
  const NormalizedPath p = path("/s/scanner/items/%41/x/y");
  MatchResult out;
  ASSERT_TRUE(m.match(p, out));
  ASSERT_NE(out.route, nullptr);
  EXPECT_EQ(out.route->to_string(), "/s/{svc}/items/{id}/{*rest}");
  ASSERT_EQ(out.params.size(), 3u);
  EXPECT_EQ(out.params[0].name, "svc");
  EXPECT_EQ(out.params[1].value, "A");
  EXPECT_EQ(out.param("rest"), "x/y");
  // Values are views into the normalised path, not copies.
  EXPECT_GE(out.params[0].value.data(), p.path().data());
  EXPECT_LE(out.params[2].value.data() + out.params[2].value.size(),
            p.path().data() + p.path().size());
  // A failed match clears the previous result.
  EXPECT_FALSE(m.match(path("/nope"), out));
  EXPECT_EQ(out.route, nullptr);
  EXPECT_TRUE(out.params.empty());
}

TEST(PathMatcher, CopyIsAnIndependentSnapshot) {
  PathMatcher m = build({"/a/{x}"});
  const PathMatcher snapshot = m;
  ASSERT_FALSE(m.add(tmpl("/a/b"), 5).has_value());
  EXPECT_EQ(winner(m, "/a/b"), "/a/b");
  EXPECT_EQ(winner(snapshot, "/a/b"), "/a/{x}");
}

TEST(PathMatcher, ConcurrentMatchOnASharedSnapshot) {
  // Under the sanitizers this shows that match() only reads; TSan would be the stronger check.
  auto m = std::make_shared<const PathMatcher>(build({"/a/{x}", "/a/b", "/{*all}"}));
  std::vector<std::thread> threads;
  std::vector<int> ok(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([m, t, &ok] {
      const NormalizedPath p = path(t % 2 == 0 ? "/a/b" : "/a/q");
      MatchResult out;
      for (int i = 0; i < 1000; ++i) {
        if (m->match(p, out) && out.value == (t % 2 == 0 ? 1u : 0u))
          ++ok[static_cast<std::size_t>(t)];
      }
    });
  }
  for (auto& th : threads)
    th.join();
  for (int n : ok)
    EXPECT_EQ(n, 1000);
}

}  // namespace
}  // namespace stella::core
