// `stella-gw service demo` (the demo service, on the SDK) and `stella-gw listen` (a minimal
// gateway-side listener that registers services and logs their lifecycle).
#pragma once

#include <CLI/CLI.hpp>

namespace stella::cli {

void add_service_command(CLI::App& app, int& exit_code);
void add_listen_command(CLI::App& app, int& exit_code);

}  // namespace stella::cli
