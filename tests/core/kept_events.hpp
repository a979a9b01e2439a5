// Test helper: session events kept past the next on_bytes() call. ResponseHead and
// RequestStarted carry views that are valid only until then; keep() copies what they point to
// into storage owned here and points the copy of the event at it, so a test can collect events
// and look at them later.
#pragma once

#include <deque>
#include <variant>

#include "stella/core/frame_view.hpp"
#include "stella/core/gateway_session.hpp"
#include "stella/core/service_session.hpp"

namespace stella::core::test_support {

class KeptViews {
 public:
  GatewayEvent keep(const GatewayEvent& e) {
    GatewayEvent copy = e;
    if (auto* h = std::get_if<gw_event::ResponseHead>(&copy)) h->response = keep(*h->response);
    return copy;
  }
  ServiceEvent keep(const ServiceEvent& e) {
    ServiceEvent copy = e;
    if (auto* r = std::get_if<svc_event::RequestStarted>(&copy)) r->request = keep(*r->request);
    return copy;
  }

 private:
  static void view_headers(const std::vector<Header>& in, std::vector<HeaderView>& out) {
    for (const auto& h : in)
      out.push_back({h.name, h.value});
  }
  const ResponseView* keep(const ResponseView& v) {
    const Response& owned = responses_.emplace_back(v.to_owned());
    ResponseView& view = response_views_.emplace_back();
    view.status = owned.status;
    view_headers(owned.headers, view.headers);
    view.body = owned.body;
    return &view;
  }
  const RequestView* keep(const RequestView& v) {
    const Request& owned = requests_.emplace_back(v.to_owned());
    RequestView& view = request_views_.emplace_back();
    view.method = owned.method;
    view.path = owned.path;
    view.query = owned.query;
    view_headers(owned.headers, view.headers);
    view.body = owned.body;
    view.timeout_ms = owned.timeout_ms;
    view.correlation_id = owned.correlation_id;
    view.tenant = owned.tenant;
    view.subject = owned.subject;
    for (const auto& s : owned.scopes)
      view.scopes.push_back(s);
    for (const auto& c : owned.claims)
      view.claims.push_back({c.type, c.value});
    view.traceparent = owned.traceparent;
    view.tracestate = owned.tracestate;
    view.route = owned.route;
    view.client_id = owned.client_id;
    view.dpop_jkt = owned.dpop_jkt;
    view.cert_thumbprint = owned.cert_thumbprint;
    return &view;
  }

  // Deques: adding an element leaves the others where they are.
  std::deque<Response> responses_;
  std::deque<ResponseView> response_views_;
  std::deque<Request> requests_;
  std::deque<RequestView> request_views_;
};

}  // namespace stella::core::test_support
