// TLS in the CLI: `stella-gw tls dev-certs|thumbprint`, the TLS options of `stella-gw listen`
// and of `stella-gw service demo`. Kept apart from service_command.cpp so that file only wires
// these in.
#pragma once

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "stella/transport/address.hpp"
#include "stella/transport/gateway_listener.hpp"
#include "stella/transport/tls/tls_gateway_listener.hpp"
#include "stella/transport/tls/tls_settings.hpp"

namespace stella::cli {

void add_tls_command(CLI::App& app, int& exit_code);

/// `stella-gw listen --tls ADDR --tls-cert F [--tls-key F] [--tls-ca F] [--client-cert MODE]
/// [--allow-thumbprint HEX ...] [--tls-password-env VAR]`.
struct ListenTlsOptions {
  std::string address;  // empty: no TLS listener
  std::string cert, key, ca;
  std::string client_cert = "require";
  std::vector<std::string> thumbprints;
  std::string password_env = "GATEWAY_CERT_PASSWORD";
  double handshake_timeout_seconds = 10;
};
void add_listen_tls_options(CLI::App& listen, ListenTlsOptions& options);

/// Builds the context and binds the TLS port; sessions run on `sessions`. Returns 0, or the exit
/// code after printing a message that names the option or file (1: file/bind errors, 2: usage).
int start_tls_listener(boost::asio::io_context& io, transport::GatewayListener& sessions,
                       const ListenTlsOptions& options,
                       std::unique_ptr<transport::tls::TlsGatewayListener>& out);

/// `stella-gw service demo --tls-ca F --tls-cert F --tls-key F [--tls-server-name N]
/// [--tls-password-env VAR]`.
struct DemoTlsOptions {
  std::string ca, cert, key, server_name;
  std::string password_env = "STELLA_CLIENT_CERT_PASSWORD";
};
void add_demo_tls_options(CLI::App& demo, DemoTlsOptions& options);

/// For a tls:// gateway: loads and checks the settings now (so a bad file fails at startup with
/// exit 1, not in the reconnect loop) and fills `out`. For tcp://: refuses TLS options given
/// with it (usage error). Returns 0 or the exit code after printing why.
int demo_tls_settings(const DemoTlsOptions& options, const transport::Address& gateway,
                      std::optional<transport::tls::ClientTlsSettings>& out);

}  // namespace stella::cli
