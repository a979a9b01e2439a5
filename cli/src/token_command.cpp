#include "token_command.hpp"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>
#include <sstream>

#include "stella/core/clock.hpp"
#include "stella/gateway/auth/token_verifier.hpp"
#include "stella/transport/tls/tls_context.hpp"

namespace stella::cli {
namespace {

namespace auth = gw::auth;
using nlohmann::json;

std::int64_t unix_now() {
  return static_cast<std::int64_t>(core::wall_clock_unix_nano() / 1'000'000'000);
}

bool read_file(const std::string& path, std::string& out) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::ostringstream s;
  s << in.rdbuf();
  out = s.str();
  return true;
}

// Private keys are written readable by the owner only.
bool write_private(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return false;
  out << text;
  out.close();
  ::chmod(path.c_str(), 0600);
  return static_cast<bool>(out);
}

struct KeygenOptions {
  std::string alg = "ES256";
  std::string out;         // private JWK file; empty: stdout
  std::string public_out;  // JWKS with the public key
};

int run_keygen(const KeygenOptions& o) {
  const auto alg = auth::alg_from_name(o.alg);
  if (!alg) {
    std::fprintf(stderr, "stella-gw token keygen: --alg '%s' is not an asymmetric JWS algorithm\n",
                 o.alg.c_str());
    return 2;
  }
  auth::Jwk key = auth::generate_key(*alg);
  key.alg = std::string(auth::alg_name(*alg));
  const std::string priv = auth::jwk_to_json(key, true).dump(2) + "\n";
  if (o.out.empty()) {
    std::fputs(priv.c_str(), stdout);
  } else if (!write_private(o.out, priv)) {
    std::fprintf(stderr, "stella-gw token keygen: cannot write '%s'\n", o.out.c_str());
    return 1;
  }
  if (!o.public_out.empty()) {
    json jwks = {{"keys", json::array({auth::jwk_to_json(key, false)})}};
    std::ofstream pub(o.public_out, std::ios::trunc);
    pub << jwks.dump(2) << "\n";
    if (!pub) {
      std::fprintf(stderr, "stella-gw token keygen: cannot write '%s'\n", o.public_out.c_str());
      return 1;
    }
  }
  if (!o.out.empty())
    std::fprintf(stderr, "wrote %s (private, mode 0600)%s%s; kid %s\n", o.out.c_str(),
                 o.public_out.empty() ? "" : " and ", o.public_out.c_str(), key.kid.c_str());
  return 0;
}

struct MintOptions {
  std::string key;
  std::string issuer;
  std::vector<std::string> audiences;
  std::string subject = "dev-user";
  std::string tenant;
  std::string scope;
  std::string client_id;
  std::vector<std::string> roles;
  std::vector<std::string> claims;  // name=value (a string claim)
  long long ttl = 300;
  long long not_before = 0;  // seconds from now (negative: in the past)
  std::string dpop_jkt, dpop_key, x5t, cert;
  std::string typ = "at+jwt";
};

auth::Alg key_alg(const auth::Jwk& key) {
  if (auto a = auth::alg_from_name(key.alg)) return *a;
  if (key.kty == "RSA") return auth::Alg::RS256;
  if (key.kty == "OKP") return auth::Alg::EdDSA;
  if (key.crv == "P-384") return auth::Alg::ES384;
  if (key.crv == "P-521") return auth::Alg::ES512;
  return auth::Alg::ES256;
}

int run_mint(const MintOptions& o) {
  std::string error;
  const auto key = read_private_jwk(o.key, error);
  if (!key) {
    std::fprintf(stderr, "stella-gw token mint: --key: %s\n", error.c_str());
    return 1;
  }
  const std::int64_t now = unix_now();
  json claims = {{"iss", o.issuer},
                 {"sub", o.subject},
                 {"iat", now},
                 {"exp", now + o.ttl},
                 {"jti", random_jti()}};
  if (o.audiences.size() == 1) claims["aud"] = o.audiences.front();
  if (o.audiences.size() > 1) claims["aud"] = o.audiences;
  if (o.not_before != 0) claims["nbf"] = now + o.not_before;
  if (!o.tenant.empty()) claims["tid"] = o.tenant;
  if (!o.scope.empty()) claims["scope"] = o.scope;
  if (!o.client_id.empty()) claims["client_id"] = o.client_id;
  if (!o.roles.empty()) claims["roles"] = o.roles;
  for (const auto& c : o.claims) {
    const auto eq = c.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::fprintf(stderr, "stella-gw token mint: --claim '%s' is not name=value\n", c.c_str());
      return 2;
    }
    claims[c.substr(0, eq)] = c.substr(eq + 1);
  }
  std::string jkt = o.dpop_jkt;
  if (!o.dpop_key.empty()) {
    const auto proof_key = read_private_jwk(o.dpop_key, error);
    if (!proof_key) {
      std::fprintf(stderr, "stella-gw token mint: --dpop-key: %s\n", error.c_str());
      return 1;
    }
    jkt = proof_key->thumbprint;
  }
  std::string x5t = o.x5t;
  if (!o.cert.empty()) {
    const auto t = transport::tls::certificate_file_sha256(o.cert, error);
    if (!t) {
      std::fprintf(stderr, "stella-gw token mint: --cert: %s\n", error.c_str());
      return 1;
    }
    x5t = auth::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(t->data()), t->size()));
  }
  if (!jkt.empty()) claims["cnf"]["jkt"] = jkt;
  if (!x5t.empty()) claims["cnf"]["x5t#S256"] = x5t;
  const auth::Alg alg = key_alg(*key);
  json header = {{"alg", auth::alg_name(alg)}, {"typ", o.typ}, {"kid", key->kid}};
  const auto token = auth::sign_compact(header, claims, alg, *key);
  if (!token) {
    std::fprintf(stderr, "stella-gw token mint: the key cannot sign with %s\n",
                 std::string(auth::alg_name(alg)).c_str());
    return 1;
  }
  std::printf("%s\n", token->c_str());
  return 0;
}

