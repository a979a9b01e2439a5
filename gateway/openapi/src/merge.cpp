// The merge (docs/openapi.md "How the document is built"). Per service: parse each fragment
// with limits, check it field by field, collect its x-stella-components, drop components and
// operations whose $refs leave the service, rename the components into the service's
// namespace and rewrite the $refs; then place each operation at its OpenAPI path.
#include <algorithm>
#include <array>
#include <cctype>
#include <map>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <tuple>
#include <utility>

#include "stella/core/frame_json.hpp"
#include "stella/core/path_template.hpp"
#include "stella/core/strict_json.hpp"
#include "stella/core/text.hpp"
#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::openapi {

namespace {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

constexpr std::array<std::string_view, 9> kComponentTypes = {
    "schemas", "responses", "parameters", "examples", "requestBodies",
    "headers", "links",     "callbacks",  "pathItems"};
constexpr std::array<std::string_view, 8> kPathItemMethods = {"get",     "put",  "post",  "delete",
                                                              "options", "head", "patch", "trace"};
constexpr std::string_view kComponentsMember = "x-stella-components";

bool is_extension(std::string_view k) {
  return k.starts_with("x-");
}

bool is_component_type(std::string_view t) {
  return std::find(kComponentTypes.begin(), kComponentTypes.end(), t) != kComponentTypes.end();
}

// OpenAPI 3.1 §4.8.7: ^[a-zA-Z0-9\.\-_]+$
bool is_component_name(std::string_view s) {
  if (s.empty() || s.size() > 128) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
  });
}

// Text from a peer as valid UTF-8: every byte that does not start a valid sequence becomes
// U+FFFD (the document is JSON; nlohmann would throw on invalid UTF-8 when dumping).
std::string utf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) {
    const std::size_t n = core::utf8_sequence_length(s, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      ++i;
    } else {
      out.append(s.substr(i, n));
      i += n;
    }
  }
  return out;
}

ojson to_ordered(const json& v) {
  switch (v.type()) {
    case json::value_t::object: {
      ojson o = ojson::object();
      for (const auto& [k, x] : v.items())
        o[k] = to_ordered(x);
      return o;
    }
    case json::value_t::array: {
      ojson a = ojson::array();
      for (const auto& x : v)
        a.push_back(to_ordered(x));
      return a;
    }
    case json::value_t::string:
      return v.get<std::string>();
    case json::value_t::boolean:
      return v.get<bool>();
    case json::value_t::number_integer:
      return v.get<std::int64_t>();
    case json::value_t::number_unsigned:
      return v.get<std::uint64_t>();
    case json::value_t::number_float:
      return v.get<double>();
    default:
      return nullptr;
  }
}

// ---- structural checks: "" when fine, else what is wrong -------------------------------------

using Check = std::string (*)(const json&);

std::string expect_object(const json& v, std::string_view what) {
  return v.is_object() ? "" : std::string(what) + " must be an object";
}

// Unknown members (not x-*) and members of the wrong type.
template <std::size_t N>
std::string check_members(const json& v, std::string_view what,
                          const std::array<std::pair<std::string_view, json::value_t>, N>& known) {
  if (!v.is_object()) return std::string(what) + " must be an object";
  for (const auto& [k, x] : v.items()) {
    if (is_extension(k)) continue;
    const auto it =
        std::find_if(known.begin(), known.end(), [&](const auto& kv) { return kv.first == k; });
    if (it == known.end()) return std::string(what) + " has an unknown member '" + k + "'";
    const auto want = it->second;
    const bool ok = want == json::value_t::discarded ||
                    (want == json::value_t::number_float ? x.is_number() : x.type() == want);
    if (!ok) return std::string(what) + "." + k + " has the wrong type";
  }
  return "";
}

template <class J>
bool is_ref(const J& v) {
  return v.is_object() && v.contains("$ref");
}

std::string check_ref(const json& v, std::string_view what) {
  using T = json::value_t;
  static constexpr std::array<std::pair<std::string_view, T>, 3> kRef = {
      {{"$ref", T::string}, {"summary", T::string}, {"description", T::string}}};
  return check_members(v, what, kRef);
}

std::string check_schema(const json& v, std::string_view what) {
  return v.is_object() || v.is_boolean() ? "" : std::string(what) + " must be a schema";
}

std::string check_map_of_objects(const json& v, std::string_view what) {
  if (!v.is_object()) return std::string(what) + " must be an object";
  for (const auto& [k, x] : v.items())
    if (!x.is_object()) return std::string(what) + "." + k + " must be an object";
  return "";
}

