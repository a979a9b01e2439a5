#include "config_reader.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <system_error>

#include "stella/core/units.hpp"

namespace stella::gw::config::detail {
namespace {

using namespace std::chrono_literals;

std::string quote(std::string_view s) {
  return "'" + std::string(s) + "'";
}

int line_of_node(const YAML::Node& node, int fallback) {
  const YAML::Mark mark = node.Mark();
  return mark.line >= 0 ? mark.line + 1 : fallback;
}

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
    s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
    s.remove_suffix(1);
  return s;
}

// The substituted text of a scalar node at `path`, or nullopt with the error recorded.
std::optional<std::string> scalar_text(Context& ctx, const YAML::Node& node,
                                       const std::string& path, int line, std::string_view expected,
                                       const std::optional<std::string>& if_null) {
  if (node.IsNull()) {
    if (if_null) return if_null;
    ctx.diag.error(path, line, "has no value (expected " + std::string(expected) + ")");
    return std::nullopt;
  }
  if (!node.IsScalar()) {
    ctx.diag.error(path, line,
                   "expected " + std::string(expected) + ", got " + std::string(describe(node)));
    return std::nullopt;
  }
  std::string error;
  auto text = substitute_env(node.Scalar(), ctx.env, error);
  if (!text) ctx.diag.error(path, line, error);
  return text;
}

std::string range_message(std::uint64_t v, std::uint64_t min, std::uint64_t max,
                          std::string_view unit) {
  if (v < min) return "must be at least " + std::to_string(min) + std::string(unit);
  return "must be at most " + std::to_string(max) + std::string(unit) + ", got " +
         std::to_string(v);
}

// 0.3 as "0.3", not "0.300000".
std::string shortest(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

}  // namespace

void Diagnostics::error(std::string key, int line, std::string message) {
  errors_.push_back(ConfigError{std::move(key), line, std::move(message)});
}

int Diagnostics::line_of(std::string key) const {
  while (!key.empty()) {
    if (auto it = lines_.find(key); it != lines_.end()) return it->second;
    if (key.back() == ']') {
      key.erase(key.rfind('['));
    } else {
      const auto dot = key.rfind('.');
      key.erase(dot == std::string::npos ? 0 : dot);
    }
  }
  return 0;
}

std::string_view describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map:
      return "a map";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Scalar:
      return "a single value";
    default:
      return "nothing";
  }
}

MapReader::MapReader(Context& ctx, const YAML::Node& node, std::string prefix, std::string self)
    : ctx_(&ctx), prefix_(std::move(prefix)), self_(std::move(self)) {
  if (!node.IsMap()) return;  // null: an empty section
  for (auto it = node.begin(); it != node.end(); ++it) {
    const int key_line = line_of_node(it->first, 0);
    if (!it->first.IsScalar()) {
      ctx_->diag.error(
          self_, key_line,
          "keys must be plain names, got " + std::string(describe(it->first)) + " as a key");
      continue;
    }
    std::string name = it->first.Scalar();
    const auto dup = std::find_if(entries_.begin(), entries_.end(),
                                  [&](const Entry& e) { return e.name == name; });
    if (dup != entries_.end()) {
      ctx_->diag.error(prefix_ + name, key_line,
                       "duplicate key (first given at line " + std::to_string(dup->line) + ")");
      continue;
    }
    ctx_->diag.note_line(prefix_ + name, key_line);
    entries_.push_back(Entry{std::move(name), it->second, key_line});
  }
}

const MapReader::Entry* MapReader::find(const Key& key) {
  known_.emplace_back(key.name);
  if (key.alias) {
    known_.emplace_back(key.alias);
    aliases_.emplace_back(key.name, key.alias);
  }
  for (const Entry& e : entries_)
    if (e.name == key.name) return &e;
  if (key.alias)
    for (const Entry& e : entries_)
      if (e.name == key.alias) return &e;
  return nullptr;
}

bool MapReader::has(const Key& key) const {
  return std::any_of(entries_.begin(), entries_.end(), [&](const Entry& e) {
    return e.name == key.name || (key.alias && e.name == key.alias);
  });
}

int MapReader::line(const Key& key) const {
  for (const Entry& e : entries_)
    if (e.name == key.name) return e.line;
  if (key.alias)
    for (const Entry& e : entries_)
      if (e.name == key.alias) return e.line;
  return 0;
}

std::string MapReader::path(const Key& key) const {
  const bool written_as_alias = key.alias &&
                                std::none_of(entries_.begin(), entries_.end(),
                                             [&](const Entry& e) { return e.name == key.name; }) &&
                                has(key);
  return prefix_ + (written_as_alias ? key.alias : key.name);
}

