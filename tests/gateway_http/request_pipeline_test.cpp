// The sans-I/O pipeline stages (correlation id, identity header policy, routing) and the
// problem+json body.
#include "stella/gateway/http/request_pipeline.hpp"

#include <gtest/gtest.h>

#include <cctype>
#include <chrono>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "../gateway/route_test_util.hpp"
#include "stella/gateway/http/http_connection.hpp"
#include "stella/gateway/http/problem.hpp"
#include "stella/gateway/routing_state.hpp"

namespace stella::gw::http {
namespace {

using namespace std::chrono_literals;
using testing::ep;
using testing::inst;

// A head whose fields view into the strings given (literals in the tests).
RequestHead head_with(std::vector<HeaderField> fields, std::string_view target = "/",
                      std::string_view method = "GET") {
  RequestHead h;
  h.method = method;
  h.target = target;
  h.fields = std::move(fields);
  h.host = h.field("host");
  return h;
}

std::string frame_header(const ProxyRequest& req, std::string_view name) {
  for (const auto& h : req.frame.headers)
    if (iequals(h.name, name)) return h.value;
  return "<absent>";
}

bool is_hex32(const std::string& id) {
  if (id.size() != 32) return false;
  for (char c : id)
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  return true;
}

// ---- stage 1: correlation id ---------------------------------------------------------------

std::string correlation_of(std::string_view given, std::uint64_t seed = 1) {
  core::Random rng(seed);
  ProxyRequest req;
  assign_correlation_id(head_with({{"X-Correlation-Id", given}}), rng, req);
  return req.correlation_id;
}

TEST(CorrelationId, WellFormedClientIdIsKept) {
  EXPECT_EQ(correlation_of("abc-123"), "abc-123");
  // Each allowed character class on its own.
  for (const char* id : {"abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", "0123456789",
                         ".", "_", ":", "-", "a.b_c:d-E9"})
    EXPECT_EQ(correlation_of(id), id) << id;
}

TEST(CorrelationId, LengthAtTheLimitAndOneOver) {
  const std::string at(128, 'a');
  EXPECT_EQ(correlation_of(at), at);
  const std::string over(129, 'a');
  const std::string replaced = correlation_of(over);
  EXPECT_TRUE(is_hex32(replaced)) << replaced;
}

TEST(CorrelationId, OtherBytesAreReplaced) {
  for (const char* id : {"a b", "a/b", "a+b", "a%20b", "a=b", "a\"b", "a,b", "a;b", "a\tb",
                         "caf\xC3\xA9", "{x}", "a@b", "a\x7F"})
    EXPECT_TRUE(is_hex32(correlation_of(id))) << id;
}

TEST(CorrelationId, AbsentOrEmptyGetsAFreshIdFromTheRng) {
  core::Random rng(42);
  ProxyRequest a, b;
  assign_correlation_id(head_with({}), rng, a);
  assign_correlation_id(head_with({{"x-correlation-id", ""}}), rng, b);
  EXPECT_TRUE(is_hex32(a.correlation_id));
  EXPECT_TRUE(is_hex32(b.correlation_id));
  EXPECT_NE(a.correlation_id, b.correlation_id);
  // Deterministic: the same seed gives the same id.
  EXPECT_EQ(correlation_of("", 42), a.correlation_id);
  EXPECT_NE(correlation_of("", 43), a.correlation_id);
}

TEST(CorrelationId, HeaderNameIsCaseInsensitive) {
  core::Random rng(1);
  ProxyRequest req;
  assign_correlation_id(head_with({{"X-CORRELATION-ID", "Abc"}}), rng, req);
  EXPECT_EQ(req.correlation_id, "Abc");
}

// ---- stage 2: identity header policy -------------------------------------------------------

TEST(IdentityPolicy, EveryGatewayOwnedHeaderIsRecognisedInAnyCase) {
  const char* owned[] = {"Connection",
                         "Keep-Alive",
                         "Proxy-Connection",
                         "TE",
                         "Trailer",
                         "Transfer-Encoding",
                         "Upgrade",
                         "Content-Length",
                         "Forwarded",
                         "X-Real-IP",
                         "X-Correlation-Id",
                         "X-Tenant-Id",
                         "X-Tenant",
                         "X-Subject",
                         "X-User-Id",
                         "X-Scopes",
                         "X-Scope",
                         "X-Client-Id",
                         "X-Claims",
                         "Proxy-Authorization",
                         "X-Original-URL",
                         "X-Forwarded-For",
                         "X-Forwarded-Proto",
                         "X-Forwarded-Host",
                         "X-Forwarded-Port",
                         "X-Forwarded-Anything",
                         "X-Stella-Tenant",
                         "X-Stella-",
                         "x-stella-x",
                         "traceparent",
                         "tracestate",
                         "X-User",
                         "X_User_Id",
                         "x_tenant_id",
                         "X-User-Email",
                         "X-StellaOps-Tenant",
                         "X-Auth-Request-User",
                         "X-Remote-User",
                         "X-SSL-Client-Verify",
                         "X-Client-Cert",
                         "X-Tenant-Name",
                         "X_Forwarded_For",
                         "X-DPoP-Thumbprint",
                         "X-Roles",
                         "Remote-User",
                         "X-Authenticated-Userid",
                         "Ssl-Client-Cert",
                         "X-HTTP-Method-Override",
                         "X_Method_Override",
                         "X-Original-URI",
                         "X-Rewrite-URL"};
  for (std::string name : owned) {
    EXPECT_TRUE(is_gateway_owned(name, "", "X-Stella-")) << name;
    for (auto& c : name)
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_TRUE(is_gateway_owned(name, "", "X-Stella-")) << name;
    for (auto& c : name)
      c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(is_gateway_owned(name, "", "X-Stella-")) << name;
  }
  for (const char* name :
       {"Accept", "Authorization", "Content-Type", "X-Stellar", "X-Stella", "X-Forwarded",
        "X-Tenants", "Host", "Cookie", "X-Users", "X-Userland", "Accept_Language", "X-Request-Id"})
    EXPECT_FALSE(is_gateway_owned(name, "", "X-Stella-")) << name;
}

TEST(IdentityPolicy, NamesListedInConnectionAreOwned) {
  EXPECT_TRUE(is_gateway_owned("X-Hop", "keep-alive, x-hop", "X-Stella-"));
  EXPECT_TRUE(is_gateway_owned("x-hop", "X-HOP", "X-Stella-"));
  EXPECT_TRUE(is_gateway_owned("X-Hop", " \tX-Hop\t ,close", "X-Stella-"));
  EXPECT_FALSE(is_gateway_owned("X-Hop", "X-Hops, X-Ho", "X-Stella-"));
  EXPECT_FALSE(is_gateway_owned("X-Hop", "", "X-Stella-"));
}

TEST(IdentityPolicy, PrefixIsConfigurable) {
  EXPECT_TRUE(is_gateway_owned("x-acme-user", "", "X-Acme-"));
  EXPECT_FALSE(is_gateway_owned("X-Stella-User", "", "X-Acme-"));
  EXPECT_FALSE(is_gateway_owned("X-Anything", "", ""));  // empty prefix: nothing extra
  // Configured additions and exemptions.
  PipelineConfig c;
  c.identity_headers_strip = {"X-Employee-Id", "X-Internal-*"};
  c.identity_headers_allow = {"X-Tenant-Region", "X-Forwarded-Host", "X-User"};
  EXPECT_TRUE(is_gateway_owned("x_employee_id", "", c));
  EXPECT_TRUE(is_gateway_owned("X-Internal-Role", "", c));
  EXPECT_FALSE(is_gateway_owned("X-Internals", "", c));
  EXPECT_FALSE(is_gateway_owned("X-Tenant-Region", "", c));  // allowed out of X-Tenant-*
  EXPECT_TRUE(is_gateway_owned("X-Tenant-Id", "", c));
  EXPECT_TRUE(is_gateway_owned("X-Forwarded-Host", "", c));  // never allowed
  EXPECT_TRUE(is_gateway_owned("X-User", "", c));            // an exact identity name
}

TEST(IdentityPolicy, StripsOwnedHeadersAndSetsForwardedFromTheConnection) {
  const PipelineConfig config;
  const RequestHead head = head_with({
      {"Host", "api.example.com"},
      {"Accept", "application/json"},
      {"connection", "keep-alive, X-Hop"},
      {"X-Hop", "1"},
      {"x-forwarded-for", "6.6.6.6"},
      {"X-Forwarded-Proto", "https"},
      {"X-Forwarded-Host", "evil.example"},
      {"X-Real-Ip", "6.6.6.6"},
      {"X-TENANT-ID", "someone-else"},
      {"x-stella-subject", "root"},
      {"Content-Length", "5"},
      {"Transfer-Encoding", "chunked"},
      {"X-Correlation-Id", "abc"},
      {"traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"},
      {"tracestate", "k=v"},
      {"X-Stellar", "kept"},
  });
  ConnectionFacts conn{"10.1.2.3", false};
  ProxyRequest req;
  apply_identity_policy(config, head, conn, req);
  EXPECT_EQ(req.stripped_headers, 13u);
  std::vector<std::string> names;
  for (const auto& h : req.frame.headers)
    names.push_back(h.name);
  const std::vector<std::string> expected = {
      "Host", "Accept", "X-Stellar", "X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"};
  EXPECT_EQ(names, expected);
  EXPECT_EQ(frame_header(req, "X-Forwarded-For"), "10.1.2.3");
  EXPECT_EQ(frame_header(req, "X-Forwarded-Proto"), "http");
  EXPECT_EQ(frame_header(req, "X-Forwarded-Host"), "api.example.com");
  EXPECT_EQ(frame_header(req, "Accept"), "application/json");
  // The trace-context stage, not the client's headers, fills the frame's trace fields.
  EXPECT_TRUE(req.frame.traceparent.empty());
  EXPECT_TRUE(req.frame.tracestate.empty());
}

// X-Forwarded-For's text: the gateway writes an IPv4 address itself; it must read as Asio's
// (inet_ntop's) text for every byte value in every position.
TEST(IdentityPolicy, PeerAddressTextIsAsiosForEveryByteValue) {
  namespace ip = boost::asio::ip;
  for (unsigned b = 0; b < 256; ++b) {
    const auto c = static_cast<unsigned char>(b);
    for (const ip::address_v4::bytes_type bytes :
         {ip::address_v4::bytes_type{c, 0, 9, 255}, ip::address_v4::bytes_type{10, c, 99, 100},
          ip::address_v4::bytes_type{255, 1, c, 0},
          ip::address_v4::bytes_type{c, c, c, static_cast<unsigned char>(255 - b)}}) {
      const ip::address a{ip::address_v4(bytes)};
      ASSERT_EQ(address_text(a), a.to_string());
    }
  }
  for (const char* v6 : {"::1", "2001:db8::7", "::ffff:10.1.2.3", "fe80::1:2"}) {
    const auto a = ip::make_address(v6);
    EXPECT_EQ(address_text(a), a.to_string());
  }
}

TEST(IdentityPolicy, TlsAndIpv6PeerAndNoHost) {
  const PipelineConfig config;
  const RequestHead head = head_with({{"Accept", "*/*"}, {"X-Forwarded-Proto", "http"}});
  ProxyRequest req;
  apply_identity_policy(config, head, ConnectionFacts{"::1", true}, req);
  EXPECT_EQ(req.stripped_headers, 1u);
  EXPECT_EQ(frame_header(req, "X-Forwarded-For"), "::1");
  EXPECT_EQ(frame_header(req, "X-Forwarded-Proto"), "https");
  EXPECT_EQ(frame_header(req, "X-Forwarded-Host"), "<absent>");  // HTTP/1.0 without Host
  ASSERT_EQ(req.frame.headers.size(), 3u);
}

TEST(IdentityPolicy, CustomPrefixFromConfig) {
  PipelineConfig config;
  config.identity_header_prefix = "X-Acme-";
  const RequestHead head = head_with({{"X-Acme-Role", "admin"}, {"X-Stella-Role", "x"}});
  ProxyRequest req;
  apply_identity_policy(config, head, ConnectionFacts{"127.0.0.1", false}, req);
  EXPECT_EQ(req.stripped_headers, 1u);
  EXPECT_EQ(frame_header(req, "X-Acme-Role"), "<absent>");
  EXPECT_EQ(frame_header(req, "X-Stella-Role"), "x");
}

// ---- stage 6: routing ----------------------------------------------------------------------

class RouteRequest : public ::testing::Test {
 protected:
  RouteRequest() {
    // One instance: GET /items/{id} with its own timeout; POST and DELETE with the default;
    // GET /plain with the default.
    auto r = table_.register_instance(inst(1, "catalog"),
                                      {ep("POST", "/items/{id}"), ep("GET", "/items/{id}", 1500),
                                       ep("DELETE", "/items/{id}"), ep("GET", "/plain")});
    EXPECT_TRUE(r.registered());
    state_ = r.state;
    config_.default_timeout = 7s;
  }