std::string check_content(const json& v, std::string_view what) {
  using T = json::value_t;
  static constexpr std::array<std::pair<std::string_view, T>, 4> kMedia = {
      {{"schema", T::discarded},
       {"example", T::discarded},
       {"examples", T::object},
       {"encoding", T::object}}};
  if (!v.is_object()) return std::string(what) + " must be an object";
  for (const auto& [type, media] : v.items()) {
    const std::string at = std::string(what) + "['" + type + "']";
    if (auto e = check_members(media, at, kMedia); !e.empty()) return e;
    if (media.contains("schema"))
      if (auto e = check_schema(media["schema"], at + ".schema"); !e.empty()) return e;
    if (media.contains("examples"))
      if (auto e = check_map_of_objects(media["examples"], at + ".examples"); !e.empty()) return e;
  }
  return "";
}

std::string check_parameter(const json& v, std::string_view what) {
  using T = json::value_t;
  if (is_ref(v)) return check_ref(v, what);
  static constexpr std::array<std::pair<std::string_view, T>, 13> kParam = {
      {{"name", T::string},
       {"in", T::string},
       {"description", T::string},
       {"required", T::boolean},
       {"deprecated", T::boolean},
       {"allowEmptyValue", T::boolean},
       {"style", T::string},
       {"explode", T::boolean},
       {"allowReserved", T::boolean},
       {"schema", T::discarded},
       {"example", T::discarded},
       {"examples", T::object},
       {"content", T::object}}};
  if (auto e = check_members(v, what, kParam); !e.empty()) return e;
  if (!v.contains("name") || !v.contains("in")) return std::string(what) + " needs name and in";
  const auto in = v["in"].get<std::string>();
  if (in != "query" && in != "header" && in != "path" && in != "cookie")
    return std::string(what) + ".in must be query, header, path or cookie";
  if (in == "path" && (!v.contains("required") || !v["required"].get<bool>()))
    return std::string(what) + " is in the path and needs required: true";
  if (v.contains("schema") == v.contains("content"))
    return std::string(what) + " needs exactly one of schema and content";
  if (v.contains("schema")) return check_schema(v["schema"], std::string(what) + ".schema");
  if (v["content"].size() != 1) return std::string(what) + ".content needs exactly one entry";
  return check_content(v["content"], std::string(what) + ".content");
}

std::string check_request_body(const json& v, std::string_view what) {
  using T = json::value_t;
  if (is_ref(v)) return check_ref(v, what);
  static constexpr std::array<std::pair<std::string_view, T>, 3> kBody = {
      {{"description", T::string}, {"content", T::object}, {"required", T::boolean}}};
  if (auto e = check_members(v, what, kBody); !e.empty()) return e;
  if (!v.contains("content")) return std::string(what) + " needs content";
  return check_content(v["content"], std::string(what) + ".content");
}

std::string check_response(const json& v, std::string_view what) {
  using T = json::value_t;
  if (is_ref(v)) return check_ref(v, what);
  static constexpr std::array<std::pair<std::string_view, T>, 4> kResponse = {
      {{"description", T::string},
       {"headers", T::object},
       {"content", T::object},
       {"links", T::object}}};
  if (auto e = check_members(v, what, kResponse); !e.empty()) return e;
  if (!v.contains("description")) return std::string(what) + " needs a description";
  if (v.contains("headers"))
    if (auto e = check_map_of_objects(v["headers"], std::string(what) + ".headers"); !e.empty())
      return e;
  if (v.contains("links"))
    if (auto e = check_map_of_objects(v["links"], std::string(what) + ".links"); !e.empty())
      return e;
  if (v.contains("content")) return check_content(v["content"], std::string(what) + ".content");
  return "";
}

bool is_status_key(std::string_view k) {
  if (k == "default") return true;
  if (k.size() != 3 || k[0] < '1' || k[0] > '5') return false;
  if (k.substr(1) == "XX") return true;
  return std::isdigit(static_cast<unsigned char>(k[1])) &&
         std::isdigit(static_cast<unsigned char>(k[2]));
}

std::string check_responses(const json& v) {
  if (!v.is_object() || v.empty()) return "responses must be a non-empty object";
  for (const auto& [k, x] : v.items()) {
    if (is_extension(k)) continue;
    if (!is_status_key(k)) return "responses has a key '" + k + "' that is not a status code";
    if (auto e = check_response(x, "responses." + k); !e.empty()) return e;
  }
  return "";
}

