#include "stella/core/frame_view.hpp"

namespace stella::core {
namespace {

// Resizes `out` to `in` and assigns element by element: the strings of elements that stay keep
// their capacity.
template <class Out, class In, class Assign>
void assign_each(std::vector<Out>& out, const std::vector<In>& in, Assign assign) {
  out.resize(in.size());
  for (std::size_t i = 0; i < in.size(); ++i)
    assign(out[i], in[i]);
}

void assign_headers(std::vector<Header>& out, const std::vector<HeaderView>& in) {
  assign_each(out, in, [](Header& o, const HeaderView& v) {
    o.name.assign(v.name);
    o.value.assign(v.value);
  });
}

}  // namespace

void RequestView::clear() noexcept {
  std::vector<HeaderView> h = std::move(headers);
  std::vector<std::string_view> s = std::move(scopes);
  std::vector<ClaimView> c = std::move(claims);
  h.clear();
  s.clear();
  c.clear();
  *this = RequestView{};
  headers = std::move(h);
  scopes = std::move(s);
  claims = std::move(c);
}

Request RequestView::to_owned() const {
  Request r;
  assign_to(r);
  return r;
}

void RequestView::assign_to(Request& r) const {
  r.method.assign(method);
  r.path.assign(path);
  r.query.assign(query);
  assign_headers(r.headers, headers);
  r.body.assign(body);
  r.timeout_ms = timeout_ms;
  r.correlation_id.assign(correlation_id);
  r.tenant.assign(tenant);
  r.subject.assign(subject);
  assign_each(r.scopes, scopes, [](std::string& o, std::string_view v) { o.assign(v); });
  assign_each(r.claims, claims, [](Claim& o, const ClaimView& v) {
    o.type.assign(v.type);
    o.value.assign(v.value);
  });
  r.traceparent.assign(traceparent);
  r.tracestate.assign(tracestate);
  r.route.assign(route);
  r.client_id.assign(client_id);
  r.dpop_jkt.assign(dpop_jkt);
  r.cert_thumbprint.assign(cert_thumbprint);
}

void ResponseView::clear() noexcept {
  std::vector<HeaderView> h = std::move(headers);
  h.clear();
  *this = ResponseView{};
  headers = std::move(h);
}

Response ResponseView::to_owned() const {
  Response r;
  assign_to(r);
  return r;
}

void ResponseView::assign_to(Response& out) const {
  out.status = status;
  assign_headers(out.headers, headers);
  out.body.assign(body);
}

}  // namespace stella::core
