#include "tls_command.hpp"

#include <boost/asio/co_spawn.hpp>
#include <cstdio>
#include <cstdlib>
#include <exception>

#include "stella/transport/tls/dev_certs.hpp"
#include "stella/transport/tls/tls_connector.hpp"
#include "stella/transport/tls/tls_context.hpp"

namespace stella::cli {
namespace {

namespace asio = boost::asio;
namespace tls = transport::tls;

std::string env_or_empty(const std::string& name) {
  if (name.empty()) return {};
  const char* v = std::getenv(name.c_str());
  return v ? v : "";
}

struct DevCertOptions {
  std::string out = "dev-certs";
  std::string p12_password_env;
  std::vector<std::string> services;
};

int run_dev_certs(const DevCertOptions& opt) {
  try {
    const auto files =
        tls::write_dev_certificates(opt.out, env_or_empty(opt.p12_password_env), opt.services);
    std::printf("wrote dev certificates to %s (EC P-256, not for production):\n", opt.out.c_str());
    std::printf("  CA:       %s  (key %s)\n", files.ca_cert.c_str(), files.ca_key.c_str());
    std::printf("  gateway:  %s  (key %s; SAN localhost, 127.0.0.1, ::1)\n",
                files.gateway_cert.c_str(), files.gateway_key.c_str());
    if (!files.gateway_p12.empty()) {
      std::printf("  gateway PKCS#12: %s (password from $%s)\n", files.gateway_p12.c_str(),
                  opt.p12_password_env.c_str());
    }
    std::printf("  client:   %s  (key %s)\n", files.client_cert.c_str(), files.client_key.c_str());
    for (const auto& svc : files.services)
      std::printf("  service:  %s  (key %s; CN and SAN %s; SHA-256 %s)\n", svc.cert.c_str(),
                  svc.key.c_str(), svc.name.c_str(), svc.thumbprint.c_str());
    std::printf("client certificate thumbprint (SHA-256): %s\n", files.client_thumbprint.c_str());
    std::printf("gateway certificate thumbprint (SHA-256): %s\n", files.gateway_thumbprint.c_str());
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "stella-gw tls dev-certs: %s\n", e.what());
    return 1;
  }
}

int run_thumbprint(const std::string& path) {
  std::string error;
  const auto t = tls::certificate_file_sha256(path, error);
  if (!t) {
    std::fprintf(stderr, "stella-gw tls thumbprint: %s\n", error.c_str());
    return 1;
  }
  std::printf("%s\n", tls::to_hex(*t).c_str());
  return 0;
}

}  // namespace

void add_tls_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand("tls", "TLS helpers: development certificates, thumbprints");
  cmd->require_subcommand(1);

  auto dev = std::make_shared<DevCertOptions>();
  auto* gen = cmd->add_subcommand(
      "dev-certs",
      "Generate a dev CA, a gateway certificate (localhost, 127.0.0.1) and a client certificate");
  gen->add_option("--out", dev->out, "Directory to write into (created)")->capture_default_str();
  gen->add_option("--p12-password-env", dev->p12_password_env,
                  "Also write gateway.p12, encrypted with the password in this environment "
                  "variable");
  gen->add_option("--service", dev->services,
                  "Also issue a client certificate for this service name (CN and DNS SAN = "
                  "NAME, written to NAME.pem / NAME-key.pem); repeatable, for "
                  "transports.tls.serviceIdentities");
  gen->callback([dev, &exit_code] { exit_code = run_dev_certs(*dev); });

  auto path = std::make_shared<std::string>();
  auto* thumb = cmd->add_subcommand(
      "thumbprint", "Print the SHA-256 thumbprint of a PEM certificate (for the allow-list)");
  thumb->add_option("certificate", *path, "PEM certificate file")->required();
  thumb->callback([path, &exit_code] { exit_code = run_thumbprint(*path); });
}

void add_listen_tls_options(CLI::App& listen, ListenTlsOptions& o) {
  listen.add_option("--tls", o.address,
                    "Also listen for services over TLS 1.3 on this address (tls://IP:PORT); "
                    "without --tcp, TLS only");
  listen.add_option("--tls-cert", o.cert, "Gateway certificate: PEM chain, or .pfx/.p12");
  listen.add_option("--tls-key", o.key, "Gateway private key (PEM); default: in --tls-cert");
  listen.add_option("--tls-ca", o.ca,
                    "CA bundle (PEM) that verifies client certificates; default: system store");
  listen.add_option("--client-cert", o.client_cert, "Client certificates: require, allow or none")
      ->capture_default_str();
  listen.add_option("--allow-thumbprint", o.thumbprints,
                    "Accept only client certificates with this SHA-256 thumbprint (repeatable)");
  listen
      .add_option("--tls-password-env", o.password_env,
                  "Environment variable holding the PKCS#12 or key password")
      ->capture_default_str();
  listen
      .add_option("--tls-handshake-timeout", o.handshake_timeout_seconds,
                  "Seconds a client has to finish the TLS handshake")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 600.0));
}