  std::optional<Problem> route(std::string_view method, std::string_view target) {
    head_ = head_with({}, target, method);
    req_.clear();
    req_.correlation_id = "corr-1";
    snapshot_ = table_.snapshot();
    return route_request(config_, head_, *snapshot_, selector_, rng_, scratch_, req_);
  }

  RouteTable table_;
  std::shared_ptr<InstanceState> state_;
  PipelineConfig config_;
  Selector selector_{SelectorSettings{}};
  core::Random rng_{7};
  std::vector<Candidate> scratch_;
  std::shared_ptr<const RouteSnapshot> snapshot_;
  RequestHead head_;
  ProxyRequest req_;
};

TEST_F(RouteRequest, FoundSetsTheFrame) {
  const auto p = route("GET", "/items/./x%41%2a%20y?a=1&b=%2F");
  ASSERT_FALSE(p.has_value()) << p->detail;
  ASSERT_TRUE(req_.pick.has_value());
  EXPECT_EQ(req_.pick->instance->info->service, "catalog");
  EXPECT_EQ(req_.lookup.status, LookupStatus::found);
  EXPECT_EQ(req_.frame.method, "GET");
  EXPECT_EQ(req_.path.path(), "/items/xA* y");
  EXPECT_EQ(req_.frame.path, "/items/xA*%20y");  // normalised, then re-encoded
  EXPECT_EQ(req_.frame.query, "a=1&b=%2F");      // the query is passed as sent
  EXPECT_EQ(req_.frame.route, "/items/{id}");
  EXPECT_EQ(req_.frame.correlation_id, "corr-1");
  EXPECT_EQ(req_.timeout, core::Duration(1500ms));  // the endpoint's own timeout
  EXPECT_EQ(req_.frame.timeout_ms, 1500u);
}

TEST_F(RouteRequest, NoQueryAndTheDefaultTimeout) {
  const auto p = route("DELETE", "/items/9");
  ASSERT_FALSE(p.has_value()) << p->detail;
  EXPECT_EQ(req_.frame.query, "");
  EXPECT_EQ(req_.frame.path, "/items/9");
  EXPECT_EQ(req_.timeout, core::Duration(7s));
  EXPECT_EQ(req_.frame.timeout_ms, 7000u);
  const auto empty_query = route("GET", "/plain?");
  ASSERT_FALSE(empty_query.has_value());
  EXPECT_EQ(req_.frame.query, "");
  EXPECT_EQ(req_.frame.route, "/plain");
  EXPECT_EQ(req_.frame.timeout_ms, 7000u);
}

TEST_F(RouteRequest, UnknownPathIs404) {
  const auto p = route("GET", "/nothing/here?x=1");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 404u);
  EXPECT_EQ(p->type, "no-route");
  EXPECT_NE(p->detail.find("/nothing/here"), std::string::npos);
  EXPECT_FALSE(p->close);
  EXPECT_FALSE(req_.pick.has_value());
}

TEST_F(RouteRequest, OtherMethodIs405WithASortedAllowList) {
  const auto p = route("PUT", "/items/1");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 405u);
  ASSERT_EQ(p->headers.size(), 1u);
  EXPECT_EQ(p->headers[0].first, "Allow");
  EXPECT_EQ(p->headers[0].second, "DELETE, GET, POST");
  EXPECT_FALSE(p->close);
  const auto one = route("POST", "/plain");
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->status, 405u);
  EXPECT_EQ(one->headers.at(0).second, "GET");
}

