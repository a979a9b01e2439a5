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

// callbacks and pathItems are not taken: a Path Item inside a fragment would be a route the
// gateway does not have.
constexpr std::array<std::string_view, 7> kComponentTypes = {
    "schemas", "responses", "parameters", "examples", "requestBodies", "headers", "links"};
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
//
// Every object OpenAPI 3.1's own schema closes (unknown members refused) is checked member by
// member here, so that nothing a service sends can make the merged document invalid. Schema
// Objects (JSON Schema) are passed through: the OpenAPI schema accepts any object or boolean.

using T = json::value_t;
template <std::size_t N>
using Members = std::array<std::pair<std::string_view, T>, N>;

std::string at(std::string_view what, std::string_view member) {
  return std::string(what) + "." + std::string(member);
}

// Unknown members (not x-*) and members of the wrong type (`discarded`: any type).
template <std::size_t N>
std::string check_members(const json& v, std::string_view what, const Members<N>& known) {
  if (!v.is_object()) return std::string(what) + " must be an object";
  for (const auto& [k, x] : v.items()) {
    if (is_extension(k)) continue;
    const auto it =
        std::find_if(known.begin(), known.end(), [&](const auto& kv) { return kv.first == k; });
    if (it == known.end()) return std::string(what) + " has an unknown member '" + k + "'";
    if (it->second != T::discarded && x.type() != it->second)
      return at(what, k) + " has the wrong type";
  }
  return "";
}

template <class J>
bool is_ref(const J& v) {
  return v.is_object() && v.contains("$ref");
}

std::string check_ref(const json& v, std::string_view what) {
  static constexpr Members<3> kRef = {
      {{"$ref", T::string}, {"summary", T::string}, {"description", T::string}}};
  return check_members(v, what, kRef);
}

std::string check_schema(const json& v, std::string_view what) {
  return v.is_object() || v.is_boolean() ? "" : std::string(what) + " must be a schema";
}

// Each member of the map `v` checked by `check` (a Reference Object allowed where `refs`).
std::string check_map(const json& v, std::string_view what,
                      std::string (*check)(const json&, std::string_view), bool refs = true) {
  if (!v.is_object()) return std::string(what) + " must be an object";
  for (const auto& [k, x] : v.items()) {
    const std::string here = std::string(what) + "['" + k + "']";
    auto e = refs && is_ref(x) ? check_ref(x, here) : check(x, here);
    if (!e.empty()) return e;
  }
  return "";
}

std::string check_example(const json& v, std::string_view what) {
  static constexpr Members<4> kExample = {{{"summary", T::string},
                                           {"description", T::string},
                                           {"value", T::discarded},
                                           {"externalValue", T::string}}};
  if (auto e = check_members(v, what, kExample); !e.empty()) return e;
  if (v.contains("value") && v.contains("externalValue"))
    return std::string(what) + " has both value and externalValue";
  return "";
}

std::string check_content(const json& v, std::string_view what);

// What a parameter and a header share: example or examples, and exactly one of schema and
// content (a content map of one entry).
std::string check_value(const json& v, std::string_view what) {
  if (v.contains("example") && v.contains("examples"))
    return std::string(what) + " has both example and examples";
  if (v.contains("examples"))
    if (auto e = check_map(v["examples"], at(what, "examples"), check_example); !e.empty())
      return e;
  if (v.contains("schema") == v.contains("content"))
    return std::string(what) + " needs exactly one of schema and content";
  if (v.contains("schema")) return check_schema(v["schema"], at(what, "schema"));
  if (v["content"].size() != 1) return at(what, "content") + " needs exactly one entry";
  return check_content(v["content"], at(what, "content"));
}

std::string check_header(const json& v, std::string_view what) {
  static constexpr Members<9> kHeader = {{{"description", T::string},
                                          {"required", T::boolean},
                                          {"deprecated", T::boolean},
                                          {"style", T::string},
                                          {"explode", T::boolean},
                                          {"schema", T::discarded},
                                          {"example", T::discarded},
                                          {"examples", T::object},
                                          {"content", T::object}}};
  if (auto e = check_members(v, what, kHeader); !e.empty()) return e;
  if (v.contains("style") && v["style"] != "simple")
    return at(what, "style") + " must be simple for a header";
  return check_value(v, what);
}