std::string check_operation(const json& v) {
  using T = json::value_t;
  static constexpr std::array<std::pair<std::string_view, T>, 12> kOperation = {
      {{"tags", T::array},
       {"summary", T::string},
       {"description", T::string},
       {"externalDocs", T::object},
       {"operationId", T::string},
       {"parameters", T::array},
       {"requestBody", T::discarded},
       {"responses", T::discarded},
       {"callbacks", T::object},
       {"deprecated", T::boolean},
       {"security", T::array},
       {"servers", T::array}}};
  if (auto e = check_members(v, "operation", kOperation); !e.empty()) return e;
  if (v.contains("externalDocs") &&
      !(v["externalDocs"].contains("url") && v["externalDocs"]["url"].is_string()))
    return "operation.externalDocs needs a url";
  if (v.contains("parameters")) {
    std::size_t i = 0;
    for (const auto& p : v["parameters"])
      if (auto e = check_parameter(p, "parameters[" + std::to_string(i++) + "]"); !e.empty())
        return e;
  }
  if (v.contains("requestBody"))
    if (auto e = check_request_body(v["requestBody"], "requestBody"); !e.empty()) return e;
  if (v.contains("responses"))
    if (auto e = check_responses(v["responses"]); !e.empty()) return e;
  if (v.contains("callbacks"))
    if (auto e = check_map_of_objects(v["callbacks"], "callbacks"); !e.empty()) return e;
  return "";
}

std::string check_component(std::string_view type, const json& v, const std::string& what) {
  if (type == "schemas") return check_schema(v, what);
  if (type == "responses") return check_response(v, what);
  if (type == "parameters") return check_parameter(v, what);
  if (type == "requestBodies") return check_request_body(v, what);
  return expect_object(v, what);
}

// ---- references ------------------------------------------------------------------------------

using ComponentKey = std::pair<std::string, std::string>;  // (type, name)
using Components = std::map<ComponentKey, json>;

struct RefVerdict {
  std::optional<Reason> bad;  // set when the reference leaves the service
  std::string ref;
};

// A reference a service may use: #/components/<type>/<name>[/...] naming one of its own
// components. Anything not starting with '#' is external (a URL or a file).
std::optional<Reason> ref_problem(std::string_view ref, const Components& own) {
  if (!ref.starts_with('#')) return Reason::external_ref;
  constexpr std::string_view kPrefix = "#/components/";
  if (!ref.starts_with(kPrefix)) return Reason::dangling_ref;
  ref.remove_prefix(kPrefix.size());
  const auto slash = ref.find('/');
  if (slash == std::string_view::npos) return Reason::dangling_ref;
  const std::string type(ref.substr(0, slash));
  std::string_view rest = ref.substr(slash + 1);
  const std::string name(rest.substr(0, rest.find('/')));
  if (!own.contains({type, name})) return Reason::dangling_ref;
  return std::nullopt;
}

// The first $ref in `v` that leaves the service.
RefVerdict first_bad_ref(const json& v, const Components& own) {
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) {
      if (k == "$ref" && x.is_string()) {
        const auto& s = x.get_ref<const std::string&>();
        if (auto r = ref_problem(s, own)) return {r, s};
        continue;
      }
      if (auto r = first_bad_ref(x, own); r.bad) return r;
    }
  } else if (v.is_array()) {
    for (const auto& x : v)
      if (auto r = first_bad_ref(x, own); r.bad) return r;
  }
  return {};
}

void rewrite_refs(ojson& v, const std::string& prefix) {
  if (v.is_object()) {
    for (auto& [k, x] : v.items()) {
      if (k == "$ref" && x.is_string()) {
        constexpr std::string_view kPrefix = "#/components/";
        auto s = x.get<std::string>();
        const auto slash = s.find('/', kPrefix.size());
        if (s.starts_with(kPrefix) && slash != std::string::npos) s.insert(slash + 1, prefix);
        x = std::move(s);
        continue;
      }
      rewrite_refs(x, prefix);
    }
  } else if (v.is_array()) {
    for (auto& x : v)
      rewrite_refs(x, prefix);
  }
}

// ---- per-service state ----------------------------------------------------------------------