struct DpopOptions {
  std::string key, method = "GET", url, token;
  long long iat_offset = 0;
  std::string jti;
  long long count = 1;  // proofs to print, one per line, each with its own jti (load tests)
};

int run_dpop(const DpopOptions& o) {
  std::string error;
  const auto key = read_private_jwk(o.key, error);
  if (!key) {
    std::fprintf(stderr, "stella-gw token dpop: --key: %s\n", error.c_str());
    return 1;
  }
  if (o.count < 1 || (o.count > 1 && !o.jti.empty())) {
    std::fprintf(stderr, "stella-gw token dpop: --count must be at least 1, and 1 with --jti\n");
    return 2;
  }
  const auth::Alg alg = key_alg(*key);
  json header = {{"typ", "dpop+jwt"}, {"alg", auth::alg_name(alg)}, {"jwk", key->public_json}};
  json claims = {{"htm", o.method}, {"htu", o.url}, {"iat", unix_now() + o.iat_offset}};
  if (!o.token.empty()) claims["ath"] = auth::base64url_encode(auth::sha256(o.token));
  const std::string prefix = random_jti();
  for (long long i = 0; i < o.count; ++i) {
    claims["jti"] = !o.jti.empty() ? o.jti : o.count == 1 ? prefix : prefix + std::to_string(i);
    const auto proof = auth::sign_compact(header, claims, alg, *key);
    if (!proof) {
      std::fprintf(stderr, "stella-gw token dpop: the key cannot sign with %s\n",
                   std::string(auth::alg_name(alg)).c_str());
      return 1;
    }
    std::fputs(proof->c_str(), stdout);
    std::fputc('\n', stdout);
  }
  return 0;
}

struct InspectOptions {
  std::string token, jwks, issuer;
  std::vector<std::string> audiences;
};

