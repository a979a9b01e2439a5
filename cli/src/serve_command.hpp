// `stella-gw serve`: the gateway (HTTP ingress + service transport), from a config file or the
// embedded dev default.
#pragma once

#include <CLI/CLI.hpp>

namespace stella::cli {

void add_serve_command(CLI::App& app, int& exit_code);

}  // namespace stella::cli
