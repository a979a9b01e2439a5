// `stella-gw sim`: run a topology through the deterministic simulator (docs/simulation.md).
#pragma once

#include <CLI/CLI.hpp>

namespace stella::cli {

/// Adds the `sim` subcommand to `app`. Exit codes through `exit_code`: 0 every invariant held,
/// 1 a violation, a bad topology or an unwritable report, 2 usage (CLI11).
void add_sim_command(CLI::App& app, int& exit_code);

}  // namespace stella::cli
