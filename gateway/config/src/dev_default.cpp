#include "config_sections.hpp"
#include "stella/gateway/config/gateway_config.hpp"

namespace stella::gw::config {

GatewayConfig dev_default() {
  using namespace std::chrono_literals;
  GatewayConfig c;
  c.node.region = "local";
  c.node.node_id = "gw-dev";
  c.node.environment = "dev";
  // Loopback only: the dev default has auth off, so it must not be reachable from elsewhere.
  c.http.listen = {"127.0.0.1", 8080};
  c.tcp.enabled = true;
  c.tcp.listen = {"127.0.0.1", 9100};
  c.tls.enabled = false;
  c.tls.listen = {"127.0.0.1", 9443};  // so that enabling it does not open every interface
  c.auth.enabled = false;
  c.rate_limiting.enabled = false;
  // Short beats so a newcomer sees an instance turn Unhealthy within seconds of stopping it.
  c.health.heartbeat_interval = 2s;
  c.health.heartbeat_timeout = 6s;
  // A service that registers shows in /openapi.json and /docs within a second.
  c.openapi.cache_ttl = 1s;
  c.source = "";
  detail::link_sections(c);
  return c;
}

}  // namespace stella::gw::config
