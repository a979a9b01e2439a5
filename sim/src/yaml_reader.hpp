// Strict, path-aware reading of YAML nodes for the topology loader: every accessor knows the
// key path of the node it reads, so an error names "FILE: services[0].endpoints[2].path";
// maps are checked against their allowed keys, so a typo is an error rather than a default.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <initializer_list>
#include <string>
#include <vector>

#include "stella/core/clock.hpp"
#include "stella/sim/topology.hpp"

namespace stella::sim::detail {

class Node {
 public:
  Node(YAML::Node node, std::string path, const std::string* file)
      : node_(std::move(node)), path_(std::move(path)), file_(file) {}

  [[noreturn]] void fail(const std::string& what) const;

  bool is_map() const { return node_.IsMap(); }
  bool is_sequence() const { return node_.IsSequence(); }
  bool is_scalar() const { return node_.IsScalar(); }
  const std::string& path() const { return path_; }

  /// Fails unless this node is a map whose keys are all in `allowed`.
  void expect_map(std::initializer_list<const char*> allowed) const;
  /// Fails unless this node is a sequence; returns its elements.
  std::vector<Node> items() const;
  bool has(const char* key) const;
  /// The child (fails if missing).
  Node operator[](const char* key) const;
  /// The only key of a one-key map (for tagged unions like `{fixed: 5ms}`).
  std::string only_key(std::initializer_list<const char*> allowed) const;

  std::string str() const;
  double number() const;
  std::uint64_t unsigned_int() const;
  bool boolean() const;
  core::Duration duration() const;
  std::vector<std::string> strings() const;

  // Optional forms: leave `out` unchanged when the key is absent.
  void get(const char* key, std::string& out) const;
  void get(const char* key, double& out) const;
  void get(const char* key, std::uint32_t& out) const;
  void get(const char* key, std::size_t& out) const;
  void get(const char* key, bool& out) const;
  void get(const char* key, core::Duration& out) const;

 private:
  YAML::Node node_;
  std::string path_;
  const std::string* file_;
};

}  // namespace stella::sim::detail
