// Internal: one reader per configuration section, and the checks that span keys.
#pragma once

#include "config_reader.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config::detail {

/// Most rules in one rate-limiting rule list.
inline constexpr std::size_t kMaxRateLimitRules = 32;

void read_node(MapReader& m, NodeConfig& c);
void read_transports(MapReader& m, TcpTransportConfig& tcp, TlsTransportConfig& tls);
void read_http(MapReader& m, HttpConfig& c);
void read_routing(MapReader& m, RoutingConfig& c);
void read_health(MapReader& m, HealthSettings& c);
void read_auth(MapReader& m, AuthConfig& c);
void read_rate_limiting(MapReader& m, RateLimitConfig& c);
void read_openapi(MapReader& m, OpenApiConfig& c);
void read_telemetry(MapReader& m, TelemetryConfig& c);
std::optional<LogFormat> parse_log_format(std::string_view text);
/// "identity", "tenant", "subject", "client_id", "ip", "header:NAME" (NAME into `header`).
std::optional<RateLimitKey> parse_rate_limit_key(std::string_view text, std::string& header);

/// Copies what one section takes from another (node.region into the selector, the health's
/// initial status into the route table). Run after reading and in dev_default().
void link_sections(GatewayConfig& c);

/// The rules that span keys or need the whole config (docs/configuration.md, "Validation").
/// Errors go to `diag` with the line of the key when it was seen.
void validate_into(const GatewayConfig& c, Diagnostics& diag);

}  // namespace stella::gw::config::detail
