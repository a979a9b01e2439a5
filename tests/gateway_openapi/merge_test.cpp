// The merge: derived operations, fragments, namespacing, security, hostile fragments.
#include <gtest/gtest.h>

#include <cstdio>
#include <string>

#include "openapi_test_util.hpp"
#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::openapi {
namespace {

using test::endpoint;
using test::has_warning;
using test::service;

TEST(OpenApiMerge, DerivesOperationsFromDescriptors) {
  auto demo = service(
      "demo", {endpoint("GET", "/api/v1/demo/items/{id}"), endpoint("POST", "/api/v1/demo/echo"),
               endpoint("GET", "/api/v1/demo/files/{*path}")});
  const auto r = merge({demo}, {});
  const auto& doc = r.document;
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_TRUE(r.warnings.empty());
  const auto& get_item = doc["paths"]["/api/v1/demo/items/{id}"]["get"];
  EXPECT_EQ(get_item["tags"][0], "demo");
  EXPECT_EQ(get_item["operationId"], "demo_get_api_v1_demo_items_id");
  ASSERT_EQ(get_item["parameters"].size(), 1u);
  EXPECT_EQ(get_item["parameters"][0]["name"], "id");
  EXPECT_EQ(get_item["parameters"][0]["in"], "path");
  EXPECT_EQ(get_item["parameters"][0]["required"], true);
  EXPECT_EQ(get_item["security"], nlohmann::ordered_json::array());  // auth off
  EXPECT_EQ(get_item["x-stella-timeout-ms"], 30000);
  const auto& files = doc["paths"]["/api/v1/demo/files/{path}"]["get"];
  EXPECT_EQ(files["parameters"][0]["x-stella-catch-all"], true);
  EXPECT_TRUE(doc["paths"]["/api/v1/demo/echo"]["post"].contains("requestBody"));
  // The DPoP scheme is always declared.
  EXPECT_EQ(doc["components"]["securitySchemes"]["dpop"]["scheme"], "DPoP");
  EXPECT_EQ(doc["tags"][0]["name"], "demo");
}

TEST(OpenApiMerge, SecurityFollowsClaimsAndAnonymity) {
  auto secure = endpoint("GET", "/s");
  secure.required_claims = {{"scope", "demo:read"}, {"role", "admin"}};
  auto open = endpoint("GET", "/o");
  open.anonymous = true;
  DocumentOptions o;
  o.auth_enabled = true;
  o.bearer_accepted = false;
  o.issuer = "https://authority.example/";
  const auto r = merge({service("demo", {secure, open})}, o);
  const auto& doc = r.document;
  const auto& sec = doc["paths"]["/s"]["get"]["security"];
  ASSERT_EQ(sec.size(), 1u);
  EXPECT_EQ(sec[0]["dpop"], nlohmann::ordered_json::array());
  EXPECT_EQ(sec[0]["authority"], nlohmann::ordered_json::array({"demo:read"}));
  EXPECT_EQ(doc["paths"]["/s"]["get"]["x-stella-required-claims"][1]["value"], "admin");
  EXPECT_EQ(doc["paths"]["/o"]["get"]["security"], nlohmann::ordered_json::array());
  EXPECT_EQ(doc["components"]["securitySchemes"]["authority"]["openIdConnectUrl"],
            "https://authority.example/.well-known/openid-configuration");
  EXPECT_FALSE(doc["components"]["securitySchemes"].contains("bearer"));
  o.bearer_accepted = true;
  const auto with_bearer = merge({service("demo", {secure})}, o);
  EXPECT_EQ(with_bearer.document["paths"]["/s"]["get"]["security"].size(), 2u);
}

TEST(OpenApiMerge, ComponentsAreNamespacedPerService) {
  const std::string fragment = R"({
    "summary": "Get a scan",
    "responses": {"200": {"description": "the scan", "content": {"application/json":
      {"schema": {"$ref": "#/components/schemas/Scan"}}}}},
    "x-stella-components": {"schemas": {
      "Scan": {"type": "object", "properties": {"parent": {"$ref": "#/components/schemas/Scan"},
                                                "status": {"$ref": "#/components/schemas/Status"}}},
      "Status": {"type": "string"}}}})";
  auto a = service("scanner", {endpoint("GET", "/scans/{id}", fragment)});
  auto b = service("auditor", {endpoint("GET", "/audits/{id}", fragment)});
  const auto r = merge({a, b}, {});
  EXPECT_TRUE(r.warnings.empty()) << r.document["x-stella-warnings"].dump();
  const auto& schemas = r.document["components"]["schemas"];
  EXPECT_TRUE(schemas.contains("scanner.Scan"));
  EXPECT_TRUE(schemas.contains("auditor.Scan"));
  EXPECT_EQ(schemas["scanner.Scan"]["properties"]["parent"]["$ref"],
            "#/components/schemas/scanner.Scan");
  EXPECT_EQ(r.document["paths"]["/audits/{id}"]["get"]["responses"]["200"]["content"]
                      ["application/json"]["schema"]["$ref"],
            "#/components/schemas/auditor.Scan");
  EXPECT_EQ(r.document["paths"]["/scans/{id}"]["get"]["summary"], "Get a scan");
  EXPECT_EQ(test::dangling_refs(r.document), 0u);
}

