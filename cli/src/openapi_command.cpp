#include "openapi_command.hpp"

#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>

#include "stella/core/text.hpp"
#include "stella/gateway/openapi/openapi.hpp"

namespace stella::cli {

namespace {

struct MergeOptions {
  std::vector<std::string> files;
  std::string format = "json";
  std::string title = "Stella Ops API";
  std::string version = "1.0.0";
  std::vector<std::string> servers;
  bool auth = false;
  std::string issuer;
  bool strict = false;
};

int run_merge(const MergeOptions& o) {
  namespace oa = gw::openapi;
  std::vector<oa::ServiceInput> services;
  for (const auto& file : o.files) {
    std::ifstream in(file, std::ios::binary);
    if (!in) {
      std::cerr << file << ": cannot read\n";
      return 2;
    }
    std::ostringstream text;
    text << in.rdbuf();
    auto j = nlohmann::ordered_json::parse(text.str(), nullptr, false);
    if (j.is_discarded()) {
      std::cerr << file << ": not JSON (a HELLO as `stella-gw frame decode --json` prints it)\n";
      return 2;
    }
    try {
      for (auto& s : oa::services_from_hello_json(j, true)) {
        for (const auto& have : services)
          if (have.name == s.name) {
            std::cerr << file << ": service '" << core::printable(s.name)
                      << "' is in another file too; put its instances in one file\n";
            return 2;
          }
        services.push_back(std::move(s));
      }
    } catch (const std::invalid_argument& e) {
      std::cerr << file << ": " << e.what() << "\n";
      return 2;
    }
  }
  oa::DocumentOptions d;
  d.title = o.title;
  d.version = o.version;
  d.servers = o.servers;
  d.auth_enabled = o.auth;
  d.issuer = o.issuer;
  const auto r = oa::merge(services, d);
  for (const auto& w : r.warnings)
    std::cerr << "warning: " << core::printable(w.service)
              << (w.endpoint.empty() ? "" : " " + core::printable(w.endpoint)) << ": "
              << oa::reason_name(w.reason) << ": " << core::printable(w.detail) << " (left out)\n";
  if (o.format == "yaml") {
    std::cout << oa::to_yaml(r.document);
  } else {
    std::cout << r.document.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace)
              << "\n";
  }
  return o.strict && !r.warnings.empty() ? 1 : 0;
}

}  // namespace

void add_openapi_command(CLI::App& app, int& exit_code) {
  auto* openapi = app.add_subcommand("openapi", "OpenAPI aggregation, offline");
  openapi->require_subcommand(1);
  auto o = std::make_shared<MergeOptions>();
  auto* merge = openapi->add_subcommand(
      "merge",
      "Merge the endpoints of HELLO frames (JSON, as `frame decode --json` prints them; one "
      "object or an array per file; an endpoint's openapi may be a JSON object) into the OpenAPI "
      "3.1 document the gateway would serve, on standard output. Fragments left out are "
      "reported on standard error. Exit 0, 1 with --strict when something was left out, 2 for "
      "unreadable input");
  merge->add_option("FILE", o->files, "HELLO JSON files")->required();
  merge->add_option("--format", o->format, "json or yaml")
      ->check(CLI::IsMember({"json", "yaml"}))
      ->capture_default_str();
  merge->add_option("--title", o->title, "info.title")->capture_default_str();
  merge->add_option("--doc-version", o->version, "info.version")->capture_default_str();
  merge->add_option("--server", o->servers, "A server URL (repeatable)");
  merge->add_flag("--auth", o->auth,
                  "As a gateway with auth.enabled: operations need a token unless anonymous");
  merge->add_option("--issuer", o->issuer, "The Authority (an openIdConnect security scheme)");
  merge->add_flag("--strict", o->strict, "Exit 1 when any fragment or part was left out");
  merge->callback([o, &exit_code] { exit_code = run_merge(*o); });
}

}  // namespace stella::cli