struct Context {
  const DocumentOptions& options;
  std::vector<Warning>& warnings;
  std::set<std::string> operation_ids;
  std::set<std::string> prefixes;
  std::map<std::string, std::string> path_by_shape;  // "/a/{}" → "/a/{id}"
  std::map<std::string, ojson> paths;                // OpenAPI path → path item
  std::map<std::string, ojson> components;           // "schemas" → {name: value}
};

std::string endpoint_name(const core::EndpointDescriptor& d) {
  return utf8(d.method) + " " + utf8(d.path);
}

void warn(Context& ctx, const std::string& service, std::string endpoint, Reason r,
          std::string detail) {
  ctx.warnings.push_back({service, std::move(endpoint), r, utf8(detail)});
}

std::string namespace_prefix(Context& ctx, std::string_view service) {
  std::string p;
  for (char c : service)
    p += (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_') ? c : '_';
  if (p.empty()) p = "_";
  std::string candidate = p;
  for (int n = 2; !ctx.prefixes.insert(candidate).second; ++n)
    candidate = p + "_" + std::to_string(n);
  return candidate + ".";
}

std::string sanitize_identifier(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else if (!out.empty() && out.back() != '_') {
      out += '_';
    }
  }
  while (!out.empty() && out.back() == '_')
    out.pop_back();
  return out;
}

std::string unique_operation_id(Context& ctx, std::string wanted) {
  std::string id = wanted;
  for (int n = 2; !ctx.operation_ids.insert(id).second; ++n)
    id = wanted + "_" + std::to_string(n);
  return id;
}

// The OpenAPI path and its parameter names, the shape of the path grouping templates that
// OpenAPI cannot tell apart (`/a/{x}` and `/a/{*y}`).
struct OpenApiPath {
  std::string text;
  std::string shape;
  std::vector<std::string> params;
  std::vector<bool> catch_all;
};

std::optional<OpenApiPath> to_openapi_path(std::string_view template_text) {
  auto parsed = core::PathTemplate::parse(template_text);
  if (!parsed.ok()) return std::nullopt;
  OpenApiPath p;
  for (const auto& seg : parsed.value().segments()) {
    p.text += '/';
    p.shape += '/';
    if (seg.kind == core::SegmentKind::kLiteral) {
      p.text += seg.text;
      p.shape += seg.text;
    } else {
      p.text += "{" + seg.text + "}";
      p.shape += "{}";
      p.params.push_back(seg.text);
      p.catch_all.push_back(seg.kind == core::SegmentKind::kCatchAll);
    }
  }
  if (p.text.empty()) p.text = p.shape = "/";
  return p;
}

ojson path_parameter(const std::string& name, bool catch_all) {
  ojson p = {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}};
  if (catch_all) {
    p["description"] =
        "The rest of the path: one or more segments, slashes included (a catch-all).";
    p["x-stella-catch-all"] = true;
  }
  return p;
}

ojson security_for(const Context& ctx, const EndpointInput& e) {
  const auto& o = ctx.options;
  if (!o.auth_enabled || e.anonymous) return ojson::array();
  ojson scopes = ojson::array();
  for (const auto& c : e.required_claims)
    if (c.type == "scope" || c.type == "scp") scopes.push_back(utf8(c.value));
  ojson out = ojson::array();
  auto requirement = [&](const char* scheme) {
    ojson r = ojson::object();
    if (o.issuer.empty()) {
      r[scheme] = scopes;
    } else {
      r[scheme] = ojson::array();
      r["authority"] = scopes;
    }
    out.push_back(std::move(r));
  };
  requirement("dpop");
  if (o.bearer_accepted) requirement("bearer");
  return out;
}

ojson derived_operation(const EndpointInput& e) {
  const auto& d = e.descriptor;
  ojson op = ojson::object();
  op["summary"] = endpoint_name(d);
  op["description"] =
      "Derived from the endpoint's descriptor: the service sent no OpenAPI "
      "fragment for it (or one that was left out, see x-stella-warnings).";
  if (d.method == "POST" || d.method == "PUT" || d.method == "PATCH")
    op["requestBody"] = {{"content", {{"*/*", {{"schema", ojson::object()}}}}}};
  op["responses"] = {{"default", {{"description", "The service's answer."}}}};
  return op;
}