int run_inspect(const InspectOptions& o) {
  std::string error;
  const auto jws = auth::parse_compact(o.token, 64 * 1024, &error);
  if (!jws) {
    std::fprintf(stderr, "stella-gw token inspect: not a compact JWS: %s\n", error.c_str());
    return 1;
  }
  std::printf("header:  %s\nclaims:  %s\n", jws->header.dump().c_str(),
              jws->payload.dump().c_str());
  if (jws->payload.contains("exp") && jws->payload["exp"].is_number()) {
    const auto left = jws->payload["exp"].get<std::int64_t>() - unix_now();
    std::printf("expires: %s (%lld s)\n", left >= 0 ? "in" : "ago",
                static_cast<long long>(left >= 0 ? left : -left));
  }
  if (o.jwks.empty()) return 0;
  std::string text;
  if (!read_file(o.jwks, text)) {
    std::fprintf(stderr, "stella-gw token inspect: --jwks: cannot read '%s'\n", o.jwks.c_str());
    return 1;
  }
  const auto keys = auth::parse_jwks(text, &error);
  if (!keys) {
    std::fprintf(stderr, "stella-gw token inspect: --jwks '%s': %s\n", o.jwks.c_str(),
                 error.c_str());
    return 1;
  }
  auth::TokenPolicy policy;
  policy.issuer = o.issuer;
  policy.audiences = o.audiences;
  policy.algorithms = {auth::Alg::ES256, auth::Alg::ES384, auth::Alg::ES512, auth::Alg::RS256,
                       auth::Alg::RS384, auth::Alg::RS512, auth::Alg::PS256, auth::Alg::PS384,
                       auth::Alg::PS512, auth::Alg::EdDSA};
  const auto v = auth::verify_access_token(o.token, *keys, policy, unix_now());
  if (!v) {
    std::printf("verified: no (%s%s%s)\n", std::string(auth::auth_failure_name(v.failure)).c_str(),
                v.detail.empty() ? "" : ": ", v.detail.c_str());
    return 1;
  }
  std::printf("verified: yes (subject %s)\n", v.value->subject.c_str());
  return 0;
}

}  // namespace

std::optional<auth::Jwk> read_private_jwk(const std::string& path, std::string& error) {
  std::string text;
  if (!read_file(path, text)) {
    error = "cannot read '" + path + "'";
    return std::nullopt;
  }
  std::string why;
  const auto doc = auth::parse_strict_json(text, {64 * 1024, 8}, &why);
  if (!doc) {
    error = "'" + path + "' is not JSON: " + why;
    return std::nullopt;
  }
  auto r = auth::parse_jwk(*doc, true);
  if (!r.jwk) {
    error = "'" + path + "' is not a usable JWK: " + std::string(auth::jwk_error_name(r.error));
    return std::nullopt;
  }
  if (!r.jwk->has_private) {
    error = "'" + path + "' holds a public key only (a private JWK is needed to sign)";
    return std::nullopt;
  }
  return std::move(r.jwk);
}

std::string random_jti() {
  core::Random rng(core::entropy_seed());
  std::string bytes(16, '\0');
  rng.fill(bytes.data(), bytes.size());
  return auth::base64url_encode(bytes);
}

