// stella-gw: the gateway toolkit's single binary.
//
// Exit codes: 0 success, 1 the command failed (bad input, unreadable file, ...), 2 usage error.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "config_command.hpp"
#include "frame_command.hpp"
#include "openapi_command.hpp"
#include "serve_command.hpp"
#include "service_command.hpp"
#include "sim_command.hpp"
#include "tls_command.hpp"
#include "token_command.hpp"

int main(int argc, char** argv) {
  CLI::App app{"stella-gw: the stella gateway toolkit", "stella-gw"};
  app.require_subcommand(1);
  int exit_code = 0;

  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::printf("stella-gw %s\n", STELLA_VERSION); });
  stella::cli::add_frame_command(app, exit_code);
  stella::cli::add_service_command(app, exit_code);
  stella::cli::add_listen_command(app, exit_code);
  stella::cli::add_tls_command(app, exit_code);
  stella::cli::add_sim_command(app, exit_code);
  stella::cli::add_config_command(app, exit_code);
  stella::cli::add_serve_command(app, exit_code);
  stella::cli::add_token_command(app, exit_code);
  stella::cli::add_authority_command(app, exit_code);
  stella::cli::add_openapi_command(app, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "stella-gw: " << e.what() << "\n\n";
    // Help of the deepest subcommand that was named, so the user sees the options that apply.
    const CLI::App* sub = &app;
    while (!sub->get_subcommands().empty())
      sub = sub->get_subcommands().front();
    std::cerr << sub->help();
    return 2;
  }
  return exit_code;
}