// The parameter's (in, name), following one $ref into the service's own components.
std::pair<std::string, std::string> parameter_place(const ojson& p, const Components& own) {
  if (is_ref(p)) {
    const auto ref = p["$ref"].get<std::string>();
    constexpr std::string_view kPrefix = "#/components/parameters/";
    if (!ref.starts_with(kPrefix)) return {};
    const auto it = own.find({"parameters", ref.substr(kPrefix.size())});
    if (it == own.end() || !it->second.contains("in") || !it->second.contains("name")) return {};
    return {it->second["in"].get<std::string>(), it->second["name"].get<std::string>()};
  }
  if (!p.contains("in") || !p.contains("name")) return {};
  return {p["in"].get<std::string>(), p["name"].get<std::string>()};
}

// Path parameters as the OpenAPI path names them: the fragment's are kept when the path has
// them, the others left out; every path parameter not declared is added.
void fix_path_parameters(Context& ctx, const std::string& service, const EndpointInput& e,
                         const OpenApiPath& path, ojson& op, const Components& own) {
  ojson kept = ojson::array();
  std::set<std::string> declared;
  if (op.contains("parameters")) {
    for (auto& p : op["parameters"]) {
      const auto [in, name] = parameter_place(p, own);
      if (in == "path") {
        if (std::find(path.params.begin(), path.params.end(), name) == path.params.end()) {
          warn(ctx, service, endpoint_name(e.descriptor), Reason::invalid_operation,
               "path parameter '" + name + "' is not in " + path.text + "; left out");
          continue;
        }
        if (!declared.insert(name).second) continue;
      }
      kept.push_back(std::move(p));
    }
  }
  for (std::size_t i = 0; i < path.params.size(); ++i)
    if (!declared.contains(path.params[i])) {
      kept.push_back(path_parameter(path.params[i], path.catch_all[i]));
    }
  if (kept.empty()) {
    op.erase("parameters");
  } else {
    op["parameters"] = std::move(kept);
  }
}

// A fragment after parsing and its checks: the operation (when it passes) and its components.
struct ParsedFragment {
  std::optional<json> operation;
  json components;  // the x-stella-components member, checked, or null
};

ParsedFragment parse_fragment(Context& ctx, const std::string& service, const EndpointInput& e) {
  ParsedFragment out;
  const auto& text = e.descriptor.openapi;
  const auto& lim = ctx.options.limits;
  const std::string where = endpoint_name(e.descriptor);
  if (text.empty()) return out;
  if (text.size() > lim.max_fragment_bytes) {
    warn(ctx, service, where, Reason::too_large,
         "the fragment is " + std::to_string(text.size()) + " bytes; the limit is " +
             std::to_string(lim.max_fragment_bytes));
    return out;
  }
  std::string error;
  auto parsed = core::parse_strict_json(text, {lim.max_fragment_bytes, lim.max_depth}, &error);
  if (!parsed) {
    const bool deep = error.find("too deep") != std::string::npos;
    warn(ctx, service, where, deep ? Reason::too_deep : Reason::invalid_json,
         deep ? "nesting deeper than " + std::to_string(lim.max_depth) : error);
    return out;
  }
  if (!parsed->is_object()) {
    warn(ctx, service, where, Reason::invalid_operation, "the fragment is not a JSON object");
    return out;
  }
  if (auto it = parsed->find(kComponentsMember); it != parsed->end()) {
    json components = std::move(*it);
    parsed->erase(it);
    std::string problem;
    if (!components.is_object()) problem = std::string(kComponentsMember) + " must be an object";
    for (const auto& [type, members] : components.items()) {
      if (!problem.empty()) break;
      if (!is_component_type(type)) {
        problem = "unknown component type '" + type + "'";
      } else if (!members.is_object()) {
        problem = type + " must be an object";
      } else {
        for (const auto& [name, v] : members.items()) {
          if (!is_component_name(name)) {
            problem = type + ": '" + name + "' is not a component name";
          } else {
            problem = check_component(type, v, type + "." + name);
          }
          if (!problem.empty()) break;
        }
      }
    }
    if (problem.empty()) {
      out.components = std::move(components);
    } else {
      warn(ctx, service, where, Reason::invalid_components, problem);
    }
  }
  if (parsed->empty()) return out;  // components only: the operation is derived
  if (auto problem = check_operation(*parsed); !problem.empty()) {
    warn(ctx, service, where, Reason::invalid_operation, problem);
    return out;
  }
  out.operation = std::move(*parsed);
  return out;
}

