// `stella-gw frame decode|encode`: the wire protocol from the command line.
#pragma once

#include <CLI/CLI.hpp>

namespace stella::cli {

/// Adds the `frame` subcommand tree to `app`. The callbacks set `exit_code`.
void add_frame_command(CLI::App& app, int& exit_code);

}  // namespace stella::cli
