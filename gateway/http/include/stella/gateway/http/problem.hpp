// Error responses as RFC 9457 problem details (application/problem+json), one type per cause,
// always with the correlation id so a user can find the request in the logs.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "stella/gateway/http/outcome.hpp"

namespace stella::gw::http {

struct Problem {
  Outcome outcome = Outcome::instance_lost;
  unsigned status = 500;
  std::string_view type;   // slug under https://stella-gw.dev/problems/, e.g. "no-route"
  std::string_view title;  // short, fixed per type
  std::string detail;      // this occurrence
  /// Extra response headers (Allow for 405, Retry-After for 503).
  std::vector<std::pair<std::string, std::string>> headers;
  bool close = false;  // close the connection after answering (framing errors)
};

/// The problem for `o` (status, type, title and close from the outcome table) with `detail`.
Problem make_problem(Outcome o, std::string detail);

/// The JSON body: {"type","title","status","detail","instance","correlationId"}.
std::string problem_json(const Problem& p, std::string_view instance,
                         std::string_view correlation_id);

// The problems the gateway answers with (docs/http.md lists them).
Problem bad_request(std::string_view detail);        // 400 bad-request (closes)
Problem not_found(std::string_view path);            // 404 no-route
Problem method_not_allowed(std::string allow);       // 405 method-not-allowed
Problem request_timeout();                           // 408 request-timeout (closes)
Problem payload_too_large(std::uint64_t limit);      // 413 payload-too-large (closes)
Problem uri_too_long();                              // 414 uri-too-long (closes)
Problem headers_too_large(std::string_view detail);  // 431 headers-too-large (closes)
Problem bad_gateway(std::string_view detail);        // 502 instance-lost
/// 503 no-healthy-instance, Retry-After. `none_connected`: the route is held with no instance.
Problem no_instance(std::string_view service, bool none_connected = false);
Problem unavailable(std::string_view detail);      // 503 unavailable, Retry-After
Problem gateway_timeout(std::string_view detail);  // 504 timeout
/// A HeadParser / ChunkedDecoder error as its problem (400/413/414/417/431/505, closes).
Problem from_http_error(unsigned status, std::string_view reason, std::uint64_t body_limit);

}  // namespace stella::gw::http
