// OpenAPI aggregation end to end: the real gateway and demo services; the document through the
// real OpenAPI 3.1 validator (node), /openapi.yaml read back by PyYAML, ETag and 304, rebuilds
// as services come and go, the offline merge, and /docs rendered by headless Chromium.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <set>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

const std::string kSource = STELLA_SOURCE_DIR;

// cacheTtlSeconds 0: every change of the routes shows at the next request.
std::string openapi_config(const std::string& extra = "") {
  return test_config() + "openapi:\n  cacheTtlSeconds: 0\n  ui:\n    assetsDir: " + kSource +
         "/tools/openapi/node_modules/swagger-ui-dist\n" + extra;
}

std::pair<int, std::string> validate(const std::filesystem::path& file) {
  return shell("node " + kSource + "/tools/openapi/validate.mjs '" + file.string() + "' 2>&1");
}

TEST(OpenApi, TheDemoDocumentIsValidJsonAndYamlWithEtags) {
  GatewayRun gw(openapi_config());
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-oa");
  ASSERT_TRUE(gw.wait_instances(1));
  std::optional<HttpResponse> json;
  ASSERT_TRUE(eventually([&] {
    json = http_exchange(gw.http(), get("/openapi.json"));
    return json && json->body.find("getEcho") != std::string::npos;
  }));
  EXPECT_EQ(json->status, 200);
  EXPECT_EQ(json->headers["content-type"], "application/json");
  EXPECT_EQ(json->headers["cache-control"], "max-age=0");
  const std::string etag = json->headers["etag"];
  EXPECT_TRUE(std::regex_match(etag, std::regex("\"[0-9a-f]{32}\""))) << etag;
  const auto doc = nlohmann::json::parse(json->body);
  EXPECT_EQ(doc["openapi"], "3.1.0");
  EXPECT_EQ(doc["paths"]["/api/v1/demo/echo"]["get"]["operationId"], "getEcho");
  EXPECT_EQ(doc["paths"]["/api/v1/demo/files/{path}"]["get"]["parameters"][0]["x-stella-catch-all"],
            true);
  EXPECT_TRUE(doc["components"]["schemas"].contains("demo.Echo"));
  EXPECT_EQ(doc["components"]["securitySchemes"]["dpop"]["scheme"], "DPoP");
  EXPECT_EQ(doc["x-stella-warnings"].size(), 0u) << doc["x-stella-warnings"].dump();

  // The real validator, on the JSON and on the YAML; the YAML read back by PyYAML is the JSON.
  std::ofstream(gw.dir() / "doc.json") << json->body;
  auto yaml = http_exchange(gw.http(), get("/openapi.yaml"));
  ASSERT_TRUE(yaml);
  EXPECT_EQ(yaml->status, 200);
  EXPECT_EQ(yaml->headers["content-type"], "application/yaml");
  EXPECT_NE(yaml->headers["etag"], etag);
  std::ofstream(gw.dir() / "doc.yaml") << yaml->body;
  for (const char* f : {"doc.json", "doc.yaml"}) {
    const auto [rc, out] = validate(gw.dir() / f);
    EXPECT_EQ(rc, 0) << f << ": " << out;
    EXPECT_NE(out.find("1 of 1 valid"), std::string::npos) << out;
  }
  const auto [same, why] = shell(
      "/usr/bin/python3 -c 'import json,sys,yaml; "
      "sys.exit(0 if yaml.safe_load(open(sys.argv[1])) == json.load(open(sys.argv[2])) else 1)' " +
      (gw.dir() / "doc.yaml").string() + " " + (gw.dir() / "doc.json").string() + " 2>&1");
  EXPECT_EQ(same, 0) << why;

  // Conditional requests: the same ETag (strong or weak form, in a list) is 304 without a body.
  for (const std::string& tag : {etag, "W/" + etag, "\"other\", " + etag, std::string("*")}) {
    auto again = http_exchange(gw.http(), get("/openapi.json", "If-None-Match: " + tag + "\r\n"));
    ASSERT_TRUE(again);
    EXPECT_EQ(again->status, 304) << tag;
    EXPECT_TRUE(again->body.empty());
    EXPECT_EQ(again->headers["etag"], etag);
    EXPECT_EQ(again->headers.count("content-type"), 0u);
  }
  // If-None-Match over two field lines is one list.
  auto split = http_exchange(
      gw.http(), get("/openapi.json", "If-None-Match: \"a\"\r\nIf-None-Match: " + etag + "\r\n"));
  ASSERT_TRUE(split);
  EXPECT_EQ(split->status, 304);
  auto other = http_exchange(gw.http(), get("/openapi.json", "If-None-Match: \"nope\"\r\n"));
  ASSERT_TRUE(other);
  EXPECT_EQ(other->status, 200);
  EXPECT_EQ(other->body, json->body);  // nothing changed: the same bytes
  // HEAD: the GET's length, no body.
  Client c(gw.http());
  ASSERT_TRUE(c.send("HEAD /openapi.json HTTP/1.1\r\nHost: x\r\n\r\n"));
  const auto head_bytes = c.read_until(
      [](const std::string& b) { return b.find("\r\n\r\n") != std::string::npos; }, 5s);
  auto head = parse_response(head_bytes, true);
  ASSERT_TRUE(head);
  EXPECT_EQ(head->headers["content-length"], std::to_string(json->body.size()));

  // One service's document; an unknown service is 404.
  auto one = http_exchange(gw.http(), get("/openapi/demo.json"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->status, 200);
  EXPECT_EQ(nlohmann::json::parse(one->body)["tags"][0]["name"], "demo");
  auto none = http_exchange(gw.http(), get("/openapi/nope.json"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->status, 404);
  // Not a management method.
  auto post = http_exchange(gw.http(),
                            "POST /openapi.json HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  ASSERT_TRUE(post);
  EXPECT_EQ(post->status, 405);
}

TEST(OpenApi, RebuiltWhenAServiceRegistersAndWhenItLeaves) {
  GatewayRun gw(openapi_config());
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-1");
  ASSERT_TRUE(gw.wait_instances(1));
  auto first = http_exchange(gw.http(), get("/openapi.json"));
  ASSERT_TRUE(first);
  ASSERT_EQ(first->body.find("/api/v1/inventory/echo"), std::string::npos);
  const auto inventory = gw.start_process(
      {"service", "demo", "--gateway", "tcp://127.0.0.1:" + std::to_string(gw.tcp()), "--name",
       "inventory", "--service-version", "2.1.0", "--path-prefix", "/api/v1/inventory"},
      "inventory");
  std::optional<HttpResponse> second;
  ASSERT_TRUE(eventually([&] {
    second = http_exchange(gw.http(), get("/openapi.json"));
    return second && second->body.find("/api/v1/inventory/echo") != std::string::npos;
  })) << gw.gateway_log();
  EXPECT_NE(second->headers["etag"], first->headers["etag"]);
  const auto doc = nlohmann::json::parse(second->body);
  std::set<std::string> tags;
  for (const auto& t : doc["tags"])
    tags.insert(t["name"].get<std::string>());
  EXPECT_EQ(tags, (std::set<std::string>{"demo", "inventory"}));
  // Both describe an Echo schema: each in its own namespace; operationIds stay unique.
  EXPECT_TRUE(doc["components"]["schemas"].contains("demo.Echo"));
  EXPECT_TRUE(doc["components"]["schemas"].contains("inventory.Echo"));
  EXPECT_EQ(doc["paths"]["/api/v1/inventory/echo"]["get"]["operationId"], "inventory.getEcho");
  EXPECT_EQ(doc["paths"]["/api/v1/inventory/echo"]["get"]["x-stella-service-version"], "2.1.0");
  std::ofstream(gw.dir() / "two.json") << second->body;
  const auto [rc, out] = validate(gw.dir() / "two.json");
  EXPECT_EQ(rc, 0) << out;
  // The service dies: its routes are held for their owner, and a held route is not listed.
  gw.service(inventory).signal(SIGKILL);
  EXPECT_TRUE(eventually([&] {
    auto r = http_exchange(gw.http(), get("/openapi.json"));
    return r && r->body.find("/api/v1/inventory/") == std::string::npos &&
           r->body.find("getEcho") != std::string::npos;
  })) << gw.gateway_log();
  const std::regex rebuilds("\ngateway_openapi_rebuilds_total (\\d+)\n");
  EXPECT_TRUE(eventually([&] {
    auto r = http_exchange(gw.http(), get("/metrics"));
    std::smatch m;
    return r && std::regex_search(r->body, m, rebuilds) && std::stoi(m[1]) >= 3 &&
           r->body.find("gateway_openapi_fragments_rejected{reason=\"external_ref\"} 0") !=
               std::string::npos;
  }));
}

TEST(OpenApi, DocsPageRendersTheOperationsInHeadlessChromium) {
  GatewayRun gw(openapi_config());
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-docs");
  ASSERT_TRUE(gw.wait_instances(1));
  auto page = http_exchange(gw.http(), get("/docs"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->headers["content-type"], "text/html; charset=utf-8");
  // Every file the page references answers 200; others 404; /docs/ moves to /docs.
  const std::regex ref("(?:src|href)=\"(docs/[^\"]+)\"");
  int refs = 0;
  for (auto it = std::sregex_iterator(page->body.begin(), page->body.end(), ref);
       it != std::sregex_iterator(); ++it, ++refs) {
    auto asset = http_exchange(gw.http(), get("/" + (*it)[1].str()));
    ASSERT_TRUE(asset);
    EXPECT_EQ(asset->status, 200) << (*it)[1];
  }
  EXPECT_GE(refs, 4);
  // Other /docs/... paths are not the gateway's: routed (here to no route).
  auto missing = http_exchange(gw.http(), get("/docs/nope.js"));
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_NE(missing->body.find("problems/no-route"), std::string::npos) << missing->body;
  auto traversal = http_exchange(gw.http(), get("/docs/../../etc/passwd"));
  ASSERT_TRUE(traversal);
  EXPECT_NE(traversal->status, 200);
  auto slash = http_exchange(gw.http(), get("/docs/"));
  ASSERT_TRUE(slash);
  EXPECT_EQ(slash->status, 308);

  // The browser: the page's JavaScript fetches openapi.json and lists the operations.
  const auto profile = gw.dir() / "chromium-profile";
  const auto [rc, dom] = shell(
      "timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run "
      "--disable-background-networking --disable-component-update --disable-sync "
      "--user-data-dir=" +
      profile.string() + " --virtual-time-budget=15000 --dump-dom http://127.0.0.1:" +
      std::to_string(gw.http()) + "/docs 2>/dev/null");
  EXPECT_EQ(rc, 0);
  for (const char* id : {"getEcho", "postEcho", "getSlow", "getStream", "getBytes", "getStatus",
                         "getSpecialItem", "getItem", "getFile", "getSecure", "getTenantEcho"})
    EXPECT_NE(dom.find(std::string(">") + id + "<"), std::string::npos) << id;
  EXPECT_NE(dom.find("demo.Echo"), std::string::npos);
}

TEST(OpenApi, WithTheDefaultTtlTheFirstServiceShowsAtOnceAndLaterChangesWait) {
  GatewayRun gw(test_config());  // cacheTtlSeconds: 300
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  auto empty = http_exchange(gw.http(), get("/openapi.json"));
  ASSERT_TRUE(empty);
  EXPECT_EQ(empty->body.find("getEcho"), std::string::npos);
  EXPECT_EQ(empty->headers["cache-control"], "max-age=300");
  gw.start_service("demo-ttl");
  ASSERT_TRUE(gw.wait_instances(1));
  // The startup document listed no service: the first registration replaces it at once.
  EXPECT_TRUE(eventually([&] {
    auto r = http_exchange(gw.http(), get("/openapi.json"));
    return r && r->body.find("getEcho") != std::string::npos;
  }));
  // A second service within the TTL waits for it: the document is the cached one.
  gw.start_process({"service", "demo", "--gateway", "tcp://127.0.0.1:" + std::to_string(gw.tcp()),
                    "--name", "inventory", "--path-prefix", "/api/v1/inventory"},
                   "inventory");
  ASSERT_TRUE(gw.wait_instances(2));
  auto cached = http_exchange(gw.http(), get("/openapi.json"));
  ASSERT_TRUE(cached);
  EXPECT_EQ(cached->body.find("/api/v1/inventory/"), std::string::npos);
}

TEST(OpenApi, DocsWithoutTheirFilesAnswer503AndTheGatewaySaysWhy) {
  GatewayRun gw(test_config() + "openapi:\n  ui:\n    assetsDir: /nonexistent/swagger\n");
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  EXPECT_TRUE(eventually([&] { return gw.gateway().log_contains("/nonexistent/swagger"); }));
  auto page = http_exchange(gw.http(), get("/docs"));
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 503);
  EXPECT_NE(page->body.find("docs-unavailable"), std::string::npos) << page->body;
  auto doc = http_exchange(gw.http(), get("/openapi.json"));  // the document does not need them
  ASSERT_TRUE(doc);
  EXPECT_EQ(doc->status, 200);
}

TEST(OpenApi, OffMeansTheirPathsAreRoutedLikeAnyOther) {
  GatewayRun gw(test_config() + "openapi:\n  enabled: false\n");
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  for (const char* p : {"/openapi.json", "/openapi.yaml", "/docs"}) {
    auto r = http_exchange(gw.http(), get(p));
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 404) << p;
    EXPECT_NE(r->body.find("problems/no-route"), std::string::npos) << r->body;
  }
}

TEST(OpenApi, OfflineMergeReportsWhatItLeavesOut) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("stella-oa-merge-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "hello.json") << R"({"service":"scanner","service_version":"1.0.0",
    "endpoints":[
      {"method":"GET","path":"/scans/{id}","openapi":{"operationId":"getScan","responses":
        {"200":{"description":"ok","content":{"application/json":
          {"schema":{"$ref":"#/components/schemas/Scan"}}}}},
        "x-stella-components":{"schemas":{"Scan":{"type":"object"}}}}},
      {"method":"GET","path":"/evil","openapi":{"responses":
        {"200":{"$ref":"https://evil.example/r.json"}}}}]})";
  const std::string gw = STELLA_GW_BINARY;
  const auto [rc, out] =
      shell(gw + " openapi merge " + (dir / "hello.json").string() + " 2>" +
            (dir / "err.txt").string() + " >" + (dir / "doc.json").string() + "; echo $?");
  EXPECT_EQ(out, "0\n");
  const std::string err = slurp(dir / "err.txt");
  EXPECT_NE(err.find("scanner GET /evil: external_ref"), std::string::npos) << err;
  const auto doc = nlohmann::json::parse(slurp(dir / "doc.json"));
  EXPECT_EQ(doc["paths"]["/scans/{id}"]["get"]["responses"]["200"]["content"]["application/json"]
               ["schema"]["$ref"],
            "#/components/schemas/scanner.Scan");
  const auto [vrc, vout] = validate(dir / "doc.json");
  EXPECT_EQ(vrc, 0) << vout;
  const auto strict = shell(gw + " openapi merge --strict --format yaml " +
                            (dir / "hello.json").string() + " >/dev/null 2>&1; echo $?");
  EXPECT_EQ(strict.second, "1\n");
  const auto unreadable =
      shell(gw + " openapi merge " + (dir / "nope.json").string() + " 2>&1; echo $?");
  EXPECT_NE(unreadable.second.find("cannot read"), std::string::npos);
  EXPECT_NE(unreadable.second.find("\n2\n"), std::string::npos) << unreadable.second;
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stella::e2e
