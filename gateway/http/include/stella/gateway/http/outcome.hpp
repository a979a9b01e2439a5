// How a request ended: one enum, and one table that gives each outcome its HTTP status, its
// RFC 9457 problem type and title, and its metric label (docs/http.md lists them). Every
// answer the gateway makes itself, and every request it forwards, ends in exactly one of these.
#pragma once

#include <cstdint>
#include <string_view>

namespace stella::gw::http {

enum class Outcome : std::uint8_t {
  ok,                     // the service answered (any status it chose, 200–599)
  management,             // answered by the gateway itself (/health/*, /metrics)
  no_route,               // 404
  method_not_allowed,     // 405
  no_instance,            // 503: no healthy instance of the route's service
  upstream_not_ready,     // 503: the chosen instance could not take the request
  shutting_down,          // 503: the gateway is draining
  instance_lost,          // 502: the instance ended the request or disconnected
  upstream_bad_response,  // 502: the instance answered with an invalid status
  upstream_timeout,       // 504 (CANCEL sent)
  upstream_overflow,      // the client read slower than the service sent: stream cut
  client_closed,          // the client left before its answer (CANCEL sent); 499 in logs
  body_too_large,         // 413
  request_timeout,        // 408: head or body not received in time
  bad_request_framing,    // 400: malformed head, smuggling shape, bad chunk
  bad_request_path,       // 400: the path failed normalisation
  uri_too_long,           // 414
  headers_too_large,      // 431
  expectation_failed,     // 417
  version_not_supported,  // 505
  auth_missing,           // 401: no credentials (the authentication stage)
  auth_invalid,           // 401: credentials refused
  auth_forbidden,         // 403: claims or tenant do not allow it
  auth_unavailable,       // 503: no signing keys yet, or the shared replay cache is down (closed)
  rate_limited,           // 429
  internal_error,         // 500: a fault inside the gateway (an exception escaped a step)
};
inline constexpr std::size_t kOutcomeCount = static_cast<std::size_t>(Outcome::internal_error) + 1;

struct OutcomeInfo {
  /// The status the client gets (for ok/management: the one the answer carried; 0 here).
  /// client_closed is 499 and upstream_overflow 502 in logs and metrics: no answer was written,
  /// or it was cut.
  unsigned status;
  std::string_view problem_type;  // slug under https://stella-gw.dev/problems/ ("" when none)
  std::string_view title;         // the problem's title
  std::string_view label;         // metric and log label, e.g. "no_route"
  bool close;                     // the connection closes after the answer (framing errors)
};

/// The table row of `o`. Never fails: every enumerator has a row.
const OutcomeInfo& outcome_info(Outcome o) noexcept;
inline std::string_view outcome_label(Outcome o) noexcept {
  return outcome_info(o).label;
}

}  // namespace stella::gw::http