void MapReader::allow(const Key& key) {
  find(key);
}

std::optional<std::string> MapReader::scalar(const Key& key, std::string_view expected,
                                             std::optional<std::string> if_null) {
  const Entry* e = find(key);
  if (!e) return std::nullopt;
  return scalar_text(*ctx_, e->value, path(key), e->line, expected, if_null);
}

void MapReader::get(const Key& key, bool& out) {
  auto text = scalar(key, "true or false");
  if (!text) return;
  if (*text == "true") {
    out = true;
  } else if (*text == "false") {
    out = false;
  } else {
    ctx_->diag.error(path(key), line(key), "expected true or false, got " + quote(*text));
  }
}

void MapReader::get(const Key& key, std::string& out) {
  if (auto text = scalar(key, "a string", std::string())) out = std::move(*text);
}

bool MapReader::read_uint(const Key& key, std::uint64_t& out, std::uint64_t min,
                          std::uint64_t max) {
  auto text = scalar(key, "a whole number");
  if (!text) return false;
  const std::string_view t = trim(*text);
  const std::string where = path(key);
  const bool negative = !t.empty() && t.front() == '-';
  const std::string_view digits = negative ? t.substr(1) : t;
  if (digits.empty() ||
      !std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    ctx_->diag.error(where, line(key), "expected a whole number, got " + quote(*text));
    return false;
  }
  if (negative) {
    ctx_->diag.error(where, line(key),
                     "must be at least " + std::to_string(min) + ", got " + *text);
    return false;
  }
  std::uint64_t v = 0;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec == std::errc::result_out_of_range || v > max || v < min) {
    ctx_->diag.error(where, line(key),
                     ec == std::errc::result_out_of_range
                         ? "must be at most " + std::to_string(max) + ", got " + *text
                         : range_message(v, min, max, ""));
    return false;
  }
  out = v;
  return true;
}

bool MapReader::read_size(const Key& key, std::uint64_t& out, std::uint64_t min,
                          std::uint64_t max) {
  auto text = scalar(key, "a size (e.g. \"64KiB\", \"100MB\" or a number of bytes)");
  if (!text) return false;
  std::string error;
  const auto v = core::parse_size(*text, error);
  if (!v) {
    ctx_->diag.error(path(key), line(key), error);
    return false;
  }
  if (*v < min || *v > max) {
    ctx_->diag.error(path(key), line(key), range_message(*v, min, max, " bytes"));
    return false;
  }
  out = *v;
  return true;
}

void MapReader::get(const Key& key, double& out, double min, double max) {
  auto text = scalar(key, "a number");
  if (!text) return;
  const std::string_view t = trim(*text);
  double v = 0;
  const auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
  if (t.empty() || ec != std::errc() || end != t.data() + t.size() || !std::isfinite(v)) {
    ctx_->diag.error(path(key), line(key), "expected a number, got " + quote(*text));
    return;
  }
  if (v < min || v > max) {
    ctx_->diag.error(
        path(key), line(key),
        "must be between " + shortest(min) + " and " + shortest(max) + ", got " + std::string(t));
    return;
  }
  out = v;
}

void MapReader::get(const Key& key, core::Duration& out, core::Duration min, Bare bare) {
  auto text = scalar(key, "a duration (e.g. \"30s\")");
  if (!text) return;
  const std::string written = path(key);
  const bool bare_seconds =
      bare == Bare::seconds || ends_with(written, "Seconds") || ends_with(written, "_seconds");
  std::string error;
  const auto d = core::parse_duration(
      *text, error, bare_seconds ? std::optional<std::chrono::nanoseconds>(1s) : std::nullopt);
  if (!d) {
    ctx_->diag.error(written, line(key), error);
    return;
  }
  const auto v = std::chrono::duration_cast<core::Duration>(*d);
  if (v < min) {
    ctx_->diag.error(written, line(key),
                     min == core::Duration(1) ? "must be > 0"
                                              : "must be at least " + core::format_duration(min));
    return;
  }
  out = v;
}

void MapReader::get(const Key& key, std::chrono::milliseconds& out, core::Duration min) {
  core::Duration d = out;
  const std::size_t before = ctx_->diag.errors().size();
  get(key, d, min);
  if (ctx_->diag.errors().size() != before) return;
  if (d % std::chrono::milliseconds(1) != core::Duration::zero()) {
    ctx_->diag.error(path(key), line(key), "must be a whole number of milliseconds");
    return;
  }
  out = std::chrono::duration_cast<std::chrono::milliseconds>(d);
}

