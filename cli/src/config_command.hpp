// `stella-gw config validate|print`: check a gateway configuration file, or show the effective
// configuration (defaults applied, ${ENV} substituted, secrets hidden).
#pragma once

#include <CLI/CLI.hpp>

namespace stella::cli {

/// Adds the `config` subcommand tree to `app`. The callbacks set `exit_code`.
void add_config_command(CLI::App& app, int& exit_code);

}  // namespace stella::cli
