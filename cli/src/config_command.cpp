#include "config_command.hpp"

#include <iostream>
#include <memory>
#include <string>

#include "stella/gateway/config/gateway_config.hpp"

namespace stella::cli {
namespace {

namespace cfg = stella::gw::config;

struct ConfigOptions {
  std::string file;
};

void print_errors(const std::string& file, const cfg::LoadResult& r) {
  for (const cfg::ConfigError& e : r.errors)
    std::cerr << cfg::format_error(file, e) << "\n";
  std::cerr << file << ": " << r.errors.size() << (r.errors.size() == 1 ? " error" : " errors")
            << "\n";
}

int run_validate(const ConfigOptions& o) {
  const cfg::LoadResult r = cfg::load_config_file(o.file);
  if (!r.ok()) {
    print_errors(o.file, r);
    return 1;
  }
  std::cout << o.file << ": ok\n";
  return 0;
}

int run_print(const ConfigOptions& o) {
  if (o.file.empty()) {
    std::cout << "# The built-in dev default (stella-gw serve without a configuration file).\n"
              << cfg::to_yaml(cfg::dev_default());
    return 0;
  }
  const cfg::LoadResult r = cfg::load_config_file(o.file);
  if (!r.ok()) {
    print_errors(o.file, r);
    return 1;
  }
  std::cout << "# Effective configuration of " << o.file
            << " (defaults applied, ${ENV} substituted, secrets shown as ***).\n"
            << cfg::to_yaml(r.config);
  return 0;
}

}  // namespace

void add_config_command(CLI::App& app, int& exit_code) {
  auto* config = app.add_subcommand("config", "Check or show a gateway configuration file");
  config->require_subcommand(1);

  auto val = std::make_shared<ConfigOptions>();
  auto* validate = config->add_subcommand(
      "validate",
      "Load FILE and report every error as FILE:LINE: key: message on standard error (exit 1), "
      "or print \"FILE: ok\" (exit 0)");
  validate->add_option("FILE", val->file, "The configuration file (YAML)")->required();
  validate->callback([val, &exit_code] { exit_code = run_validate(*val); });

  auto pr = std::make_shared<ConfigOptions>();
  auto* print = config->add_subcommand(
      "print",
      "Print the effective configuration of FILE as YAML: defaults applied, ${ENV} substituted, "
      "secrets shown as ***. Without FILE, the built-in dev default");
  print->add_option("FILE", pr->file, "The configuration file (YAML)");
  print->callback([pr, &exit_code] { exit_code = run_print(*pr); });
}

}  // namespace stella::cli