std::string check_encoding(const json& v, std::string_view what) {
  static constexpr Members<5> kEncoding = {{{"contentType", T::string},
                                            {"headers", T::object},
                                            {"style", T::string},
                                            {"explode", T::boolean},
                                            {"allowReserved", T::boolean}}};
  if (auto e = check_members(v, what, kEncoding); !e.empty()) return e;
  if (v.contains("style")) {
    const auto st = v["style"].get<std::string>();
    if (st != "form" && st != "spaceDelimited" && st != "pipeDelimited" && st != "deepObject")
      return at(what, "style") + " must be form, spaceDelimited, pipeDelimited or deepObject";
  }
  if (v.contains("headers")) return check_map(v["headers"], at(what, "headers"), check_header);
  return "";
}

std::string check_media_type(const json& media, std::string_view what) {
  static constexpr Members<4> kMedia = {{{"schema", T::discarded},
                                         {"example", T::discarded},
                                         {"examples", T::object},
                                         {"encoding", T::object}}};
  if (auto e = check_members(media, what, kMedia); !e.empty()) return e;
  if (media.contains("example") && media.contains("examples"))
    return std::string(what) + " has both example and examples";
  if (media.contains("schema"))
    if (auto e = check_schema(media["schema"], at(what, "schema")); !e.empty()) return e;
  if (media.contains("examples"))
    if (auto e = check_map(media["examples"], at(what, "examples"), check_example); !e.empty())
      return e;
  if (media.contains("encoding"))
    return check_map(media["encoding"], at(what, "encoding"), check_encoding, false);
  return "";
}

std::string check_content(const json& v, std::string_view what) {
  return check_map(v, what, check_media_type, false);
}

std::string check_link(const json& v, std::string_view what) {
  // No `server`: a link must not send clients around the gateway.
  static constexpr Members<5> kLink = {{{"operationRef", T::string},
                                        {"operationId", T::string},
                                        {"parameters", T::object},
                                        {"requestBody", T::discarded},
                                        {"description", T::string}}};
  if (auto e = check_members(v, what, kLink); !e.empty()) return e;
  if (v.contains("operationRef") && v.contains("operationId"))
    return std::string(what) + " has both operationRef and operationId";
  return "";
}

bool style_fits(std::string_view in, std::string_view style) {
  if (in == "path") return style == "matrix" || style == "label" || style == "simple";
  if (in == "query")
    return style == "form" || style == "spaceDelimited" || style == "pipeDelimited" ||
           style == "deepObject";
  if (in == "header") return style == "simple";
  return style == "form";  // cookie
}