TEST_F(RouteRequest, RefusedPathShapesAre400) {
  for (const char* target :
       {"/..", "/items/../../x", "/%2e%2E/items/1", "/items/a%2Fb", "/items/a%2fb", "/items/a%5Cb",
        "/items/%00", "/items/a\\b", "/items/%zz", "/items/a%0Ab"}) {
    const auto p = route("GET", target);
    ASSERT_TRUE(p.has_value()) << target;
    EXPECT_EQ(p->status, 400u) << target;
    EXPECT_FALSE(p->close) << target;  // well framed: the connection is kept
    EXPECT_NE(p->detail.find("path refused"), std::string::npos) << p->detail;
  }
  // Dots that stay inside the root are fine.
  EXPECT_FALSE(route("GET", "/x/../items/1").has_value());
}

TEST_F(RouteRequest, AsteriskFormIs400) {
  const auto p = route("OPTIONS", "*");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 400u);
}

TEST_F(RouteRequest, PathLengthAtTheLimitAndOneOver) {
  config_.path_limits.max_length = 16;
  const std::string at = "/items/123456789";
  ASSERT_EQ(at.size(), 16u);
  EXPECT_FALSE(route("GET", at).has_value());
  EXPECT_FALSE(route("GET", at + "?a-long-query-is-not-part-of-the-path").has_value());
  const auto p = route("GET", at + "0");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 414u);
  EXPECT_TRUE(p->close);
}

