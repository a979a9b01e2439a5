// load_config_text / load_config_file: YAML → GatewayConfig with every error collected.
// yaml-cpp throws; nothing leaves these functions but a LoadResult.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "config_reader.hpp"
#include "config_sections.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config {
namespace {

using detail::Context;
using detail::Key;
using detail::MapReader;

// Config files are small; a bigger file is a mistake (a log, a binary), not a configuration.
constexpr std::uintmax_t kMaxFileBytes = 4 * 1024 * 1024;

struct Section {
  Key key;
  void (*read)(MapReader&, GatewayConfig&);
};

const std::array<Section, 9>& sections() {
  static const std::array<Section, 9> kSections{{
      {"node", [](MapReader& m, GatewayConfig& c) { detail::read_node(m, c.node); }},
      {"transports",
       [](MapReader& m, GatewayConfig& c) { detail::read_transports(m, c.tcp, c.tls); }},
      {"routing", [](MapReader& m, GatewayConfig& c) { detail::read_routing(m, c.routing); }},
      {"health", [](MapReader& m, GatewayConfig& c) { detail::read_health(m, c.health); }},
      {"http", [](MapReader& m, GatewayConfig& c) { detail::read_http(m, c.http); }},
      {"auth", [](MapReader& m, GatewayConfig& c) { detail::read_auth(m, c.auth); }},
      {Key{"rateLimiting", "rate_limiting"},
       [](MapReader& m, GatewayConfig& c) { detail::read_rate_limiting(m, c.rate_limiting); }},
      {"openapi", [](MapReader& m, GatewayConfig& c) { detail::read_openapi(m, c.openapi); }},
      {"telemetry", [](MapReader& m, GatewayConfig& c) { detail::read_telemetry(m, c.telemetry); }},
  }};
  return kSections;
}

// The sections sit under `gateway:` (the seed) or at the top level; paths never include
// "gateway." so messages and docs name keys the same way for both nestings.
void read_root(Context& ctx, const YAML::Node& root, GatewayConfig& c) {
  MapReader top(ctx, root, "", "");
  std::optional<MapReader> gateway = top.map("gateway", std::string());
  for (const Section& s : sections()) {
    const bool nested = gateway && gateway->has(s.key);
    std::optional<MapReader> section;
    if (nested) {
      section = gateway->map(s.key);
      if (top.has(s.key)) {
        ctx.diag.error(top.path(s.key), top.line(s.key),
                       "section given both under 'gateway:' (line " +
                           std::to_string(gateway->line(s.key)) +
                           ") and at the top level; keep one");
      }
      top.allow(s.key);
    } else {
      if (gateway) gateway->allow(s.key);
      section = top.map(s.key);
    }
    if (section) s.read(*section, c);
  }
  if (gateway) gateway->finish();
  top.finish();
  detail::link_sections(c);
}

LoadResult load(const std::string& text, const std::string& source, EnvLookup env) {
  LoadResult result;
  result.config.source = source;
  Context ctx{env, {}};
  try {
    const std::vector<YAML::Node> docs = YAML::LoadAll(text);
    if (docs.size() > 1) {
      ctx.diag.error(
          "", docs[1].Mark().line + 1,
          "only one YAML document is allowed (found " + std::to_string(docs.size()) + ")");
    }
    const YAML::Node root = docs.empty() ? YAML::Node() : docs.front();
    if (!root.IsNull() && !root.IsMap()) {
      ctx.diag.error("", root.Mark().line + 1,
                     "the file must be a map of sections (gateway:, or node:, transports:, ...), "
                     "got " +
                         std::string(detail::describe(root)));
    } else {
      read_root(ctx, root, result.config);
    }
    detail::validate_into(result.config, ctx.diag);
  } catch (const YAML::Exception& e) {
    ctx.diag.error("", e.mark.line + 1, "invalid YAML: " + e.msg);
  } catch (const std::exception& e) {
    ctx.diag.error("", 0, std::string("cannot load: ") + e.what());
  }
  result.errors = ctx.diag.take();
  std::stable_sort(result.errors.begin(), result.errors.end(),
                   [](const ConfigError& a, const ConfigError& b) { return a.line < b.line; });
  return result;
}

}  // namespace

std::optional<std::string> process_env(const char* name) {
  const char* v = std::getenv(name);
  if (!v) return std::nullopt;
  return std::string(v);
}

LoadResult load_config_text(const std::string& text, const std::string& source, EnvLookup env) {
  try {
    return load(text, source, env);
  } catch (...) {  // bad_alloc while building messages: still a value, never an exception
    LoadResult r;
    r.config.source = source;
    r.errors.push_back(ConfigError{"", 0, "cannot load: out of memory"});
    return r;
  }
}

LoadResult load_config_file(const std::string& path, EnvLookup env) {
  auto fail = [&](std::string message) {
    LoadResult r;
    r.config.source = path;
    r.errors.push_back(ConfigError{"", 0, std::move(message)});
    return r;
  };
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec) return fail("cannot read the file: " + ec.message());
  if (std::filesystem::is_directory(status)) return fail("cannot read the file: it is a directory");
  if (std::filesystem::is_regular_file(status)) {
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && size > kMaxFileBytes) {
      return fail("the file has " + std::to_string(size) + " bytes; a configuration has at most " +
                  std::to_string(kMaxFileBytes));
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return fail(std::string("cannot read the file: ") + std::strerror(errno));
  std::string text;
  // Bounded even for a FIFO or device, whose size is not known in advance.
  char buf[8192];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxFileBytes) {
      return fail("the file is larger than " + std::to_string(kMaxFileBytes) + " bytes");
    }
  }
  if (in.bad()) return fail("cannot read the file: read error");
  return load_config_text(text, path, env);
}

std::vector<ConfigError> validate_config(const GatewayConfig& config) {
  LoadResult r = load_config_text(to_yaml(config, true), config.source, nullptr);
  for (ConfigError& e : r.errors)
    e.line = 0;  // lines of the generated text mean nothing
  return std::move(r.errors);
}

std::string format_error(const std::string& source, const ConfigError& e) {
  std::string out = source.empty() ? std::string("(built-in default)") : source;
  if (e.line > 0) out += ":" + std::to_string(e.line);
  out += ": ";
  if (!e.key.empty()) out += e.key + ": ";
  return out + e.message;
}

}  // namespace stella::gw::config