void MapReader::get(const Key& key, std::vector<std::string>& out) {
  const Entry* e = find(key);
  if (!e) return;
  const std::string where = path(key);
  if (e->value.IsNull()) {
    out.clear();
    return;
  }
  if (!e->value.IsSequence()) {
    ctx_->diag.error(
        where, e->line,
        "expected a list (e.g. [\"a\", \"b\"]), got " + std::string(describe(e->value)));
    return;
  }
  std::vector<std::string> values;
  bool ok = true;
  for (std::size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node item = e->value[i];
    const std::string item_path = where + "[" + std::to_string(i) + "]";
    const int item_line = line_of_node(item, e->line);
    ctx_->diag.note_line(item_path, item_line);
    auto text = scalar_text(*ctx_, item, item_path, item_line, "a string", std::nullopt);
    if (text) {
      values.push_back(std::move(*text));
    } else {
      ok = false;
    }
  }
  if (ok) out = std::move(values);
}

std::optional<MapReader> MapReader::map(const Key& key, std::optional<std::string> child_prefix) {
  const Entry* e = find(key);
  if (!e) return std::nullopt;
  const std::string where = path(key);
  if (!e->value.IsMap() && !e->value.IsNull()) {
    ctx_->diag.error(where, e->line,
                     "expected a map of keys, got " + std::string(describe(e->value)));
    return std::nullopt;
  }
  return MapReader(*ctx_, e->value, child_prefix ? *child_prefix : where + ".", where);
}

std::vector<MapReader> MapReader::list_of_maps(const Key& key, std::size_t max_items) {
  std::vector<MapReader> out;
  const Entry* e = find(key);
  if (!e || e->value.IsNull()) return out;
  const std::string where = path(key);
  if (!e->value.IsSequence()) {
    ctx_->diag.error(where, e->line, "expected a list, got " + std::string(describe(e->value)));
    return out;
  }
  if (e->value.size() > max_items) {
    ctx_->diag.error(
        where, e->line,
        "at most " + std::to_string(max_items) + " items, got " + std::to_string(e->value.size()));
    return out;
  }
  for (std::size_t i = 0; i < e->value.size(); ++i) {
    const YAML::Node item = e->value[i];
    const std::string item_path = where + "[" + std::to_string(i) + "]";
    const int item_line = line_of_node(item, e->line);
    ctx_->diag.note_line(item_path, item_line);
    if (!item.IsMap()) {
      ctx_->diag.error(item_path, item_line,
                       "expected a map of keys, got " + std::string(describe(item)));
      continue;
    }
    out.emplace_back(*ctx_, item, item_path + ".", item_path);
  }
  return out;
}

void MapReader::require(const Key& key) {
  if (!has(key)) {
    ctx_->diag.error(
        prefix_ + key.name, ctx_->diag.line_of(self_),
        "missing (required in " + (self_.empty() ? std::string("the file") : self_) + ")");
  }
}

void MapReader::finish() {
  std::vector<std::string> valid;
  for (const std::string& k : known_)
    if (std::find(valid.begin(), valid.end(), k) == valid.end()) valid.push_back(k);
  std::string list;
  for (const std::string& k : valid)
    list += (list.empty() ? "" : ", ") + k;
  for (const Entry& e : entries_) {
    if (std::find(valid.begin(), valid.end(), e.name) != valid.end()) continue;
    // The closest valid key within edit distance 2 (and shorter than the key itself, so "ab"
    // does not suggest every two-letter key).
    const std::string* best = nullptr;
    std::size_t best_distance = 3;
    for (const std::string& k : valid) {
      const std::size_t d = edit_distance(e.name, k);
      if (d < best_distance && d < e.name.size()) {
        best = &k;
        best_distance = d;
      }
    }
    std::string message = "unknown key";
    if (best) message += "; did you mean '" + *best + "'?";
    message += valid.empty() ? " (this map takes no keys)" : " (valid keys: " + list + ")";
    ctx_->diag.error((self_.empty() ? "" : self_ + ".") + e.name, e.line, message);
  }
  auto present = [&](const std::string& name) -> const Entry* {
    for (const Entry& e : entries_)
      if (e.name == name) return &e;
    return nullptr;
  };
  for (std::size_t i = 0; i < aliases_.size(); ++i) {
    const auto& [name, alias] = aliases_[i];
    if (std::find(aliases_.begin(), aliases_.begin() + static_cast<std::ptrdiff_t>(i),
                  aliases_[i]) != aliases_.begin() + static_cast<std::ptrdiff_t>(i))
      continue;  // reported already
    const Entry* a = present(name);
    const Entry* b = present(alias);
    if (a && b) {
      ctx_->diag.error(prefix_ + alias, b->line,
                       "given twice, as '" + name + "' (line " + std::to_string(a->line) +
                           ") and as '" + alias + "'; keep one");
    }
  }
}

}  // namespace stella::gw::config::detail