int start_tls_listener(asio::io_context& io, transport::GatewayListener& sessions,
                       const ListenTlsOptions& o, std::unique_ptr<tls::TlsGatewayListener>& out) {
  std::string error;
  auto address = transport::parse_address(o.address, error, "tls");
  if (!address || address->scheme != "tls") {
    std::fprintf(stderr, "stella-gw listen: --tls '%s': %s\n", o.address.c_str(),
                 address ? "expected tls://IP:PORT" : error.c_str());
    return 2;
  }
  boost::system::error_code ec;
  const auto ip = asio::ip::make_address(address->host, ec);
  if (ec) {
    std::fprintf(stderr, "stella-gw listen: --tls '%s': not an IP address\n", o.address.c_str());
    return 2;
  }
  if (o.cert.empty()) {
    std::fprintf(stderr, "stella-gw listen: --tls needs --tls-cert\n");
    return 2;
  }
  const auto mode = tls::parse_client_certificate_mode(o.client_cert);
  if (!mode) {
    std::fprintf(stderr, "stella-gw listen: --client-cert '%s': expected require, allow or none\n",
                 o.client_cert.c_str());
    return 2;
  }
  tls::TlsSettings settings;
  settings.certificate_path = o.cert;
  settings.private_key_path = o.key;
  settings.certificate_password = env_or_empty(o.password_env);
  settings.client_certificate_mode = *mode;
  settings.ca_path = o.ca;
  settings.allowed_client_certificate_thumbprints = o.thumbprints;
  auto context = tls::make_server_context(settings, error);
  if (!context) {
    std::fprintf(stderr, "stella-gw listen: TLS: %s\n", error.c_str());
    return 1;
  }
  tls::TlsListenerSettings ls;
  ls.handshake_timeout = std::chrono::milliseconds(
      static_cast<std::chrono::milliseconds::rep>(o.handshake_timeout_seconds * 1000));
  auto listener = std::make_unique<tls::TlsGatewayListener>(io.get_executor(), std::move(context),
                                                            sessions, ls);
  if (auto lec = listener->listen({ip, address->port})) {
    std::fprintf(stderr, "stella-gw listen: cannot listen on %s: %s\n", o.address.c_str(),
                 lec.message().c_str());
    return 1;
  }
  const auto ep = listener->local_endpoint();
  std::fprintf(stderr,
               "%s listening for services on tls://%s:%u (TLS 1.3, client certificates: %s, %zu "
               "allowed thumbprints)\n",
               core::wall_clock_rfc3339().c_str(), ep.address().to_string().c_str(),
               static_cast<unsigned>(ep.port()), std::string(tls::to_string(*mode)).c_str(),
               o.thumbprints.size());
  auto* raw = listener.get();
  asio::co_spawn(io, raw->run(), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      std::fprintf(stderr, "stella-gw listen: TLS listener failed: %s\n", ex.what());
    }
  });
  out = std::move(listener);
  return 0;
}

void add_demo_tls_options(CLI::App& demo, DemoTlsOptions& o) {
  demo.add_option("--tls-ca", o.ca,
                  "CA bundle (PEM) that verifies the gateway (tls://); default: system store");
  demo.add_option("--tls-cert", o.cert, "Client certificate for mTLS: PEM, or .pfx/.p12");
  demo.add_option("--tls-key", o.key, "Client private key (PEM); default: in --tls-cert");
  demo.add_option("--tls-server-name", o.server_name,
                  "Name the gateway's certificate must carry; default: the --gateway host");
  demo.add_option("--tls-password-env", o.password_env,
                  "Environment variable holding the PKCS#12 or key password")
      ->capture_default_str();
}

int demo_tls_settings(const DemoTlsOptions& o, const transport::Address& gateway,
                      std::optional<tls::ClientTlsSettings>& out) {
  const bool any = !o.ca.empty() || !o.cert.empty() || !o.key.empty() || !o.server_name.empty();
  if (gateway.scheme != "tls") {
    if (any) {
      std::fprintf(stderr,
                   "stella-gw service demo: --tls-* options need a tls:// --gateway (got %s)\n",
                   gateway.to_string().c_str());
      return 2;
    }
    return 0;
  }
  tls::ClientTlsSettings s;
  s.ca_path = o.ca;
  s.certificate_path = o.cert;
  s.private_key_path = o.key;
  s.certificate_password = env_or_empty(o.password_env);
  s.server_name = o.server_name;
  std::string error;
  if (!tls::TlsConnector::create(s, error)) {
    std::fprintf(stderr, "stella-gw service demo: TLS: %s\n", error.c_str());
    return 1;
  }
  out = std::move(s);
  return 0;
}

}  // namespace stella::cli
