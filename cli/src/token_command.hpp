// `stella-gw token keygen|mint|dpop|inspect|thumbprint` (JWKs, access tokens and DPoP proofs for
// people and tests) and `stella-gw authority dev` (a development Authority: discovery, JWKS,
// and a token endpoint issuing DPoP-bound tokens). docs/security.md shows them in use.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>

#include "stella/gateway/auth/jose.hpp"

namespace stella::cli {

void add_token_command(CLI::App& app, int& exit_code);
void add_authority_command(CLI::App& app, int& exit_code);

/// Reads a private JWK from `path` (as `token keygen` writes it). nullopt with `error` naming
/// the file and what is wrong.
std::optional<gw::auth::Jwk> read_private_jwk(const std::string& path, std::string& error);

/// 16 random bytes as base64url: a jti.
std::string random_jti();

}  // namespace stella::cli
