#include "yaml_reader.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "stella/core/units.hpp"

namespace stella::sim::detail {

void Node::fail(const std::string& what) const {
  std::string where = *file_ + ": " + (path_.empty() ? std::string("(top level)") : path_);
  const YAML::Mark m = node_.Mark();
  if (!node_.IsNull() && m.line >= 0) {
    where += " (line " + std::to_string(m.line + 1) + ")";
  }
  throw TopologyError(where + ": " + what);
}

void Node::expect_map(std::initializer_list<const char*> allowed) const {
  if (!node_.IsMap()) fail("expected a map");
  for (const auto& kv : node_) {
    const std::string key = kv.first.as<std::string>();
    const bool ok =
        std::any_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; });
    if (!ok) {
      std::string list;
      for (const char* a : allowed)
        list += (list.empty() ? "" : ", ") + std::string(a);
      Node(kv.first, path_.empty() ? key : path_ + "." + key, file_)
          .fail("unknown key '" + key + "' (allowed: " + list + ")");
    }
  }
}

std::vector<Node> Node::items() const {
  if (!node_.IsSequence()) fail("expected a list");
  std::vector<Node> out;
  for (std::size_t i = 0; i < node_.size(); ++i)
    out.emplace_back(node_[i], path_ + "[" + std::to_string(i) + "]", file_);
  return out;
}

bool Node::has(const char* key) const {
  return node_.IsMap() && node_[key];
}

Node Node::operator[](const char* key) const {
  if (!has(key)) {
    Node(node_, path_.empty() ? key : path_ + "." + key, file_).fail("required key is missing");
  }
  return Node(node_[key], path_.empty() ? key : path_ + "." + key, file_);
}

std::string Node::only_key(std::initializer_list<const char*> allowed) const {
  expect_map(allowed);
  if (node_.size() != 1) fail("expected exactly one of the keys");
  return node_.begin()->first.as<std::string>();
}

std::string Node::str() const {
  if (!node_.IsScalar()) fail("expected a string");
  return node_.as<std::string>();
}

double Node::number() const {
  if (!node_.IsScalar()) fail("expected a number");
  try {
    const double v = node_.as<double>();
    if (!std::isfinite(v)) fail("expected a finite number");
    return v;
  } catch (const YAML::Exception&) {
    fail("expected a number, got '" + node_.as<std::string>() + "'");
  }
}

std::uint64_t Node::unsigned_int() const {
  const double v = number();
  if (v < 0 || v != std::floor(v) || v > 1e15) fail("expected a non-negative integer");
  return static_cast<std::uint64_t>(v);
}

bool Node::boolean() const {
  if (!node_.IsScalar()) fail("expected true or false");
  try {
    return node_.as<bool>();
  } catch (const YAML::Exception&) {
    fail("expected true or false, got '" + node_.as<std::string>() + "'");
  }
}

core::Duration Node::duration() const {
  std::string error;
  const auto d = core::parse_duration(str(), error);
  if (!d) fail("bad duration '" + str() + "': " + error);
  return std::chrono::duration_cast<core::Duration>(*d);
}

std::vector<std::string> Node::strings() const {
  std::vector<std::string> out;
  for (const Node& n : items())
    out.push_back(n.str());
  return out;
}

void Node::get(const char* key, std::string& out) const {
  if (has(key)) out = (*this)[key].str();
}
void Node::get(const char* key, double& out) const {
  if (has(key)) out = (*this)[key].number();
}
void Node::get(const char* key, std::uint32_t& out) const {
  if (!has(key)) return;
  const Node n = (*this)[key];
  const std::uint64_t v = n.unsigned_int();
  if (v > std::numeric_limits<std::uint32_t>::max()) n.fail("value too large");
  out = static_cast<std::uint32_t>(v);
}
void Node::get(const char* key, std::size_t& out) const {
  if (has(key)) out = static_cast<std::size_t>((*this)[key].unsigned_int());
}
void Node::get(const char* key, bool& out) const {
  if (has(key)) out = (*this)[key].boolean();
}
void Node::get(const char* key, core::Duration& out) const {
  if (has(key)) out = (*this)[key].duration();
}

}  // namespace stella::sim::detail