TEST_F(RouteRequest, OnlyInstanceUnhealthyIs503) {
  state_->set_health(core::HealthStatus::unhealthy);
  const auto p = route("GET", "/items/1");
  ASSERT_TRUE(p.has_value());
  EXPECT_EQ(p->status, 503u);
  EXPECT_EQ(p->type, "no-healthy-instance");
  EXPECT_NE(p->detail.find("catalog"), std::string::npos);
  ASSERT_EQ(p->headers.size(), 1u);
  EXPECT_EQ(p->headers[0].first, "Retry-After");
  EXPECT_FALSE(req_.pick.has_value());
  state_->set_health(core::HealthStatus::healthy);
  EXPECT_FALSE(route("GET", "/items/1").has_value());
}

// ---- problem+json --------------------------------------------------------------------------

TEST(ProblemJson, HasAllSixMembers) {
  const Problem p = not_found("/a/b");
  const std::string body = problem_json(p, "/a/b", "corr-9");
  const auto j = nlohmann::json::parse(body);
  ASSERT_TRUE(j.is_object());
  EXPECT_EQ(j.size(), 6u);
  EXPECT_EQ(j.at("type"), "https://stella-gw.dev/problems/no-route");
  EXPECT_EQ(j.at("title"), "No route");
  EXPECT_EQ(j.at("status"), 404);
  EXPECT_EQ(j.at("detail"), "no route matches /a/b");
  EXPECT_EQ(j.at("instance"), "/a/b");
  EXPECT_EQ(j.at("correlationId"), "corr-9");
  // Members in the documented order.
  EXPECT_LT(body.find("\"type\""), body.find("\"title\""));
  EXPECT_LT(body.find("\"status\""), body.find("\"correlationId\""));
}