void merge_service(Context& ctx, const ServiceInput& s) {
  const std::string service = utf8(s.name);
  const auto& lim = ctx.options.limits;

  // Endpoints in path order, so that which of two conflicting routes wins does not depend on
  // the order of registration.
  std::vector<const EndpointInput*> endpoints;
  for (const auto& e : s.endpoints)
    endpoints.push_back(&e);
  std::sort(endpoints.begin(), endpoints.end(), [](const auto* a, const auto* b) {
    return std::tie(a->descriptor.path, a->descriptor.method) <
           std::tie(b->descriptor.path, b->descriptor.method);
  });

  // 1. Parse every fragment; gather the components.
  std::vector<ParsedFragment> fragments;
  Components own;
  for (const auto* e : endpoints) {
    fragments.push_back(parse_fragment(ctx, service, *e));
    const json& comps = fragments.back().components;
    if (!comps.is_object()) continue;
    for (const auto& [type, members] : comps.items())
      for (const auto& [name, v] : members.items()) {
        auto it = own.find({type, name});
        if (it != own.end()) {
          if (it->second != v)
            warn(ctx, service, endpoint_name(e->descriptor), Reason::component_conflict,
                 type + "." + name +
                     " differs from the one another endpoint sent; the first "
                     "is kept");
          continue;
        }
        if (own.size() >= lim.max_components) {
          warn(ctx, service, endpoint_name(e->descriptor), Reason::too_many_components,
               type + "." + name + " is over the limit of " + std::to_string(lim.max_components) +
                   " components");
          continue;
        }
        own.emplace(ComponentKey{type, name}, v);
      }
  }

  // 2. Components whose references leave the service go, until none is left that does.
  for (bool removed = true; removed;) {
    removed = false;
    for (auto it = own.begin(); it != own.end();) {
      const auto verdict = first_bad_ref(it->second, own);
      if (!verdict.bad) {
        ++it;
        continue;
      }
      warn(ctx, service, "", *verdict.bad,
           it->first.first + "." + it->first.second + ": $ref '" + verdict.ref + "'");
      it = own.erase(it);
      removed = true;
    }
  }

  // 3. Operations.
  const std::string prefix = namespace_prefix(ctx, service);
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const EndpointInput& e = *endpoints[i];
    const std::string where = endpoint_name(e.descriptor);
    std::string method = e.descriptor.method;
    std::transform(method.begin(), method.end(), method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::find(kPathItemMethods.begin(), kPathItemMethods.end(), method) ==
        kPathItemMethods.end()) {
      warn(ctx, service, where, Reason::unsupported_method,
           "OpenAPI 3.1 has no place for the method " + utf8(e.descriptor.method));
      continue;
    }
    auto path = to_openapi_path(e.descriptor.path);
    if (!path) continue;  // the gateway routes only templates that parse
    auto [shape_it, fresh] = ctx.path_by_shape.emplace(path->shape, path->text);
    if (!fresh && shape_it->second != path->text) {
      // Same shape, other parameter names: the path the document already has names them.
      auto named = to_openapi_path(shape_it->second);
      path->text = named->text;
      path->params = named->params;
      path->catch_all = named->catch_all;
    }
    ojson& item = ctx.paths[path->text];
    if (item.contains(method)) {
      warn(ctx, service, where, Reason::path_conflict,
           "another route is already listed as " + e.descriptor.method + " " + path->text);
      continue;
    }

    ojson op;
    bool from_fragment = false;
    if (auto& fragment = fragments[i].operation) {
      if (const auto verdict = first_bad_ref(*fragment, own); verdict.bad) {
        warn(ctx, service, where, *verdict.bad, "$ref '" + verdict.ref + "'");
      } else {
        op = to_ordered(*fragment);
        from_fragment = true;
        if (op.contains("servers")) {
          // Operation servers would send clients around the gateway.
          warn(ctx, service, where, Reason::invalid_operation,
               "operation servers are not allowed (clients go through the gateway); left out");
          op.erase("servers");
        }
      }
    }
    if (!from_fragment) op = derived_operation(e);
    fix_path_parameters(ctx, service, e, *path, op, own);
    rewrite_refs(op, prefix);

    std::string id;
    if (op.contains("operationId")) id = op["operationId"].get<std::string>();
    if (id.empty()) {
      id = sanitize_identifier(service + "_" + method + "_" + e.descriptor.path);
    } else if (ctx.operation_ids.contains(id)) {
      id = sanitize_identifier(service) + "." + id;
    }
    ojson out = ojson::object();
    out["tags"] = ojson::array({service});
    out["operationId"] = unique_operation_id(ctx, id);
    for (auto& [k, v] : op.items())
      if (k != "tags" && k != "operationId" && k != "security") out[k] = std::move(v);
    if (!out.contains("responses"))
      out["responses"] = {{"default", {{"description", "The service's answer."}}}};
    out["security"] = security_for(ctx, e);
    out["x-stella-service"] = service;
    out["x-stella-service-version"] = utf8(e.service_version);
    out["x-stella-timeout-ms"] = e.timeout_ms;
    out["x-stella-streaming"] = e.descriptor.streaming;
    if (!e.required_claims.empty()) {
      ojson claims = ojson::array();
      for (const auto& c : e.required_claims)
        claims.push_back({{"type", utf8(c.type)}, {"value", utf8(c.value)}});
      out["x-stella-required-claims"] = std::move(claims);
    }
    if (!from_fragment && !e.descriptor.openapi.empty()) out["x-stella-fragment-left-out"] = true;
    item[method] = std::move(out);
  }

  // 4. The service's components, renamed into its namespace.
  for (auto& [key, v] : own) {
    ojson value = to_ordered(v);
    rewrite_refs(value, prefix);
    ctx.components[key.first][prefix + key.second] = std::move(value);
  }
}

