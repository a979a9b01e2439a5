// Internal: reading one YAML map of the configuration with key paths, line numbers, ${ENV}
// substitution, strict types and unknown-key detection. Only the loader uses it.
//
// Every get_* call names a key the map may hold; finish() then reports every key the map holds
// that no call named, with the valid keys and a suggestion. A key left out keeps the value the
// caller passed in (the struct's default). Problems are recorded in the Diagnostics and reading
// goes on, so one run reports every error.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config::detail {

/// Errors found so far and the line of every key path seen (for errors found after parsing).
class Diagnostics {
 public:
  void error(std::string key, int line, std::string message);
  void note_line(const std::string& key, int line) { lines_.emplace(key, line); }
  /// The line of `key`, else of its closest parent ("a.b[2].c" → "a.b[2]" → "a.b" → "a"), else 0.
  int line_of(std::string key) const;
  const std::vector<ConfigError>& errors() const noexcept { return errors_; }
  std::vector<ConfigError> take() { return std::move(errors_); }

 private:
  std::vector<ConfigError> errors_;
  std::map<std::string, int> lines_;
};

struct Context {
  EnvLookup env;
  Diagnostics diag;
};

/// `${NAME}` / `${NAME:-default}` / `$$` substitution. nullopt with `error` set on failure.
std::optional<std::string> substitute_env(std::string_view text, EnvLookup env, std::string& error);

/// Levenshtein distance, case-insensitive ('_' ignored), for "did you mean".
std::size_t edit_distance(std::string_view a, std::string_view b);

/// A key and, for the seed's snake_case rate-limiting block, its other accepted spelling.
struct Key {
  Key(const char* n) : name(n) {}  // NOLINT: implicit on purpose, most keys have no alias
  Key(const char* n, const char* a) : name(n), alias(a) {}
  const char* name;
  const char* alias = nullptr;
};

/// How a duration key reads a bare number.
enum class Bare {
  by_name,  // bare seconds when the key ends in "Seconds" or "_seconds", else a unit is required
  seconds,  // bare seconds whatever the name (the seed's `half_open_timeout: 10`)
};

class MapReader {
 public:
  /// `node` must be a map or null (an empty section). `prefix` is prepended to child keys
  /// ("routing." gives "routing.defaultTimeout"); `self` names this map in messages.
  MapReader(Context& ctx, const YAML::Node& node, std::string prefix, std::string self);

  /// True when the key (or its alias) is present.
  bool has(const Key& key) const;
  /// The line of the key as written, 0 when absent.
  int line(const Key& key) const;
  /// The path of the key as the user wrote it (the alias when they used it).
  std::string path(const Key& key) const;

  void get(const Key& key, bool& out);
  void get(const Key& key, std::string& out);
  /// Whole numbers in [min, max].
  template <class T>
  void get_int(const Key& key, T& out, std::uint64_t min = 0,
               std::uint64_t max = std::numeric_limits<T>::max()) {
    std::uint64_t v = 0;
    if (read_uint(key, v, min, max)) out = static_cast<T>(v);
  }
  /// A finite number in [min, max].
  void get(const Key& key, double& out, double min, double max);
  /// A duration >= min (parse_duration; see Bare).
  void get(const Key& key, core::Duration& out, core::Duration min = core::Duration::zero(),
           Bare bare = Bare::by_name);
  void get(const Key& key, std::chrono::milliseconds& out, core::Duration min);
  /// A size in bytes (parse_size) in [min, max].
  template <class T>
  void get_size(const Key& key, T& out, std::uint64_t min = 0,
                std::uint64_t max = static_cast<std::uint64_t>(std::numeric_limits<T>::max())) {
    std::uint64_t v = 0;
    if (read_size(key, v, min, max)) out = static_cast<T>(v);
  }
  /// A list of strings (null is an empty list).
  void get(const Key& key, std::vector<std::string>& out);
  /// A string that must be one of the values a parser accepts; `expected` lists them.
  template <class T, class Parse>
  void get_enum(const Key& key, T& out, Parse parse, std::string_view expected) {
    std::string text;
    const std::size_t before = ctx_->diag.errors().size();
    get(key, text);
    if (!has(key) || ctx_->diag.errors().size() != before) return;
    if (auto v = parse(text)) {
      out = *v;
    } else {
      ctx_->diag.error(path(key), line(key),
                       "'" + text + "' is not valid (expected " + std::string(expected) + ")");
    }
  }

  /// The sub-map at `key`; nullopt when absent or not a map (an error is recorded then).
  /// Its keys' paths start with `child_prefix` (default: this key's path and a dot).
  std::optional<MapReader> map(const Key& key,
                               std::optional<std::string> child_prefix = std::nullopt);
  /// The maps of a list at `key` (each element must be a map); empty when absent. More than
  /// `max_items` elements is an error.
  std::vector<MapReader> list_of_maps(const Key& key, std::size_t max_items);
  /// Marks `key` as valid without reading it (the caller reads it elsewhere).
  void allow(const Key& key);
  /// Records an error when `key` is absent.
  void require(const Key& key);

  /// Reports unknown keys. Call once, after every get.
  void finish();

  Context& context() noexcept { return *ctx_; }

 private:
  struct Entry {
    std::string name;
    YAML::Node value;
    int line = 0;
  };

  const Entry* find(const Key& key);
  /// The substituted text of a scalar; nullopt (error recorded) for non-scalars and bad ${}.
  /// A null value gives `if_null` when set, else an error naming `expected`.
  std::optional<std::string> scalar(const Key& key, std::string_view expected,
                                    std::optional<std::string> if_null = std::nullopt);
  bool read_uint(const Key& key, std::uint64_t& out, std::uint64_t min, std::uint64_t max);
  bool read_size(const Key& key, std::uint64_t& out, std::uint64_t min, std::uint64_t max);

  Context* ctx_;
  std::string prefix_;
  std::string self_;
  std::vector<Entry> entries_;
  std::vector<std::string> known_;                            // every spelling asked for, in order
  std::vector<std::pair<std::string, std::string>> aliases_;  // (name, alias) asked for
};

/// Type of a node for messages: "a map", "a list", "a value", "nothing".
std::string_view describe(const YAML::Node& node);

}  // namespace stella::gw::config::detail
