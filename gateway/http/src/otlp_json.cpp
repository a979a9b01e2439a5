#include "stella/gateway/http/otlp_json.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <type_traits>

namespace stella::gw::http {
namespace {

using json = nlohmann::json;

json any_value(const SpanAttribute& a) {
  return std::visit(
      [](const auto& v) -> json {
        using T = std::decay_t<decltype(v)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return {{"stringValue", v}};
        } else if constexpr (std::is_same_v<T, bool>) {
          return {{"boolValue", v}};
        } else if constexpr (std::is_same_v<T, std::int64_t>) {
          // int64 is a string in the JSON encoding: a JavaScript receiver would round it.
          return {{"intValue", std::to_string(v)}};
        } else {
          // nlohmann writes NaN and infinities as null, which a receiver rejects as the wrong
          // type; the Protobuf JSON mapping spells them as strings.
          if (std::isnan(v)) return {{"doubleValue", "NaN"}};
          if (std::isinf(v)) return {{"doubleValue", v > 0 ? "Infinity" : "-Infinity"}};
          return {{"doubleValue", v}};
        }
      },
      a.value);
}

json span_json(const Span& s) {
  json out = json::object();
  out["traceId"] = to_hex(s.trace_id);
  out["spanId"] = to_hex(s.span_id);
  // An empty bytes field is the absent field; "0000000000000000" would name a parent that
  // does not exist.
  if (!s.is_root()) out["parentSpanId"] = to_hex(s.parent_span_id);
  out["name"] = s.name;
  out["kind"] = static_cast<int>(s.kind);
  out["startTimeUnixNano"] = std::to_string(s.start_unix_nano);
  out["endTimeUnixNano"] = std::to_string(s.end_unix_nano);
  json attributes = json::array();
  for (const auto& a : s.attributes)
    attributes.push_back({{"key", a.key}, {"value", any_value(a)}});
  out["attributes"] = std::move(attributes);
  json status = {{"code", static_cast<int>(s.status)}};
  if (!s.status_message.empty()) status["message"] = s.status_message;
  out["status"] = std::move(status);
  return out;
}

}  // namespace

std::string otlp_json(const std::vector<Span>& spans, std::string_view service_name,
                      std::string_view scope_version) {
  json scope = {{"name", service_name}};
  if (!scope_version.empty()) scope["version"] = scope_version;
  json span_list = json::array();
  for (const auto& s : spans)
    span_list.push_back(span_json(s));

  json service = {{"key", "service.name"}, {"value", {{"stringValue", service_name}}}};
  json scope_spans = {{"scope", std::move(scope)}, {"spans", std::move(span_list)}};
  json resource_spans = {{"resource", {{"attributes", json::array({std::move(service)})}}},
                         {"scopeSpans", json::array({std::move(scope_spans)})}};
  const json body = {{"resourceSpans", json::array({std::move(resource_spans)})}};
  return body.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace stella::gw::http
