#include <CLI/CLI.hpp>
#include <cstdio>

int main(int argc, char** argv) {
  CLI::App app{"stella-gw: gateway toolkit"};
  app.require_subcommand(1);
  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::printf("stella-gw %s\n", STELLA_VERSION); });
  CLI11_PARSE(app, argc, argv);
  return 0;
}
