// `stella-gw openapi merge FILE...`: the gateway's OpenAPI merge, offline (docs/openapi.md), so
// a service's CI can check what its HELLO would add to /openapi.json before it deploys.
#pragma once

#include <CLI/CLI.hpp>

namespace stella::cli {

void add_openapi_command(CLI::App& app, int& exit_code);

}  // namespace stella::cli
