// Arbitrary bytes as a route template. Invariants: errors carry a template_* code and a
// position inside the input; an accepted template is well-formed (non-empty segments, no dot
// literals, unique names, catch-all last) and its to_string() re-parses to the same template
// and shape; tighter limits only ever turn success into template_too_long.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <set>
#include <string>
#include <string_view>

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

bool is_template_code(Errc c) {
  switch (c) {
    case Errc::template_empty:
    case Errc::template_not_absolute:
    case Errc::template_bad_char:
    case Errc::template_bad_param:
    case Errc::template_duplicate_param:
    case Errc::template_catch_all_not_last:
    case Errc::template_too_long:
      return true;
    default:
      return false;
  }
}

void check_well_formed(const PathTemplate& t, const TemplateLimits& limits) {
  const auto& segs = t.segments();
  STELLA_PATH_FUZZ_CHECK(segs.size() <= limits.max_segments);
  std::set<std::string> names;
  for (std::size_t i = 0; i < segs.size(); ++i) {
    const TemplateSegment& s = segs[i];
    STELLA_PATH_FUZZ_CHECK(!s.text.empty());
    STELLA_PATH_FUZZ_CHECK(s.text.find('/') == std::string::npos);
    if (s.kind == SegmentKind::kLiteral) {
      STELLA_PATH_FUZZ_CHECK(s.text != "." && s.text != "..");
      STELLA_PATH_FUZZ_CHECK(s.text.find_first_of("{}%") == std::string::npos);
    } else {
      STELLA_PATH_FUZZ_CHECK(names.insert(s.text).second);
    }
    if (s.kind == SegmentKind::kCatchAll) STELLA_PATH_FUZZ_CHECK(i + 1 == segs.size());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const TemplateLimits limits;
  const auto r = PathTemplate::parse(text, limits);
  if (!r.ok()) {
    STELLA_PATH_FUZZ_CHECK(is_template_code(r.error().code));
    STELLA_PATH_FUZZ_CHECK(r.error().position <= size);
    STELLA_PATH_FUZZ_CHECK(!r.error().message.empty());
    return 0;
  }
  const PathTemplate& t = r.value();
  check_well_formed(t, limits);

  const std::string canonical = t.to_string();
  STELLA_PATH_FUZZ_CHECK(canonical.size() <= size);  // canonical drops at most a trailing '/'
  const auto again = PathTemplate::parse(canonical, limits);
  STELLA_PATH_FUZZ_CHECK(again.ok());
  STELLA_PATH_FUZZ_CHECK(again.value() == t);
  STELLA_PATH_FUZZ_CHECK(again.value().shape() == t.shape());
  STELLA_PATH_FUZZ_CHECK(again.value().to_string() == canonical);

  // With limits just below what this template needs, parsing fails on the limit and nothing
  // else (every other check passed already).
  if (t.segments().size() > 0) {
    const TemplateLimits fewer{limits.max_length, t.segments().size() - 1};
    const auto r2 = PathTemplate::parse(text, fewer);
    STELLA_PATH_FUZZ_CHECK(!r2.ok() && r2.error().code == Errc::template_too_long);
  }
  const TemplateLimits shorter{size - 1, limits.max_segments};
  const auto r3 = PathTemplate::parse(text, shorter);
  STELLA_PATH_FUZZ_CHECK(!r3.ok() && r3.error().code == Errc::template_too_long);
  STELLA_PATH_FUZZ_CHECK(r3.error().position == size - 1);
  return 0;
}
