#include "stella/gateway/http/exchange.hpp"

#include "stella/gateway/http/metrics.hpp"

namespace stella::gw::http {

std::string_view Exchange::service() const noexcept {
  return proxy.lookup.route && proxy.lookup.status == LookupStatus::found
             ? std::string_view(proxy.lookup.route->service)
             : std::string_view();
}

std::string_view Exchange::route_template() const noexcept {
  return proxy.lookup.route && proxy.lookup.status == LookupStatus::found
             ? std::string_view(proxy.lookup.route->template_text)
             : kUnmatchedPath;
}

std::string_view Exchange::instance_id() const noexcept {
  return proxy.pick && proxy.pick->instance ? proxy.pick->instance->instance_id
                                            : std::string_view();
}

void Exchange::reset() {
  method.clear();
  http_minor = 1;
  head_request = false;
  keep_alive = true;
  wall_start_unix_nano = 0;
  proxy.clear();
  snapshot.reset();
  identity.clear();
  rate.clear();
  trace = {};
  problem.reset();
  reply.reset();
  response_headers.clear();
  path_normalized = false;
  outcome = Outcome::ok;
  status = 0;
  bytes_in = bytes_out = 0;
  times = {};
  completed = false;
  head_out.clear();
}

}  // namespace stella::gw::http