std::string check_parameter(const json& v, std::string_view what) {
  if (is_ref(v)) return check_ref(v, what);
  static constexpr Members<13> kParam = {{{"name", T::string},
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
    return at(what, "in") + " must be query, header, path or cookie";
  if (in == "path" && (!v.contains("required") || !v["required"].get<bool>()))
    return std::string(what) + " is in the path and needs required: true";
  if (v.contains("style") && !style_fits(in, v["style"].get<std::string>()))
    return at(what, "style") + " does not fit a parameter in " + in;
  if (in != "query" && (v.contains("allowEmptyValue") || v.contains("allowReserved")))
    return std::string(what) + ": allowEmptyValue and allowReserved are for query parameters";
  return check_value(v, what);
}

std::string check_request_body(const json& v, std::string_view what) {
  if (is_ref(v)) return check_ref(v, what);
  static constexpr Members<3> kBody = {
      {{"description", T::string}, {"content", T::object}, {"required", T::boolean}}};
  if (auto e = check_members(v, what, kBody); !e.empty()) return e;
  if (!v.contains("content")) return std::string(what) + " needs content";
  return check_content(v["content"], at(what, "content"));
}

std::string check_response(const json& v, std::string_view what) {
  if (is_ref(v)) return check_ref(v, what);
  static constexpr Members<4> kResponse = {{{"description", T::string},
                                            {"headers", T::object},
                                            {"content", T::object},
                                            {"links", T::object}}};
  if (auto e = check_members(v, what, kResponse); !e.empty()) return e;
  if (!v.contains("description")) return std::string(what) + " needs a description";
  if (v.contains("headers"))
    if (auto e = check_map(v["headers"], at(what, "headers"), check_header); !e.empty()) return e;
  if (v.contains("links"))
    if (auto e = check_map(v["links"], at(what, "links"), check_link); !e.empty()) return e;
  if (v.contains("content")) return check_content(v["content"], at(what, "content"));
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
  if (!v.is_object()) return "responses must be an object";
  bool any = false;
  for (const auto& [k, x] : v.items()) {
    if (is_extension(k)) continue;
    if (!is_status_key(k)) return "responses has a key '" + k + "' that is not a status code";
    if (auto e = check_response(x, "responses." + k); !e.empty()) return e;
    any = true;
  }
  return any ? "" : "responses needs at least one status code or default";
}

std::string check_operation(const json& v) {
  static constexpr Members<11> kOperation = {{{"tags", T::array},
                                              {"summary", T::string},
                                              {"description", T::string},
                                              {"externalDocs", T::object},
                                              {"operationId", T::string},
                                              {"parameters", T::array},
                                              {"requestBody", T::discarded},
                                              {"responses", T::discarded},
                                              {"deprecated", T::boolean},
                                              {"security", T::array},
                                              {"servers", T::array}}};
  if (auto e = check_members(v, "operation", kOperation); !e.empty()) return e;
  if (v.contains("externalDocs")) {
    static constexpr Members<2> kDocs = {{{"description", T::string}, {"url", T::string}}};
    if (auto e = check_members(v["externalDocs"], "externalDocs", kDocs); !e.empty()) return e;
    if (!v["externalDocs"].contains("url")) return "externalDocs needs a url";
  }
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
  return "";
}

std::string check_component(std::string_view type, const json& v, const std::string& what) {
  if (type == "schemas") return check_schema(v, what);
  if (type == "responses") return check_response(v, what);
  if (type == "parameters") return check_parameter(v, what);
  if (type == "requestBodies") return check_request_body(v, what);
  if (is_ref(v)) return check_ref(v, what);
  if (type == "examples") return check_example(v, what);
  if (type == "headers") return check_header(v, what);
  return check_link(v, what);  // links
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

// A service lists at most this many warnings (all are counted in MergeResult::rejected): a
// hostile service cannot grow the document, the log or the metrics with them.
constexpr std::size_t kWarningsPerService = 32;

// An operation ready to be placed at its path (phase 2).
struct Prepared {
  std::string service;
  const EndpointInput* endpoint = nullptr;
  std::string method;  // lower case
  struct Path {
    std::string text;   // "/a/{id}/{rest}"
    std::string shape;  // "/a/{}/{}": what OpenAPI cannot tell apart
    bool catch_all = false;
    std::vector<std::string> params;
  } path;
  ojson operation;        // refs rewritten, path parameters named as in `path`
  std::string wanted_id;  // the fragment's operationId, or empty
  bool from_fragment = false;
};

struct Context {
  const DocumentOptions& options;
  MergeResult& result;
  std::map<std::string, std::size_t> warnings_by_service;
  std::set<std::string> prefixes;
  std::vector<Prepared> prepared;
  std::map<std::string, ojson> components;  // "schemas" → {name: value}
};

std::string endpoint_name(const core::EndpointDescriptor& d) {
  return utf8(d.method) + " " + utf8(d.path);
}

void warn(Context& ctx, const std::string& service, std::string endpoint, Reason r,
          std::string detail) {
  ++ctx.result.rejected[static_cast<std::size_t>(r)];
  const std::size_t n = ++ctx.warnings_by_service[service];
  if (n > kWarningsPerService) return;
  ctx.result.warnings.push_back({service, std::move(endpoint), r, utf8(detail)});
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

std::optional<Prepared::Path> to_openapi_path(std::string_view template_text) {
  // The gateway's own limits may be raised (routing.maxTemplateLength): parse generously.
  core::TemplateLimits limits;
  limits.max_length = 1 << 20;
  limits.max_segments = 1 << 16;
  auto parsed = core::PathTemplate::parse(template_text, limits);
  if (!parsed.ok()) return std::nullopt;
  Prepared::Path p;
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
    }
  }
  p.catch_all = parsed.value().has_catch_all();
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

// The parameter's (in, name), following one $ref into the service's own components (names
// as the service wrote them).
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

// Path parameters named as `names` (the path the operation is placed at): a declaration whose
// name is the route's i-th parameter is renamed to names[i] (a referenced one is replaced by
// a plain declaration), one that is not in the template is left out, and every parameter not
// declared is added.
void fix_path_parameters(Context& ctx, const std::string& service, const EndpointInput& e,
                         const Prepared::Path& route, const std::vector<std::string>& names,
                         ojson& op, const Components& own) {
  ojson kept = ojson::array();
  std::set<std::string> declared;
  if (op.contains("parameters")) {
    for (auto& p : op["parameters"]) {
      const auto [in, name] = parameter_place(p, own);
      if (in == "path") {
        const auto it = std::find(route.params.begin(), route.params.end(), name);
        if (it == route.params.end()) {
          warn(ctx, service, endpoint_name(e.descriptor), Reason::invalid_operation,
               "path parameter '" + name + "' is not in " + route.text + "; left out");
          continue;
        }
        const std::string& target = names[static_cast<std::size_t>(it - route.params.begin())];
        if (!declared.insert(target).second) continue;
        if (target != name) {
          if (is_ref(p)) continue;  // added below under the path's name
          p["name"] = target;
        }
      }
      kept.push_back(std::move(p));
    }
  }
  for (std::size_t i = 0; i < names.size(); ++i)
    if (!declared.contains(names[i]))
      kept.push_back(path_parameter(names[i], route.catch_all && i + 1 == names.size()));
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
  // x-stella-* members of an operation are the gateway's to write.
  for (auto it = parsed->begin(); it != parsed->end();)
    it = it.key().starts_with("x-stella-") ? parsed->erase(it) : std::next(it);
  if (parsed->empty()) return out;  // components only: the operation is derived
  if (auto problem = check_operation(*parsed); !problem.empty()) {
    warn(ctx, service, where, Reason::invalid_operation, problem);
    return out;
  }
  out.operation = std::move(*parsed);
  return out;
}

void collect_refs(const json& v, std::vector<const std::string*>& out) {
  if (v.is_object()) {
    for (const auto& [k, x] : v.items()) {
      if (k == "$ref" && x.is_string()) {
        out.push_back(&x.get_ref<const std::string&>());
      } else {
        collect_refs(x, out);
      }
    }
  } else if (v.is_array()) {
    for (const auto& x : v)
      collect_refs(x, out);
  }
}

std::optional<ComponentKey> ref_target(std::string_view ref) {
  constexpr std::string_view kPrefix = "#/components/";
  if (!ref.starts_with(kPrefix)) return std::nullopt;
  ref.remove_prefix(kPrefix.size());
  const auto slash = ref.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  const std::string_view rest = ref.substr(slash + 1);
  return ComponentKey{std::string(ref.substr(0, slash)),
                      std::string(rest.substr(0, rest.find('/')))};
}

// Components whose references leave the service are dropped, and then every component that
// refers to a dropped one: one pass over the references and a worklist (linear in their size).
void drop_components_with_bad_refs(Context& ctx, const std::string& service, Components& own) {
  std::map<ComponentKey, std::vector<ComponentKey>> referenced_by;
  std::vector<std::pair<ComponentKey, std::pair<Reason, std::string>>> work;
  std::vector<const std::string*> refs;
  for (const auto& [key, v] : own) {
    refs.clear();
    collect_refs(v, refs);
    for (const auto* r : refs) {
      if (auto bad = ref_problem(*r, own)) {
        work.push_back({key, {*bad, *r}});
        break;
      }
      if (auto target = ref_target(*r)) referenced_by[*target].push_back(key);
    }
  }
  std::set<ComponentKey> dropped;
  while (!work.empty()) {
    auto [key, why] = std::move(work.back());
    work.pop_back();
    if (!dropped.insert(key).second) continue;
    warn(ctx, service, "", why.first, key.first + "." + key.second + ": $ref '" + why.second + "'");
    const std::string as_ref = "#/components/" + key.first + "/" + key.second;
    for (const auto& d : referenced_by[key])
      if (!dropped.contains(d)) work.push_back({d, {Reason::dangling_ref, as_ref}});
  }
  for (const auto& key : dropped)
    own.erase(key);
}

// Phase 1, per service: fragments parsed and checked, components gathered and renamed into the
// service's namespace, operations prepared with their references rewritten.
void prepare_service(Context& ctx, const ServiceInput& s) {
  const std::string service = utf8(s.name);
  const auto& lim = ctx.options.limits;

  std::vector<const EndpointInput*> endpoints;
  for (const auto& e : s.endpoints)
    endpoints.push_back(&e);
  std::sort(endpoints.begin(), endpoints.end(), [](const auto* a, const auto* b) {
    return std::tie(a->descriptor.path, a->descriptor.method) <
           std::tie(b->descriptor.path, b->descriptor.method);
  });

  std::vector<ParsedFragment> fragments;
  Components own;
  std::size_t over_limit = 0;
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
          ++over_limit;
          continue;
        }
        own.emplace(ComponentKey{type, name}, v);
      }
  }
  if (over_limit > 0)
    warn(ctx, service, "", Reason::too_many_components,
         std::to_string(over_limit) + " components over the limit of " +
             std::to_string(lim.max_components) + " were left out");
  drop_components_with_bad_refs(ctx, service, own);

  const std::string prefix = namespace_prefix(ctx, service);
  for (std::size_t i = 0; i < endpoints.size(); ++i) {
    const EndpointInput& e = *endpoints[i];
    const std::string where = endpoint_name(e.descriptor);
    Prepared p;
    p.service = service;
    p.endpoint = &e;
    p.method = e.descriptor.method;
    std::transform(p.method.begin(), p.method.end(), p.method.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    if (std::find(kPathItemMethods.begin(), kPathItemMethods.end(), p.method) ==
        kPathItemMethods.end()) {
      warn(ctx, service, where, Reason::unsupported_method,
           "OpenAPI 3.1 has no place for the method " + utf8(e.descriptor.method));
      continue;
    }
    auto path = to_openapi_path(e.descriptor.path);
    if (!path) {
      warn(ctx, service, where, Reason::path_conflict, "the template does not parse");
      continue;
    }
    p.path = std::move(*path);
    if (auto& fragment = fragments[i].operation) {
      if (const auto verdict = first_bad_ref(*fragment, own); verdict.bad) {
        warn(ctx, service, where, *verdict.bad, "$ref '" + verdict.ref + "'");
      } else {
        p.operation = to_ordered(*fragment);
        p.from_fragment = true;
        if (p.operation.contains("servers")) {
          // Operation servers would send clients around the gateway.
          warn(ctx, service, where, Reason::invalid_operation,
               "operation servers are not allowed (clients go through the gateway); left out");
          p.operation.erase("servers");
        }
        if (p.operation.contains("operationId"))
          p.wanted_id = p.operation["operationId"].get<std::string>();
      }
    }
    if (!p.from_fragment) p.operation = derived_operation(e);
    // Path parameters against the service's own names; renamed again if placed elsewhere.
    fix_path_parameters(ctx, service, e, p.path, p.path.params, p.operation, own);
    rewrite_refs(p.operation, prefix);
    ctx.prepared.push_back(std::move(p));
  }

  for (auto& [key, v] : own) {
    ojson value = to_ordered(v);
    rewrite_refs(value, prefix);
    ctx.components[key.first][prefix + key.second] = std::move(value);
  }
}

// Phase 2: operation ids, then every operation at its path. Routes that are not catch-alls
// are placed first (the router prefers them too), so a catch-all another service registered
// can neither displace nor rename them; then by path and method.
void place_operations(Context& ctx, std::map<std::string, ojson>& paths) {
  // An id that two services ask for goes to neither: each gets "<service>.<id>", so no service
  // can take another's id by sorting first.
  std::map<std::string, std::set<std::string>> claimants;
  for (const auto& p : ctx.prepared)
    if (!p.wanted_id.empty()) claimants[p.wanted_id].insert(p.service);
  std::set<std::string> ids;
  std::map<std::string, int> next_suffix;
  auto unique = [&](std::string wanted) {
    if (ids.insert(wanted).second) return wanted;
    int& n = next_suffix[wanted];
    if (n < 2) n = 2;
    std::string id;
    do {
      id = wanted + "_" + std::to_string(n++);
    } while (!ids.insert(id).second);
    return id;
  };

  std::vector<Prepared*> order;
  for (auto& p : ctx.prepared)
    order.push_back(&p);
  std::stable_sort(order.begin(), order.end(), [](const Prepared* a, const Prepared* b) {
    return std::tie(a->path.catch_all, a->path.shape, a->method, a->service) <
           std::tie(b->path.catch_all, b->path.shape, b->method, b->service);
  });

  struct Placed {
    std::string text;
    bool catch_all = false;
    std::vector<std::string> params;
  };
  std::map<std::string, Placed> by_shape;
  for (Prepared* p : order) {
    const EndpointInput& e = *p->endpoint;
    const std::string where = endpoint_name(e.descriptor);
    auto [it, fresh] =
        by_shape.emplace(p->path.shape, Placed{p->path.text, p->path.catch_all, p->path.params});
    if (!fresh && it->second.catch_all != p->path.catch_all) {
      warn(ctx, p->service, where, Reason::path_conflict,
           "OpenAPI cannot list a catch-all beside " + it->second.text +
               " (the router takes the more specific route first)");
      continue;
    }
    ojson& item = paths[it->second.text];
    if (item.contains(p->method)) {
      warn(ctx, p->service, where, Reason::path_conflict,
           "another route is already listed as " + e.descriptor.method + " " + it->second.text);
      continue;
    }
    if (it->second.params != p->path.params) {
      // Same shape, other parameter names: the path the document already has names them.
      Components none;
      fix_path_parameters(ctx, p->service, e, p->path, it->second.params, p->operation, none);
    }

    std::string id;
    if (!p->wanted_id.empty()) {
      id = claimants[p->wanted_id].size() > 1 ? sanitize_identifier(p->service) + "." + p->wanted_id
                                              : p->wanted_id;
    } else {
      id = sanitize_identifier(p->service + "_" + p->method + "_" + e.descriptor.path);
    }
    ojson out = ojson::object();
    out["tags"] = ojson::array({p->service});
    out["operationId"] = unique(id);
    for (auto& [k, v] : p->operation.items())
      if (k != "tags" && k != "operationId" && k != "security") out[k] = std::move(v);
    if (!out.contains("responses"))
      out["responses"] = {{"default", {{"description", "The service's answer."}}}};
    out["security"] = security_for(ctx, e);
    out["x-stella-service"] = p->service;
    out["x-stella-service-version"] = utf8(e.service_version);
    out["x-stella-timeout-ms"] = e.timeout_ms;
    out["x-stella-streaming"] = e.descriptor.streaming;
    if (!e.required_claims.empty()) {
      ojson claims = ojson::array();
      for (const auto& c : e.required_claims)
        claims.push_back({{"type", utf8(c.type)}, {"value", utf8(c.value)}});
      out["x-stella-required-claims"] = std::move(claims);
    }
    if (!p->from_fragment && !e.descriptor.openapi.empty())
      out["x-stella-fragment-left-out"] = true;
    item[p->method] = std::move(out);
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
  Context ctx{options, result, {}, {}, {}, {}};

  std::vector<const ServiceInput*> sorted;
  for (const auto& s : services)
    sorted.push_back(&s);
  std::sort(sorted.begin(), sorted.end(),
            [](const auto* a, const auto* b) { return a->name < b->name; });

  ojson tags = ojson::array();
  ojson listed = ojson::array();
  for (const auto* s : sorted) {
    prepare_service(ctx, *s);
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
  std::map<std::string, ojson> placed;
  place_operations(ctx, placed);
  ojson paths = ojson::object();
  for (auto& [p, item] : placed)
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
  for (const auto& [service, n] : ctx.warnings_by_service)
    if (n > kWarningsPerService)
      warnings.push_back({{"service", service},
                          {"endpoint", ""},
                          {"reason", "more"},
                          {"detail", std::to_string(n - kWarningsPerService) +
                                         " more warnings for this service are not listed"}});
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