TEST(OpenApiMerge, HostileFragmentsAreLeftOutWithTheirReason) {
  std::string deep = "{\"x-deep\":" + std::string(10000, '[') + std::string(10000, ']') + "}";
  std::string huge = R"({"summary":")" + std::string(10 * 1024 * 1024, 'a') + "\"}";
  auto svc = service(
      "evil",
      {endpoint("GET", "/huge", huge), endpoint("GET", "/deep", deep),
       endpoint("GET", "/external",
                R"({"responses":{"200":{"$ref":"https://evil.example/r.json"}}})"),
       endpoint("GET", "/file", R"({"responses":{"200":{"$ref":"./r.json#/x"}}})"),
       endpoint("GET", "/dangling",
                R"({"responses":{"200":{"$ref":"#/components/responses/Nope"}}})"),
       endpoint("GET", "/cycle", R"({"responses":{"200":{"description":"ok","content":{"a/b":
                {"schema":{"$ref":"#/components/schemas/A"}}}}},
                "x-stella-components":{"schemas":{"A":{"$ref":"#/components/schemas/B"},
                                                  "B":{"$ref":"#/components/schemas/A"}}}})"),
       endpoint("GET", "/notjson", "{\"summary\": "), endpoint("GET", "/array", "[1,2]"),
       endpoint("GET", "/unknown", R"({"summary":"x","bogus":1})"),
       endpoint("GET", "/servers", R"({"servers":[{"url":"https://evil.example"}]})"),
       // Each of these would make the whole document invalid if it got in.
       endpoint("GET", "/r1", R"({"responses":{"x-a":1}})"),
       endpoint("GET", "/r2",
                R"({"responses":{"200":{"description":"d","headers":{"X":{"foo":1}}}}})"),
       endpoint("GET", "/r3", R"({"externalDocs":{"url":"u","foo":1}})"),
       endpoint("GET", "/r4",
                R"({"parameters":[{"name":"q","in":"query","schema":{},"style":"matrix"}]})"),
       endpoint(
           "GET", "/r5",
           R"({"responses":{"200":{"description":"d","content":{"a/b":{"example":1,"examples":{}}}}}})"),
       endpoint("GET", "/r6", R"({"x-stella-components":{"headers":{"H":{}}}})"),
       endpoint("GET", "/r7", R"({"callbacks":{}})"),
       endpoint(
           "GET", "/r8",
           R"({"responses":{"200":{"description":"d","links":{"l":{"server":{"url":"https://evil"}}}}}})")});
  auto good = service("good", {endpoint("GET", "/fine", R"({"summary":"fine"})")});
  const auto r = merge({svc, good}, {});
  EXPECT_TRUE(has_warning(r, "GET /huge", Reason::too_large));
  EXPECT_TRUE(has_warning(r, "GET /deep", Reason::too_deep));
  EXPECT_TRUE(has_warning(r, "GET /external", Reason::external_ref));
  EXPECT_TRUE(has_warning(r, "GET /file", Reason::external_ref));
  EXPECT_TRUE(has_warning(r, "GET /dangling", Reason::dangling_ref));
  EXPECT_TRUE(has_warning(r, "GET /notjson", Reason::invalid_json));
  EXPECT_TRUE(has_warning(r, "GET /array", Reason::invalid_operation));
  EXPECT_TRUE(has_warning(r, "GET /unknown", Reason::invalid_operation));
  EXPECT_TRUE(has_warning(r, "GET /servers", Reason::invalid_operation));
  EXPECT_FALSE(has_warning(r, "GET /cycle", Reason::dangling_ref));  // cycles are fine
  for (const char* e :
       {"GET /r1", "GET /r2", "GET /r3", "GET /r4", "GET /r5", "GET /r7", "GET /r8"})
    EXPECT_TRUE(has_warning(r, e, Reason::invalid_operation)) << e;
  EXPECT_TRUE(has_warning(r, "GET /r6", Reason::invalid_components));
  const auto& paths = r.document["paths"];
  // Every endpoint is still listed (derived), the good service's fragment is used.
  for (const char* p : {"/huge", "/deep", "/external", "/file", "/dangling", "/cycle", "/notjson",
                        "/array", "/unknown", "/servers", "/fine"})
    EXPECT_TRUE(paths.contains(p)) << p;
  EXPECT_EQ(paths["/huge"]["get"]["x-stella-fragment-left-out"], true);
  EXPECT_FALSE(paths["/servers"]["get"].contains("servers"));
  EXPECT_EQ(paths["/fine"]["get"]["summary"], "fine");
  EXPECT_TRUE(r.document["components"]["schemas"].contains("evil.A"));
  EXPECT_GE(r.document["x-stella-warnings"].size(), 17u);
  EXPECT_EQ(test::dangling_refs(r.document), 0u);
}

TEST(OpenApiMerge, ComponentLimitsAndConflicts) {
  std::string many = R"({"x-stella-components":{"schemas":{)";
  for (int i = 0; i < 5; ++i)
    many += (i ? "," : "") + std::string("\"S") + std::to_string(i) + "\":{}";
  many += "}}}";
  DocumentOptions o;
  o.limits.max_components = 3;
  auto r = merge({service("s", {endpoint("GET", "/a", many)})}, o);
  EXPECT_TRUE(has_warning(r, "", Reason::too_many_components));  // one summary, not one each
  EXPECT_EQ(r.rejected[static_cast<std::size_t>(Reason::too_many_components)], 1u);
  EXPECT_EQ(r.document["components"]["schemas"].size(), 3u);

  auto c1 = endpoint("GET", "/a", R"({"x-stella-components":{"schemas":{"X":{"type":"string"}}}})");
  auto c2 =
      endpoint("GET", "/b", R"({"x-stella-components":{"schemas":{"X":{"type":"integer"}}}})");
  r = merge({service("s", {c1, c2})}, {});
  EXPECT_TRUE(has_warning(r, "GET /b", Reason::component_conflict));
  EXPECT_EQ(r.document["components"]["schemas"]["s.X"]["type"], "string");
}

TEST(OpenApiMerge, OperationIdsAreUniqueAcrossServices) {
  const std::string f = R"({"operationId":"getThing"})";
  const auto r = merge({service("a", {endpoint("GET", "/a", f)}),
                        service("b", {endpoint("GET", "/b", f), endpoint("GET", "/c", f)})},
                       {});
  const auto& p = r.document["paths"];
  // Two services ask for it: neither gets it bare, so sorting first cannot take another's id.
  EXPECT_EQ(p["/a"]["get"]["operationId"], "a.getThing");
  EXPECT_EQ(p["/b"]["get"]["operationId"], "b.getThing");
  EXPECT_EQ(p["/c"]["get"]["operationId"], "b.getThing_2");
  const auto alone =
      merge({service("b", {endpoint("GET", "/b", f), endpoint("GET", "/c", f)})}, {});
  EXPECT_EQ(alone.document["paths"]["/b"]["get"]["operationId"], "getThing");
  EXPECT_EQ(alone.document["paths"]["/c"]["get"]["operationId"], "getThing_2");
}

TEST(OpenApiMerge, ACatchAllCannotDisplaceOrRenameAnotherServicesRoute) {
  const auto r = merge(
      {service("aaa", {endpoint("GET", "/scans/{*rest}"), endpoint("POST", "/scans/{*rest}")}),
       service("scanner", {endpoint("GET", "/scans/{id}"), endpoint("DELETE", "/scans/{id}")})},
      {});
  const auto& item = r.document["paths"]["/scans/{id}"];
  EXPECT_EQ(item["get"]["x-stella-service"], "scanner");
  EXPECT_EQ(item["delete"]["parameters"][0]["name"], "id");
  EXPECT_FALSE(item["delete"]["parameters"][0].contains("x-stella-catch-all"));
  EXPECT_FALSE(item.contains("post"));
  EXPECT_TRUE(has_warning(r, "GET /scans/{*rest}", Reason::path_conflict));
  EXPECT_TRUE(has_warning(r, "POST /scans/{*rest}", Reason::path_conflict));
}

TEST(OpenApiMerge, GatewayExtensionsCannotBeForged) {
  const auto r =
      merge({service("s", {endpoint("GET", "/a", R"({"summary":"x","x-stella-required-claims":
        [{"type":"scope","value":"admin"}],"x-stella-service":"payments","x-custom":1})")})},
            {});
  const auto& op = r.document["paths"]["/a"]["get"];
  EXPECT_FALSE(op.contains("x-stella-required-claims"));
  EXPECT_EQ(op["x-stella-service"], "s");
  EXPECT_EQ(op["x-custom"], 1);
}

TEST(OpenApiMerge, WarningsPerServiceAreCappedButAllCounted) {
  std::vector<EndpointInput> bad;
  for (int i = 0; i < 50; ++i)
    bad.push_back(endpoint("GET", "/e" + std::to_string(i), "not json"));
  const auto r = merge({service("noisy", bad)}, {});
  EXPECT_EQ(r.warnings.size(), 32u);
  EXPECT_EQ(r.rejected[static_cast<std::size_t>(Reason::invalid_json)], 50u);
  const auto& listed = r.document["x-stella-warnings"];
  EXPECT_EQ(listed.size(), 33u);
  EXPECT_EQ(listed.back()["reason"], "more");
}

TEST(OpenApiMerge, LongChainsOfBadReferencesAreDroppedInOnePass) {
  // A000 → A001 → ... → A999 → Missing: every one dropped, each once.
  std::string comps = R"({"x-stella-components":{"schemas":{)";
  for (int i = 0; i < 1000; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "A%03d", i);
    char next[8];
    std::snprintf(next, sizeof next, "A%03d", i + 1);
    comps += (i ? "," : "") + std::string("\"") + name + R"(":{"$ref":"#/components/schemas/)" +
             (i == 999 ? std::string("Missing") : std::string(next)) + "\"}";
  }
  comps += "}}}";
  DocumentOptions o;
  o.limits.max_components = 2000;
  const auto r = merge({service("s", {endpoint("GET", "/a", comps)})}, o);
  EXPECT_EQ(r.rejected[static_cast<std::size_t>(Reason::dangling_ref)], 1000u);
  EXPECT_FALSE(r.document["components"].contains("schemas"));
}

TEST(OpenApiMerge, TemplatesOpenApiCannotTellApartShareOnePath) {
  const auto r =
      merge({service("a", {endpoint("GET", "/x/{id}")}),
             service("b", {endpoint("POST", "/x/{name}"), endpoint("GET", "/x/{*rest}")})},
            {});
  const auto& p = r.document["paths"];
  EXPECT_TRUE(p.contains("/x/{id}"));
  EXPECT_FALSE(p.contains("/x/{name}"));
  EXPECT_EQ(p["/x/{id}"]["post"]["parameters"][0]["name"], "id");
  EXPECT_TRUE(has_warning(r, "GET /x/{*rest}", Reason::path_conflict));
}

TEST(OpenApiMerge, FragmentPathParametersFollowTheTemplate) {
  const auto r = merge({service("a", {endpoint("GET", "/u/{id}", R"({"parameters":[
        {"name":"wrong","in":"path","required":true,"schema":{"type":"string"}},
        {"name":"q","in":"query","schema":{"type":"string"}}]})")})},
                       {});
  const auto& params = r.document["paths"]["/u/{id}"]["get"]["parameters"];
  ASSERT_EQ(params.size(), 2u);
  EXPECT_EQ(params[0]["name"], "q");
  EXPECT_EQ(params[1]["name"], "id");
  EXPECT_TRUE(has_warning(r, "GET /u/{id}", Reason::invalid_operation));
}

TEST(OpenApiMerge, SaysWhichVersionItShows) {
  auto s = service("demo", {endpoint("GET", "/a")});
  s.version = "1.0.0";
  s.other_versions = {"1.1.0"};
  const auto r = merge({s}, {});
  EXPECT_NE(r.document["tags"][0]["description"].get<std::string>().find("also online: 1.1.0"),
            std::string::npos);
  EXPECT_EQ(r.document["x-stella-services"][0]["otherVersions"][0], "1.1.0");
}

TEST(OpenApiMerge, PeerTextThatIsNotUtf8IsReplaced) {
  auto s = service("bad\xff", {endpoint("GET", "/a")});
  const auto r = merge({s}, {});
  EXPECT_NO_THROW((void)r.document.dump());
}

TEST(OpenApiMerge, ServicesFromHelloJson) {
  auto hellos = nlohmann::ordered_json::parse(R"([
    {"service":"scanner","service_version":"1.0.0","instance_id":"s1","region":"eu1",
     "endpoints":[{"method":"GET","path":"/scans/{id}","timeout_ms":5000,"streaming":false,
                   "required_claims":[],"openapi":{"summary":"Get"},"anonymous":true}]},
    {"service":"scanner","service_version":"1.1.0","instance_id":"s2","region":"eu1",
     "endpoints":[]}])");
  const auto services = services_from_hello_json(hellos, true);
  ASSERT_EQ(services.size(), 1u);
  EXPECT_EQ(services[0].instances, 2u);
  EXPECT_EQ(services[0].other_versions, std::vector<std::string>{"1.1.0"});
  ASSERT_EQ(services[0].endpoints.size(), 1u);
  EXPECT_TRUE(services[0].endpoints[0].anonymous);
  EXPECT_EQ(services[0].endpoints[0].descriptor.openapi, R"({"summary":"Get"})");
  EXPECT_THROW(services_from_hello_json(nlohmann::ordered_json::parse(R"({"service":5})"), true),
               std::invalid_argument);
}

}  // namespace
}  // namespace stella::gw::openapi
