// Properties of the merge over generated services, templates and fragments (valid pieces and
// hostile ones mixed): no dangling $ref, every component inside its service's namespace,
// operationIds unique — and every generated document, as JSON and as YAML, accepted by a real
// OpenAPI 3.1 validator (@seriousme/openapi-schema-validator under node, tools/openapi).
#include <gtest/gtest.h>
#include <rapidcheck.h>
#include <rapidcheck/gtest.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "openapi_test_util.hpp"
#include "stella/gateway/openapi/openapi.hpp"

namespace stella::gw::openapi {
namespace {

using ojson = nlohmann::ordered_json;

// A fragment from pieces: some valid, some that must be refused. `names` are the component
// names the service may define (and reference).
rc::Gen<std::string> gen_fragment() {
  return rc::gen::exec([] {
    const std::vector<std::string> names = {"Scan", "Item", "Status", "Page"};
    ojson op = ojson::object();
    if (*rc::gen::arbitrary<bool>())
      op["summary"] = *rc::gen::element<std::string>("Get it", "200", "on", "1.0", "null", "~",
                                                     "yes: no", "#hash", "é ünïcode", "");
    if (*rc::gen::arbitrary<bool>())
      op["operationId"] = *rc::gen::element<std::string>("get", "list", "getThing", "x.y-z");
    auto ref = [&](const char* type) {
      const int kind = *rc::gen::inRange(0, 10);
      std::string name = *rc::gen::elementOf(names);
      if (kind == 0) return std::string("https://evil.example/x.json");
      if (kind == 1) return std::string("#/definitions/") + name;
      return std::string("#/components/") + type + "/" + name;
    };
    if (*rc::gen::arbitrary<bool>())
      op["parameters"] =
          ojson::array({{{"name", "q"}, {"in", "query"}, {"schema", {{"type", "string"}}}},
                        {{"name", *rc::gen::element<std::string>("id", "other")},
                         {"in", "path"},
                         {"required", true},
                         {"schema", {{"type", "string"}}}}});
    if (*rc::gen::arbitrary<bool>())
      op["requestBody"] = {
          {"content", {{"application/json", {{"schema", {{"$ref", ref("schemas")}}}}}}}};
    if (*rc::gen::arbitrary<bool>())
      op["responses"] = {
          {"200",
           {{"description", "ok"},
            {"content", {{"application/json", {{"schema", {{"$ref", ref("schemas")}}}}}}}}},
          {"4XX", {{"$ref", ref("responses")}}}};
    if (*rc::gen::inRange(0, 8) == 0) op["bogus"] = 1;
    if (*rc::gen::inRange(0, 4) == 0) {
      // Pieces the OpenAPI schema refuses: the merge must leave them out.
      const auto piece = ojson::parse(*rc::gen::element<std::string>(
          R"({"responses":{"x-a":1}})",
          R"({"responses":{"200":{"description":"d","headers":{"X":{"foo":1}}}}})",
          R"({"externalDocs":{"url":"u","foo":1}})",
          R"({"parameters":[{"name":"q","in":"query","schema":{},"style":"matrix"}]})",
          R"({"responses":{"200":{"description":"d","content":{"a/b":{"example":1,"examples":{}}}}}})",
          R"({"x-stella-components":{"headers":{"H":{}}}})", R"({"callbacks":{"c":{}}})",
          R"({"x-stella-required-claims":[{"foo":1}]})",
          R"({"responses":{"200":{"description":"d","links":{"l":{"operationId":"a","operationRef":"b"}}}}})",
          R"({"parameters":[{"name":"h","in":"header","schema":{},"allowReserved":true}]})",
          R"({"summary":"abc﷐d￿"})"));
      for (const auto& [k, v] : piece.items())
        op[k] = v;
    }
    if (*rc::gen::inRange(0, 8) == 0) op["servers"] = ojson::array({{{"url", "https://x"}}});
    if (*rc::gen::arbitrary<bool>()) {
      ojson schemas = ojson::object();
      const int n = *rc::gen::inRange(0, 4);
      for (int i = 0; i < n; ++i) {
        const std::string name = *rc::gen::elementOf(names);
        ojson s = {{"type", "object"}};
        if (*rc::gen::arbitrary<bool>())
          s["properties"] = {{"next", {{"$ref", ref("schemas")}}}};  // cycles welcome
        schemas[name] = s;
      }
      ojson comps = {{"schemas", schemas}};
      if (*rc::gen::arbitrary<bool>())
        comps["responses"] = {{*rc::gen::elementOf(names), {{"description", "an error"}}}};
      op["x-stella-components"] = comps;
    }
    const int mode = *rc::gen::inRange(0, 12);
    if (mode == 0) return std::string();
    if (mode == 1) return std::string("{\"summary\": ");
    if (mode == 2) return std::string(100, '[') + std::string(100, ']');
    return op.dump();
  });
}

rc::Gen<std::string> gen_template() {
  return rc::gen::exec([] {
    const int n = *rc::gen::inRange(0, 4);
    std::string t;
    for (int i = 0; i < n; ++i) {
      const int kind = *rc::gen::inRange(0, 6);
      if (kind == 0 && i == n - 1) {
        t += "/{*rest}";
      } else if (kind <= 2) {
        t += "/{" + *rc::gen::element<std::string>("id", "name", "tenant") + "}";
      } else {
        t += "/" + *rc::gen::element<std::string>("a", "b", "items", "v1");
      }
    }
    return t.empty() ? std::string("/") : t;
  });
}

rc::Gen<ServiceInput> gen_service() {
  return rc::gen::exec([] {
    ServiceInput s;
    s.name = *rc::gen::element<std::string>("demo", "scanner", "a.b", "a_b", "a b", "ünï", "x");
    s.version = *rc::gen::element<std::string>("1.0.0", "2", "on");
    s.instances = *rc::gen::inRange<std::size_t>(1, 4);
    const int n = *rc::gen::inRange(0, 6);
    std::set<std::pair<std::string, std::string>> seen;
    for (int i = 0; i < n; ++i) {
      auto e = test::endpoint(
          *rc::gen::element<std::string>("GET", "POST", "PUT", "DELETE", "PATCH", "PURGE"),
          *gen_template(), *gen_fragment());
      // Templates within one service are distinct in the gateway (the route table refuses
      // duplicates); placeholders renamed make the same shape, which it also refuses.
      auto shape = openapi_path(e.descriptor.path);
      if (!seen.insert({e.descriptor.method, shape}).second) continue;
      e.anonymous = *rc::gen::arbitrary<bool>();
      if (*rc::gen::arbitrary<bool>()) e.required_claims = {{"scope", "things:read"}};
      e.descriptor.streaming = *rc::gen::arbitrary<bool>();
      s.endpoints.push_back(std::move(e));
    }
    return s;
  });
}

std::set<std::string> operation_ids(const ojson& doc) {
  std::set<std::string> ids;
  for (const auto& [path, item] : doc["paths"].items())
    for (const auto& [method, op] : item.items()) {
      const auto id = op["operationId"].get<std::string>();
      RC_ASSERT(ids.insert(id).second);
    }
  return ids;
}

TEST(OpenApiMergeProperty, GeneratedDocumentsAreSoundAndPassTheValidator) {
  const auto dir =
      std::filesystem::temp_directory_path() / ("stella-openapi-" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  int written = 0;
  const auto ok = rc::check("merged documents are sound", [&] {
    // One input per service name, as the gateway groups its routes.
    const auto generated = *rc::gen::container<std::vector<ServiceInput>>(
        *rc::gen::inRange<std::size_t>(0, 5), gen_service());
    std::vector<ServiceInput> services;
    std::set<std::string> names;
    for (const auto& s : generated)
      if (names.insert(s.name).second) services.push_back(s);
    DocumentOptions o;
    o.auth_enabled = *rc::gen::arbitrary<bool>();
    o.bearer_accepted = *rc::gen::arbitrary<bool>();
    if (*rc::gen::arbitrary<bool>()) o.issuer = "https://authority.example";
    o.servers = {"http://127.0.0.1:8080"};
    o.title = *rc::gen::element<std::string>("Stella Ops API", "true", "1.0");
    o.limits.max_components = 6;
    const auto r = merge(services, o);
    RC_ASSERT(test::dangling_refs(r.document) == 0u);
    operation_ids(r.document);
    // Component names live in their service's namespace ("<prefix>.<Name>").
    for (const auto& [type, members] : r.document["components"].items()) {
      if (type == "securitySchemes") continue;
      for (const auto& [name, v] : members.items())
        RC_ASSERT(name.find('.') != std::string::npos);
    }
    RC_ASSERT(r.document["x-stella-warnings"].size() == r.warnings.size());
    const auto base = dir / ("doc-" + std::to_string(written++));
    std::ofstream(base.string() + ".json") << r.document.dump(1);
    std::ofstream(base.string() + ".yaml") << to_yaml(r.document);
  });
  ASSERT_TRUE(ok);
  // A document the validator must refuse: proof that it runs and reads what is written here.
  std::ofstream(dir / "zz-must-fail.json")
      << R"({"openapi":"3.1.0","info":{"title":"t","version":"1"},)"
      << R"("paths":{"/a":{"get":{"bogus":1,"responses":{"200":{"description":"x"}}}}}})";
  // One node process validates every document written above.
  const std::string validator = std::string(STELLA_SOURCE_DIR) + "/tools/openapi/validate.mjs";
  ASSERT_TRUE(std::filesystem::exists(std::string(STELLA_SOURCE_DIR) +
                                      "/tools/openapi/node_modules/@seriousme"))
      << "the validator is not installed: bash scripts/setup.sh";
  const std::string log = (dir / "validator.log").string();
  const std::string cmd = "node '" + validator + "' '" + dir.string() + "' > '" + log + "' 2>&1";
  const int rc = std::system(cmd.c_str());
  std::ifstream in(log);
  const std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(rc, 0);
  EXPECT_NE(out.find("INVALID " + (dir / "zz-must-fail.json").string()), std::string::npos);
  const auto summary =
      std::to_string(2 * written) + " of " + std::to_string(2 * written + 1) + " valid";
  EXPECT_NE(out.find(summary), std::string::npos) << out.substr(0, 20000);
  if (out.find(summary) != std::string::npos && !std::getenv("STELLA_KEEP_OPENAPI_DOCS"))
    std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace stella::gw::openapi