TEST(ProblemJson, InvalidUtf8DoesNotThrowAndStaysValidJson) {
  const Problem p = bad_request("bad \xFF\xFE byte and a lone \xC3");
  std::string body;
  EXPECT_NO_THROW(body = problem_json(p, "/caf\xC3(", "id-\x80"));
  nlohmann::json j;
  EXPECT_NO_THROW(j = nlohmann::json::parse(body));
  EXPECT_EQ(j.at("status"), 400);
  EXPECT_EQ(j.at("detail").get<std::string>().rfind("bad ", 0), 0u);
  EXPECT_NE(j.at("detail").get<std::string>().find("\xEF\xBF\xBD"), std::string::npos);  // U+FFFD
  EXPECT_TRUE(j.at("instance").is_string());
  EXPECT_TRUE(j.at("correlationId").is_string());
}

TEST(ProblemJson, ControlBytesAndQuotesAreEscaped) {
  const Problem p = bad_request("a\"b\\c\n\x01");
  const auto j = nlohmann::json::parse(problem_json(p, "", ""));
  EXPECT_EQ(j.at("detail"), "a\"b\\c\n\x01");
}

TEST(ProblemJson, HttpErrorsMapToTheirProblems) {
  struct Case {
    unsigned status;
    std::string_view type;
  };
  for (const Case c : {Case{400, "bad-request"}, Case{413, "payload-too-large"},
                       Case{414, "uri-too-long"}, Case{417, "expectation-failed"},
                       Case{431, "headers-too-large"}, Case{505, "http-version-not-supported"}}) {
    const Problem p = from_http_error(c.status, "why", 1024);
    EXPECT_EQ(p.status, c.status);
    EXPECT_EQ(p.type, c.type);
    EXPECT_TRUE(p.close) << c.status;  // framing errors close the connection
  }
  EXPECT_NE(from_http_error(413, "", 1024).detail.find("1024"), std::string::npos);
  EXPECT_EQ(from_http_error(431, "header field too large", 0).detail, "header field too large");
}

}  // namespace
}  // namespace stella::gw::http