void add_token_command(CLI::App& app, int& exit_code) {
  auto* cmd = app.add_subcommand(
      "token", "Keys, access tokens and DPoP proofs for development and tests (docs/security.md)");
  cmd->require_subcommand(1);

  auto kg = std::make_shared<KeygenOptions>();
  auto* keygen = cmd->add_subcommand("keygen", "Generate a signing key pair as a private JWK");
  keygen->add_option("--alg", kg->alg, "ES256, ES384, ES512, RS256, PS256, EdDSA, ...")
      ->capture_default_str();
  keygen->add_option("--out", kg->out, "Write the private JWK here (mode 0600); default: stdout");
  keygen->add_option("--public-out", kg->public_out,
                     "Also write a JWKS with the public key here (for auth.authority.jwksFile)");
  keygen->callback([kg, &exit_code] { exit_code = run_keygen(*kg); });

  auto mo = std::make_shared<MintOptions>();
  auto* mint = cmd->add_subcommand("mint", "Sign an access token (JWT, typ at+jwt)");
  mint->add_option("--key", mo->key, "Private JWK of the issuer")->required();
  mint->add_option("--issuer", mo->issuer, "iss")->required();
  mint->add_option("--audience", mo->audiences, "aud (repeatable)");
  mint->add_option("--sub", mo->subject, "sub")->capture_default_str();
  mint->add_option("--tenant", mo->tenant, "tid");
  mint->add_option("--scope", mo->scope, "scope (space-separated)");
  mint->add_option("--client-id", mo->client_id, "client_id");
  mint->add_option("--role", mo->roles, "roles (repeatable)");
  mint->add_option("--claim", mo->claims, "Any other string claim as name=value (repeatable)");
  mint->add_option("--ttl", mo->ttl, "Seconds until exp (negative: already expired)")
      ->capture_default_str();
  mint->add_option("--nbf", mo->not_before, "nbf as seconds from now (0: no nbf)");
  mint->add_option("--typ", mo->typ, "Header typ")->capture_default_str();
  auto* jkt = mint->add_option("--dpop-jkt", mo->dpop_jkt, "Bind to this DPoP key thumbprint");
  mint->add_option("--dpop-key", mo->dpop_key, "Bind to this DPoP key (a JWK file)")->excludes(jkt);
  auto* x5t = mint->add_option("--x5t", mo->x5t, "Bind to this certificate (x5t#S256)");
  mint->add_option("--cert", mo->cert, "Bind to this PEM client certificate")->excludes(x5t);
  mint->callback([mo, &exit_code] { exit_code = run_mint(*mo); });

  auto dp = std::make_shared<DpopOptions>();
  auto* dpop = cmd->add_subcommand("dpop", "Sign a DPoP proof (RFC 9449) for one request");
  dpop->add_option("--key", dp->key, "Private JWK of the client's DPoP key")->required();
  dpop->add_option("--method", dp->method, "htm")->capture_default_str();
  dpop->add_option("--url", dp->url, "htu: the URL of the request (query is ignored)")->required();
  dpop->add_option("--token", dp->token, "The access token (sets ath)");
  dpop->add_option("--iat-offset", dp->iat_offset, "Seconds added to iat (tests)");
  dpop->add_option("--jti", dp->jti, "jti (default: random)");
  dpop->add_option("--count", dp->count,
                   "Print this many proofs, one per line, each with its own jti (load tests)")
      ->capture_default_str();
  dpop->callback([dp, &exit_code] { exit_code = run_dpop(*dp); });

  auto io = std::make_shared<InspectOptions>();
  auto* inspect = cmd->add_subcommand("inspect", "Print a token's header and claims");
  inspect->add_option("token", io->token, "The token")->required();
  inspect->add_option("--jwks", io->jwks, "Also verify the signature and times with this JWKS");
  inspect->add_option("--issuer", io->issuer, "With --jwks: the expected iss");
  inspect->add_option("--audience", io->audiences, "With --jwks: an accepted aud");
  inspect->callback([io, &exit_code] { exit_code = run_inspect(*io); });

  auto tp = std::make_shared<std::string>();
  auto* thumb = cmd->add_subcommand("thumbprint", "Print a JWK's RFC 7638 thumbprint (a DPoP jkt)");
  thumb->add_option("--key", *tp, "JWK file (private or public)")->required();
  thumb->callback([tp, &exit_code] {
    std::string text;
    if (!read_file(*tp, text)) {
      std::fprintf(stderr, "stella-gw token thumbprint: cannot read '%s'\n", tp->c_str());
      exit_code = 1;
      return;
    }
    const auto doc = auth::parse_strict_json(text, {64 * 1024, 8});
    const auto r = doc ? auth::parse_jwk(*doc, true) : auth::JwkResult{};
    if (!r.jwk) {
      std::fprintf(stderr, "stella-gw token thumbprint: '%s' is not a usable JWK\n", tp->c_str());
      exit_code = 1;
      return;
    }
    std::printf("%s\n", r.jwk->thumbprint.c_str());
  });
}

}  // namespace stella::cli
