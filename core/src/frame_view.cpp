#include "stella/core/frame_view.hpp"

namespace stella::core {
namespace {

std::vector<Header> own(const std::vector<HeaderView>& in) {
  std::vector<Header> out;
  out.reserve(in.size());
  for (const auto& h : in)
    out.push_back({std::string(h.name), std::string(h.value)});
  return out;
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
  r.method = method;
  r.path = path;
  r.query = query;
  r.headers = own(headers);
  r.body = body;
  r.timeout_ms = timeout_ms;
  r.correlation_id = correlation_id;
  r.tenant = tenant;
  r.subject = subject;
  r.scopes.assign(scopes.begin(), scopes.end());
  r.claims.reserve(claims.size());
  for (const auto& c : claims)
    r.claims.push_back({std::string(c.type), std::string(c.value)});
  r.traceparent = traceparent;
  r.tracestate = tracestate;
  r.route = route;
  r.client_id = client_id;
  r.dpop_jkt = dpop_jkt;
  r.cert_thumbprint = cert_thumbprint;
  return r;
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
  out.headers.resize(headers.size());
  for (std::size_t i = 0; i < headers.size(); ++i) {
    out.headers[i].name.assign(headers[i].name);
    out.headers[i].value.assign(headers[i].value);
  }
  out.body.assign(body);
}

}  // namespace stella::core
