#include "stella/gateway/http/outcome.hpp"

#include <array>

namespace stella::gw::http {
namespace {

// In enum order; a static_assert below keeps the two in step.
constexpr std::array<OutcomeInfo, kOutcomeCount> kTable{{
    {0, "", "", "ok", false},
    {0, "", "", "management", false},
    {404, "no-route", "No route", "no_route", false},
    {405, "method-not-allowed", "Method not allowed", "method_not_allowed", false},
    {503, "no-healthy-instance", "Service unavailable", "no_instance", false},
    {503, "unavailable", "Service unavailable", "upstream_not_ready", false},
    {503, "unavailable", "Service unavailable", "shutting_down", true},
    {502, "instance-lost", "Bad gateway", "instance_lost", false},
    {502, "bad-response", "Bad gateway", "upstream_bad_response", false},
    {504, "timeout", "Gateway timeout", "upstream_timeout", false},
    {502, "", "", "upstream_overflow", true},
    {499, "", "", "client_closed", true},
    {413, "payload-too-large", "Payload too large", "body_too_large", true},
    {408, "request-timeout", "Request timeout", "request_timeout", true},
    {400, "bad-request", "Bad request", "bad_request_framing", true},
    {400, "bad-request", "Bad request", "bad_request_path", false},
    {414, "uri-too-long", "URI too long", "uri_too_long", true},
    {431, "headers-too-large", "Request header fields too large", "headers_too_large", true},
    {417, "expectation-failed", "Expectation failed", "expectation_failed", true},
    {505, "http-version-not-supported", "HTTP version not supported", "version_not_supported",
     true},
    {401, "unauthorized", "Unauthorized", "auth_missing", false},
    {401, "unauthorized", "Unauthorized", "auth_invalid", false},
    {403, "forbidden", "Forbidden", "auth_forbidden", false},
    {503, "authority-unavailable", "Service unavailable", "auth_unavailable", false},
    {429, "rate-limited", "Too many requests", "rate_limited", false},
    {500, "internal-error", "Internal error", "internal_error", true},
}};
static_assert(kTable.back().status == 500 && kTable[7].status == 502 && kTable[8].status == 502,
              "the table follows the enum");

}  // namespace

const OutcomeInfo& outcome_info(Outcome o) noexcept {
  const auto i = static_cast<std::size_t>(o);
  return kTable[i < kTable.size() ? i : 0];
}

}  // namespace stella::gw::http
