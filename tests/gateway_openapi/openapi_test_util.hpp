// Builders and checks shared by the OpenAPI tests.
#pragma once

#include <string>
#include <vector>

#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::openapi::test {

inline EndpointInput endpoint(std::string method, std::string path, std::string fragment = "") {
  EndpointInput e;
  e.descriptor.method = std::move(method);
  e.descriptor.path = std::move(path);
  e.descriptor.openapi = std::move(fragment);
  e.service_version = "1.0.0";
  e.timeout_ms = 30000;
  return e;
}

inline ServiceInput service(std::string name, std::vector<EndpointInput> endpoints) {
  ServiceInput s;
  s.name = std::move(name);
  s.version = "1.0.0";
  s.instances = 1;
  s.endpoints = std::move(endpoints);
  return s;
}

inline bool has_warning(const MergeResult& r, const std::string& endpoint, Reason reason) {
  for (const auto& w : r.warnings)
    if (w.endpoint == endpoint && w.reason == reason) return true;
  return false;
}

/// $refs in `v` that do not name a component of `doc`.
inline std::size_t dangling_refs(const nlohmann::ordered_json& doc,
                                 const nlohmann::ordered_json* v = nullptr) {
  if (!v) v = &doc;
  std::size_t n = 0;
  if (v->is_object()) {
    for (const auto& [k, x] : v->items()) {
      if (k == "$ref" && x.is_string()) {
        const auto ref = x.get<std::string>();
        const std::string prefix = "#/components/";
        bool ok = false;
        if (ref.starts_with(prefix)) {
          const auto rest = ref.substr(prefix.size());
          const auto slash = rest.find('/');
          if (slash != std::string::npos) {
            const auto type = rest.substr(0, slash);
            const auto name = rest.substr(slash + 1, rest.find('/', slash + 1) - slash - 1);
            ok = doc["components"].contains(type) && doc["components"][type].contains(name);
          }
        }
        n += ok ? 0 : 1;
        continue;
      }
      n += dangling_refs(doc, &x);
    }
  } else if (v->is_array()) {
    for (const auto& x : *v)
      n += dangling_refs(doc, &x);
  }
  return n;
}

}  // namespace stella::gw::openapi::test
