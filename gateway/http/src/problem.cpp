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

Problem make_problem(Outcome o, std::string detail) {
  const OutcomeInfo& info = outcome_info(o);
  Problem p;
  p.outcome = o;
  p.status = info.status;
  p.type = info.problem_type;
  p.title = info.title;
  p.detail = std::move(detail);
  p.close = info.close;
  return p;
}

Problem bad_request(std::string_view detail) {
  return make_problem(Outcome::bad_request_framing, std::string(detail));
}
Problem not_found(std::string_view path) {
  return make_problem(Outcome::no_route, "no route matches " + std::string(path));
}
Problem method_not_allowed(std::string allow) {
  auto p = make_problem(Outcome::method_not_allowed, "the path is served for: " + allow);
  p.headers.emplace_back("Allow", std::move(allow));
  return p;
}
Problem request_timeout() {
  return make_problem(Outcome::request_timeout, "the request was not received in time");
}
Problem payload_too_large(std::uint64_t limit) {
  return make_problem(
      Outcome::body_too_large,
      "the request body exceeds routing.maxRequestBodySize (" + std::to_string(limit) + " bytes)");
}
Problem uri_too_long() {
  return make_problem(Outcome::uri_too_long, "the request line exceeds the limit");
}
Problem headers_too_large(std::string_view detail) {
  return make_problem(Outcome::headers_too_large, std::string(detail));
}
Problem bad_gateway(std::string_view detail) {
  return make_problem(Outcome::instance_lost, std::string(detail));
}
Problem no_instance(std::string_view service, bool none_connected) {
  auto p = make_problem(Outcome::no_instance,
                        none_connected ? "no instance of " + std::string(service) +
                                             " is connected; its routes are held for it "
                                             "(routing.ownershipGracePeriod)"
                                       : "no healthy instance of " + std::string(service));
  p.headers.emplace_back("Retry-After", "1");
  return p;
}
Problem unavailable(std::string_view detail) {
  auto p = make_problem(Outcome::upstream_not_ready, std::string(detail));
  p.headers.emplace_back("Retry-After", "1");
  return p;
}
Problem gateway_timeout(std::string_view detail) {
  return make_problem(Outcome::upstream_timeout, std::string(detail));
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
      return make_problem(Outcome::expectation_failed, std::string(reason));
    case 505:
      return make_problem(Outcome::version_not_supported, std::string(reason));
    default:
      return bad_request(reason);
  }
}

}  // namespace stella::gw::http
