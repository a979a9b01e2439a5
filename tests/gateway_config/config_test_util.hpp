// Helpers for the configuration loader tests: a fake environment and error matchers.
#pragma once

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>

#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config::testing {

/// The environment the fake lookup sees; tests set and clear it.
inline std::map<std::string, std::string>& fake_env() {
  static std::map<std::string, std::string> env;
  return env;
}

inline std::optional<std::string> fake_lookup(const char* name) {
  const auto& env = fake_env();
  if (auto it = env.find(name); it != env.end()) return it->second;
  return std::nullopt;
}

/// Clears the fake environment before each test.
class ConfigTest : public ::testing::Test {
 protected:
  void SetUp() override { fake_env().clear(); }
  void TearDown() override { fake_env().clear(); }
};

/// Loads with every check, as `serve` and `config validate` do.
inline LoadResult load_strict(const std::string& yaml) {
  return load_config_text(yaml, "test.yaml", &fake_lookup);
}

/// Loads for tests of a section's shape: the fail-closed refusal of a feature this build does
/// not have yet (rate limiting; config_validate_test checks it with load_strict) is left out,
/// so it does not hide what the test is about.
inline LoadResult load(const std::string& yaml) {
  LoadResult r = load_strict(yaml);
  std::erase_if(r.errors, [](const ConfigError& e) {
    return e.message.find("this build has no") != std::string::npos;
  });
  return r;
}

inline std::string dump(const LoadResult& r) {
  std::string out;
  for (const auto& e : r.errors)
    out += "  " + format_error("test.yaml", e) + "\n";
  return out.empty() ? "  (no errors)\n" : out;
}

/// Succeeds when `r` has an error at `key` whose message contains `text` (and, when given, on
/// `line`).
inline ::testing::AssertionResult has_error(const LoadResult& r, const std::string& key,
                                            const std::string& text, int line = -1) {
  for (const auto& e : r.errors) {
    if (e.key == key && e.message.find(text) != std::string::npos && (line < 0 || e.line == line))
      return ::testing::AssertionSuccess();
  }
  return ::testing::AssertionFailure()
         << "no error at '" << key << "' containing '" << text << "'"
         << (line >= 0 ? " on line " + std::to_string(line) : std::string()) << "; errors:\n"
         << dump(r);
}

/// The single error of `yaml`; fails unless there is exactly one.
inline ConfigError only_error(const std::string& yaml) {
  const LoadResult r = load(yaml);
  EXPECT_EQ(r.errors.size(), 1u) << yaml << "\n" << dump(r);
  return r.errors.empty() ? ConfigError{} : r.errors.front();
}

}  // namespace stella::gw::config::testing