ojson security_schemes(const DocumentOptions& o) {
  ojson s = ojson::object();
  s["dpop"] = {{"type", "http"},
               {"scheme", "DPoP"},
               {"description",
                "An access token from the Authority bound to the caller's key (RFC 9449): "
                "Authorization: DPoP <token> and a DPoP proof header for each request."}};
  if (o.auth_enabled && o.bearer_accepted)
    s["bearer"] = {{"type", "http"},
                   {"scheme", "bearer"},
                   {"bearerFormat", "JWT"},
                   {"description",
                    "An access token from the Authority that is not bound to a "
                    "key (the gateway accepts them: "
                    "auth.requireSenderConstrained is false)."}};
  if (!o.issuer.empty()) {
    std::string issuer = o.issuer;
    while (!issuer.empty() && issuer.back() == '/')
      issuer.pop_back();
    s["authority"] = {{"type", "openIdConnect"},
                      {"openIdConnectUrl", issuer + "/.well-known/openid-configuration"},
                      {"description", "The Authority that issues the access tokens."}};
  }
  return s;
}

}  // namespace

std::string_view reason_name(Reason r) noexcept {
  switch (r) {
    case Reason::too_large:
      return "too_large";
    case Reason::too_deep:
      return "too_deep";
    case Reason::invalid_json:
      return "invalid_json";
    case Reason::invalid_operation:
      return "invalid_operation";
    case Reason::invalid_components:
      return "invalid_components";
    case Reason::too_many_components:
      return "too_many_components";
    case Reason::component_conflict:
      return "component_conflict";
    case Reason::external_ref:
      return "external_ref";
    case Reason::dangling_ref:
      return "dangling_ref";
    case Reason::path_conflict:
      return "path_conflict";
    case Reason::unsupported_method:
      return "unsupported_method";
  }
  return "unknown";
}

std::string openapi_path(std::string_view template_text) {
  auto p = to_openapi_path(template_text);
  return p ? p->text : std::string();
}

