#include "stella/gateway/http/problem.hpp"

#include <nlohmann/json.hpp>

namespace stella::gw::http {

std::string problem_json(const Problem& p, std::string_view instance,
                         std::string_view correlation_id) {
  nlohmann::ordered_json j;
  j["type"] = "https://stella-gw.dev/problems/" + std::string(p.type);
  j["title"] = p.title;
  j["status"] = p.status;
  j["detail"] = p.detail;
  // Instance and detail can echo client bytes: dump() with replace keeps invalid UTF-8 from
  // turning into an exception.
  j["instance"] = std::string(instance);
  j["correlationId"] = std::string(correlation_id);
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

namespace {
Problem make(unsigned status, std::string_view type, std::string_view title, std::string detail,
             bool close = false) {
  Problem p;
  p.status = status;
  p.type = type;
  p.title = title;
  p.detail = std::move(detail);
  p.close = close;
  return p;
}
}  // namespace

Problem bad_request(std::string_view detail) {
  return make(400, "bad-request", "Bad request", std::string(detail), true);
}
Problem not_found(std::string_view path) {
  return make(404, "no-route", "No route", "no route matches " + std::string(path));
}
Problem method_not_allowed(std::string allow) {
  auto p =
      make(405, "method-not-allowed", "Method not allowed", "the path is served for: " + allow);
  p.headers.emplace_back("Allow", std::move(allow));
  return p;
}
Problem request_timeout() {
  return make(408, "request-timeout", "Request timeout", "the request was not received in time",
              true);
}
Problem payload_too_large(std::uint64_t limit) {
  return make(
      413, "payload-too-large", "Payload too large",
      "the request body exceeds routing.maxRequestBodySize (" + std::to_string(limit) + " bytes)",
      true);
}
Problem uri_too_long() {
  return make(414, "uri-too-long", "URI too long", "the request line exceeds the limit", true);
}
Problem headers_too_large(std::string_view detail) {
  return make(431, "headers-too-large", "Request header fields too large", std::string(detail),
              true);
}
Problem bad_gateway(std::string_view detail) {
  return make(502, "instance-lost", "Bad gateway", std::string(detail));
}
Problem no_instance(std::string_view service) {
  auto p = make(503, "no-healthy-instance", "Service unavailable",
                "no healthy instance of " + std::string(service));
  p.headers.emplace_back("Retry-After", "1");
  return p;
}
Problem unavailable(std::string_view detail) {
  auto p = make(503, "unavailable", "Service unavailable", std::string(detail));
  p.headers.emplace_back("Retry-After", "1");
  return p;
}
Problem gateway_timeout(std::string_view detail) {
  return make(504, "timeout", "Gateway timeout", std::string(detail));
}

Problem from_http_error(unsigned status, std::string_view reason, std::uint64_t body_limit) {
  switch (status) {
    case 413:
      return payload_too_large(body_limit);
    case 414:
      return uri_too_long();
    case 431:
      return headers_too_large(reason);
    case 417:
      return make(417, "expectation-failed", "Expectation failed", std::string(reason), true);
    case 505:
      return make(505, "http-version-not-supported", "HTTP version not supported",
                  std::string(reason), true);
    default:
      return bad_request(reason);
  }
}

}  // namespace stella::gw::http