MergeResult merge(const std::vector<ServiceInput>& services, const DocumentOptions& options) {
  MergeResult result;
  Context ctx{options, result.warnings, {}, {}, {}, {}, {}};

  std::vector<const ServiceInput*> sorted;
  for (const auto& s : services)
    sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });

  ojson tags = ojson::array();
  ojson listed = ojson::array();
  for (const auto* s : sorted) {
    merge_service(ctx, *s);
    const std::string name = utf8(s->name);
    std::string about = name + " " + utf8(s->version) + ", " + std::to_string(s->instances) +
                        (s->instances == 1 ? " instance" : " instances");
    ojson others = ojson::array();
    for (const auto& v : s->other_versions)
      others.push_back(utf8(v));
    if (!others.empty()) {
      about += "; also online:";
      for (const auto& v : others)
        about += " " + v.get<std::string>();
      about += " (operations are shown as " + utf8(s->version) + " describes them)";
    }
    tags.push_back(
        {{"name", name}, {"description", about}, {"x-stella-version", utf8(s->version)}});
    listed.push_back({{"name", name},
                      {"version", utf8(s->version)},
                      {"otherVersions", std::move(others)},
                      {"instances", s->instances}});
  }

  ojson& doc = result.document;
  doc["openapi"] = "3.1.0";
  ojson info = {{"title", utf8(options.title)}, {"version", utf8(options.version)}};
  if (!options.description.empty()) info["description"] = utf8(options.description);
  doc["info"] = std::move(info);
  if (!options.servers.empty()) {
    ojson servers = ojson::array();
    for (const auto& s : options.servers)
      servers.push_back({{"url", utf8(s)}});
    doc["servers"] = std::move(servers);
  }
  doc["tags"] = std::move(tags);
  ojson paths = ojson::object();
  for (auto& [p, item] : ctx.paths)
    if (!item.empty()) paths[p] = std::move(item);
  doc["paths"] = std::move(paths);
  ojson components = ojson::object();
  components["securitySchemes"] = security_schemes(options);
  for (auto type : kComponentTypes) {
    auto it = ctx.components.find(std::string(type));
    if (it != ctx.components.end()) components[std::string(type)] = std::move(it->second);
  }
  doc["components"] = std::move(components);
  doc["x-stella-services"] = std::move(listed);
  ojson warnings = ojson::array();
  for (const auto& w : result.warnings)
    warnings.push_back({{"service", w.service},
                        {"endpoint", w.endpoint},
                        {"reason", reason_name(w.reason)},
                        {"detail", w.detail}});
  doc["x-stella-warnings"] = std::move(warnings);
  return result;
}

std::vector<ServiceInput> services_from_hello_json(const nlohmann::ordered_json& hellos,
                                                   bool honour_anonymous) {
  std::vector<nlohmann::ordered_json> frames;
  if (hellos.is_array()) {
    for (const auto& h : hellos)
      frames.push_back(h);
  } else {
    frames.push_back(hellos);
  }
  std::map<std::string, ServiceInput> by_name;
  std::map<std::string, std::set<std::string>> versions;
  std::map<std::string, std::set<std::pair<std::string, std::string>>> seen;
  for (std::size_t i = 0; i < frames.size(); ++i) {
    auto j = frames[i];
    // An endpoint's fragment may be written as a JSON object rather than its text.
    // Members a hand-written file may leave out take their defaults.
    auto fill = [](nlohmann::ordered_json& o, const char* key, nlohmann::ordered_json v) {
      if (o.is_object() && !o.contains(key)) o[key] = std::move(v);
    };
    if (j.is_object() && j.contains("endpoints") && j["endpoints"].is_array())
      for (auto& e : j["endpoints"]) {
        if (e.is_object() && e.contains("openapi") && e["openapi"].is_object() &&
            !e["openapi"].contains("base64"))
          e["openapi"] = e["openapi"].dump();
        fill(e, "timeout_ms", 0);
        fill(e, "streaming", false);
        fill(e, "required_claims", nlohmann::ordered_json::array());
        fill(e, "openapi", "");
        fill(e, "anonymous", false);
      }
    fill(j, "type", "HELLO");
    fill(j, "stream_id", 0);
    fill(j, "flags", 0);
    fill(j, "version_min", core::kProtocolVersionMin);
    fill(j, "version_max", core::kProtocolVersionMax);
    fill(j, "instance_id", "");
    fill(j, "region", "");
    fill(j, "max_in_flight", 0);
    core::Frame frame;
    std::string error;
    if (!core::frame_from_json(j, frame, error))
      throw std::invalid_argument("HELLO " + std::to_string(i) + ": " + error);
    const auto* hello = std::get_if<core::Hello>(&frame.body);
    if (!hello) throw std::invalid_argument("HELLO " + std::to_string(i) + ": not a HELLO");
    auto& s = by_name[hello->service];
    if (s.name.empty()) {
      s.name = hello->service;
      s.version = hello->service_version;
    }
    versions[hello->service].insert(hello->service_version);
    ++s.instances;
    for (const auto& d : hello->endpoints) {
      if (!seen[hello->service].insert({d.method, d.path}).second) continue;
      EndpointInput e;
      e.descriptor = d;
      e.service_version = hello->service_version;
      e.timeout_ms = d.timeout_ms;
      e.anonymous = honour_anonymous && d.anonymous;
      e.required_claims = d.required_claims;
      s.endpoints.push_back(std::move(e));
    }
  }
  std::vector<ServiceInput> out;
  for (auto& [name, s] : by_name) {
    for (const auto& v : versions[name])
      if (v != s.version) s.other_versions.push_back(v);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace stella::gw::openapi
