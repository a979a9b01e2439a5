// Authentication end to end: the real gateway with auth on, real demo services, tokens and
// DPoP proofs from `stella-gw token` and from an independent JOSE implementation (Debian's
// python3-jwcrypto), keys from a JWKS file and from the development Authority over HTTP, a real
// redis-server shared by two gateways, and certificate-bound tokens over real mutual TLS.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>

#include "../redis/redis_server.hpp"
#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

const std::string kBin = STELLA_GW_BINARY;
constexpr const char* kIssuer = "https://issuer.test";

std::string trimmed(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' '))
    s.pop_back();
  return s;
}

std::string run_ok(const std::string& cmd) {
  auto [rc, out] = shell(cmd + " 2>&1");
  EXPECT_EQ(rc, 0) << cmd << "\n" << out;
  return trimmed(out);
}

std::string auth_section(const std::string& authority, const std::string& extra = "") {
  return "auth:\n"
         "  enabled: true\n"
         "  authority:\n" +
         authority +
         "    audiences: [stella-gateway]\n"
         "  anonymousServices: [demo]\n" +
         extra;
}

class Keys {
 public:
  Keys() {
    static int n = 0;
    dir_ = std::filesystem::temp_directory_path() /
           ("stella-auth-keys-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    std::filesystem::create_directories(dir_);
    run_ok(kBin + " token keygen --out " + file("issuer.json") + " --public-out " +
           file("jwks.json"));
    run_ok(kBin + " token keygen --out " + file("other-issuer.json"));
    run_ok(kBin + " token keygen --out " + file("client.json"));
    run_ok(kBin + " token keygen --alg EdDSA --out " + file("client2.json"));
  }
  ~Keys() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  const std::filesystem::path& dir() const { return dir_; }

  /// A token from the issuer key; `args` adds mint options.
  std::string mint(const std::string& args, const std::string& key = "issuer.json") const {
    return run_ok(kBin + " token mint --key " + file(key) + " --issuer " + kIssuer +
                  " --audience stella-gateway " + args);
  }
  std::string jkt(const std::string& key = "client.json") const {
    return run_ok(kBin + " token thumbprint --key " + file(key));
  }
  std::string proof(const std::string& method, const std::string& url, const std::string& token,
                    const std::string& key = "client.json", const std::string& extra = "") const {
    return run_ok(kBin + " token dpop --key " + file(key) + " --method " + method + " --url '" +
                  url + "'" + (token.empty() ? "" : " --token " + token) + " " + extra);
  }

 private:
  std::filesystem::path dir_;
};

std::optional<HttpResponse> send(std::uint16_t port, const std::string& path,
                                 const std::string& headers) {
  return http_exchange(port, get(path, headers));
}

std::string dpop_headers(const std::string& token, const std::string& proof) {
  return "Authorization: DPoP " + token + "\r\nDPoP: " + proof + "\r\n";
}

std::string metric_line(GatewayRun& gw, const std::string& prefix) {
  auto r = http_exchange(gw.http(), get("/metrics"));
  if (!r) return {};
  // A sample line, not the HELP or TYPE line that names the family too.
  const auto at = r->body.find("\n" + prefix);
  if (at == std::string::npos) return {};
  return r->body.substr(at + 1, r->body.find('\n', at + 1) - at - 1);
}

class AuthFile : public ::testing::Test {
 protected:
  void SetUp() override {
    gw_ = std::make_unique<GatewayRun>(
        test_config() + "telemetry:\n  logging:\n    format: json\n" +
        auth_section("    issuer: " + std::string(kIssuer) +
                     "\n    jwksFile: " + keys_.file("jwks.json") + "\n"));
    ASSERT_TRUE(gw_->ok()) << gw_->gateway_log();
    gw_->start_service("demo-auth");
    ASSERT_TRUE(gw_->wait_instances(1)) << gw_->gateway_log();
  }
  std::string url(const std::string& path) const { return "http://localhost" + path; }
  Keys keys_;
  std::unique_ptr<GatewayRun> gw_;
};

TEST_F(AuthFile, DpopBoundTokenReachesTheServiceWithItsIdentityOnce) {
  const std::string token = keys_.mint(
      "--sub alice --tenant acme --scope 'demo:read other' "
      "--client-id cli-1 --role admin --dpop-key " +
      keys_.file("client.json"));
  const std::string path = "/api/v1/demo/secure";
  const std::string proof = keys_.proof("GET", url(path), token);
  // Spoofed identity headers next to a valid token: stripped, the identity comes from claims.
  const std::string spoof =
      "X-User-Id: mallory\r\nX-Tenant-Id: evil\r\nX-StellaOps-Tenant: evil\r\nX-Scopes: all\r\n"
      "X-Correlation-Id: auth-ok-1\r\n";
  auto ok = send(gw_->http(), path, dpop_headers(token, proof) + spoof);
  ASSERT_TRUE(ok);
  ASSERT_EQ(ok->status, 200) << ok->body << gw_->gateway_log();
  const auto j = nlohmann::json::parse(ok->body);
  EXPECT_EQ(j["identity"]["subject"], "alice");
  EXPECT_EQ(j["identity"]["tenant"], "acme");
  EXPECT_EQ(j["identity"]["clientId"], "cli-1");
  EXPECT_EQ(j["identity"]["dpopJkt"], keys_.jkt());
  EXPECT_EQ(j["identity"]["scopes"], nlohmann::json::array({"demo:read", "other"}));
  EXPECT_EQ(j["identity"]["claims"][0]["value"], "admin");

  // The same proof again: a replay.
  auto replay = send(gw_->http(), path, dpop_headers(token, proof) + "X-Correlation-Id: rep-1\r\n");
  ASSERT_TRUE(replay);
  EXPECT_EQ(replay->status, 401);
  EXPECT_NE(replay->headers["www-authenticate"].find("error=\"invalid_dpop_proof\""),
            std::string::npos);
  EXPECT_NE(replay->body.find("dpop_replay"), std::string::npos);

  // A fresh proof, and the echo shows that no spoofed header reached the service.
  const std::string echo = "/api/v1/demo/tenants/acme/echo";
  auto e =
      send(gw_->http(), echo, dpop_headers(token, keys_.proof("GET", url(echo), token)) + spoof);
  ASSERT_TRUE(e);
  ASSERT_EQ(e->status, 200) << e->body;
  const auto ej = nlohmann::json::parse(e->body);
  for (const auto& h : ej["headers"]) {
    const std::string name = lower(h[0]);
    EXPECT_TRUE(name != "x-user-id" && name != "x-tenant-id" && name != "x-stellaops-tenant" &&
                name != "x-scopes")
        << name;
    // The credentials were the gateway's to check: a service never gets a token to reuse.
    EXPECT_TRUE(name != "authorization" && name != "dpop") << name;
  }
  EXPECT_EQ(ej["tenant"], "acme");
  EXPECT_EQ(ej["subject"], "alice");

  // Counted by reason, logged with the correlation id, never with the token.
  EXPECT_EQ(metric_line(*gw_, "gateway_auth_failures_total{reason=\"dpop_replay\"}"),
            "gateway_auth_failures_total{reason=\"dpop_replay\"} 1");
  EXPECT_TRUE(eventually([&] {
    const auto log = gw_->gateway_log();
    return log.find("\"correlationId\":\"rep-1\"") != std::string::npos &&
           log.find("\"authFailure\":\"dpop_replay\"") != std::string::npos;
  })) << gw_->gateway_log();
  EXPECT_EQ(gw_->gateway_log().find(token.substr(token.size() - 20)), std::string::npos);
}

TEST_F(AuthFile, EveryRefusalHasItsStatusAndChallenge) {
  const std::string path = "/api/v1/demo/secure";
  const std::string bound =
      keys_.mint("--tenant acme --scope demo:read --dpop-key " + keys_.file("client.json"));
  struct Case {
    std::string name;
    std::string headers;
    int status;
    std::string reason;
  };
  const std::string fresh = keys_.proof("GET", url(path), bound);
  std::vector<Case> cases{
      {"no credentials", "", 401, "missing_token"},
      {"basic auth", "Authorization: Basic dXNlcjpwYXNz\r\n", 401, "missing_token"},
      {"bound token as Bearer", "Authorization: Bearer " + bound + "\r\n", 401,
       "bound_token_as_bearer"},
      {"DPoP without a proof", "Authorization: DPoP " + bound + "\r\n", 401, "dpop_missing"},
      {"two proofs", dpop_headers(bound, fresh) + "DPoP: " + fresh + "\r\n", 401, "dpop_multiple"},
      {"two Authorization headers",
       dpop_headers(bound, keys_.proof("GET", url(path), bound)) + "Authorization: Bearer x\r\n",
       401, "malformed_token"},
      {"proof for another path",
       dpop_headers(bound, keys_.proof("GET", url("/api/v1/demo/secure/"), bound)), 401,
       "dpop_htu_mismatch"},
      {"proof for https",
       dpop_headers(bound, keys_.proof("GET", "https://localhost" + path, bound)), 401,
       "dpop_htu_mismatch"},
      {"proof for POST", dpop_headers(bound, keys_.proof("POST", url(path), bound)), 401,
       "dpop_htm_mismatch"},
      {"proof from another key",
       dpop_headers(bound, keys_.proof("GET", url(path), bound, "client2.json")), 401,
       "dpop_jkt_mismatch"},
      {"proof for another token", dpop_headers(bound, keys_.proof("GET", url(path), bound + "x")),
       401, "dpop_ath_mismatch"},
      {"proof too old",
       dpop_headers(bound,
                    keys_.proof("GET", url(path), bound, "client.json", "--iat-offset -300")),
       401, "dpop_iat_out_of_window"},
      {"proof from the future",
       dpop_headers(bound, keys_.proof("GET", url(path), bound, "client.json", "--iat-offset 300")),
       401, "dpop_iat_out_of_window"},
      {"expired token",
       "Authorization: Bearer " + keys_.mint("--scope demo:read --ttl -120") + "\r\n", 401,
       "expired"},
      {"token not yet valid",
       "Authorization: Bearer " + keys_.mint("--scope demo:read --nbf 600") + "\r\n", 401,
       "not_yet_valid"},
      {"another issuer's key",
       "Authorization: Bearer " + keys_.mint("--scope demo:read", "other-issuer.json") + "\r\n",
       401, "unknown_kid"},
      {"wrong audience",
       "Authorization: Bearer " +
           run_ok(kBin + " token mint --key " + keys_.file("issuer.json") + " --issuer " + kIssuer +
                  " --audience someone-else --scope demo:read") +
           "\r\n",
       401, "bad_audience"},
      {"wrong issuer",
       "Authorization: Bearer " +
           run_ok(kBin + " token mint --key " + keys_.file("issuer.json") +
                  " --issuer https://evil.test --audience stella-gateway --scope demo:read") +
           "\r\n",
       401, "bad_issuer"},
      {"missing scope", "Authorization: Bearer " + keys_.mint("--scope other") + "\r\n", 403,
       "insufficient_scope"},
  };
  for (const auto& c : cases) {
    auto r = send(gw_->http(), path, c.headers);
    ASSERT_TRUE(r) << c.name;
    EXPECT_EQ(r->status, c.status) << c.name << ": " << r->body;
    EXPECT_NE(r->body.find(c.reason), std::string::npos) << c.name << ": " << r->body;
    if (c.status == 401) {
      EXPECT_FALSE(r->headers["www-authenticate"].empty()) << c.name;
    }
  }
  // The tenant rule: {tenant} must be the token's tid.
  const std::string other = "/api/v1/demo/tenants/globex/echo";
  auto t = send(gw_->http(), other, dpop_headers(bound, keys_.proof("GET", url(other), bound)));
  ASSERT_TRUE(t);
  EXPECT_EQ(t->status, 403);
  EXPECT_NE(t->body.find("tenant_mismatch"), std::string::npos) << t->body;
  // A scope problem names the scope in the challenge.
  auto s = send(gw_->http(), path, "Authorization: Bearer " + keys_.mint("--scope other") + "\r\n");
  ASSERT_TRUE(s);
  EXPECT_EQ(s->headers["www-authenticate"],
            "Bearer realm=\"stella-gw\", error=\"insufficient_scope\", scope=\"demo:read\"");
  // Anonymous endpoints of a listed service stay open; management endpoints need nothing.
  auto open = send(gw_->http(), "/api/v1/demo/echo", "");
  ASSERT_TRUE(open);
  EXPECT_EQ(open->status, 200);
  auto live = send(gw_->http(), "/health/live", "");
  ASSERT_TRUE(live);
  EXPECT_EQ(live->status, 200);
}

// Tokens and proofs made by python3-jwcrypto, not by this project: ES256, RS256, PS256 and EdDSA
// access tokens, and EC and Ed25519 proof keys.
TEST(AuthInterop, TokensAndProofsFromJwcryptoAreAccepted) {
  if (shell("/usr/bin/python3 -c 'import jwcrypto' 2>&1").first != 0)
    GTEST_FAIL() << "python3-jwcrypto is missing (scripts/setup.sh installs it)";
  Keys keys;
  const std::string script = keys.file("mint.py");
  std::ofstream(script) << R"PY(
import json, sys, time, uuid, hashlib, base64
from jwcrypto import jwk, jwt, jws
out = sys.argv[1]
issuer = {"ES256": jwk.JWK.generate(kty="EC", crv="P-256"),
          "RS256": jwk.JWK.generate(kty="RSA", size=2048),
          "PS256": jwk.JWK.generate(kty="RSA", size=2048),
          "EdDSA": jwk.JWK.generate(kty="OKP", crv="Ed25519")}
keys = []
for alg, k in issuer.items():
    pub = json.loads(k.export_public())
    pub["kid"] = "py-" + alg
    keys.append(pub)
json.dump({"keys": keys}, open(out + "/py-jwks.json", "w"))
def b64(b): return base64.urlsafe_b64encode(b).rstrip(b"=").decode()
now = int(time.time())
for alg, k in issuer.items():
    for pkty, pcrv, palg in (("EC", "P-256", "ES256"), ("OKP", "Ed25519", "EdDSA")):
        pk = jwk.JWK.generate(kty=pkty, crv=pcrv)
        claims = {"iss": "https://py.test", "aud": "stella-gateway", "sub": "py-" + alg,
                  "tid": "acme", "scope": "demo:read", "iat": now, "exp": now + 300,
                  "cnf": {"jkt": pk.thumbprint()}}
        t = jwt.JWT(header={"alg": alg, "typ": "at+jwt", "kid": "py-" + alg}, claims=claims)
        k2 = jwk.JWK(**json.loads(k.export_private()))
        t.make_signed_token(k2)
        token = t.serialize()
        proof_claims = {"jti": str(uuid.uuid4()), "htm": "GET",
                        "htu": "http://localhost/api/v1/demo/secure", "iat": now,
                        "ath": b64(hashlib.sha256(token.encode()).digest())}
        p = jwt.JWT(header={"typ": "dpop+jwt", "alg": palg,
                            "jwk": json.loads(pk.export_public())}, claims=proof_claims)
        p.make_signed_token(pk)
        print(alg, palg, token, p.serialize())
)PY";
  auto [rc, out] = shell("/usr/bin/python3 " + script + " " + keys.dir().string() + " 2>&1");
  ASSERT_EQ(rc, 0) << out;
  GatewayRun gw(test_config() + auth_section("    issuer: https://py.test\n    jwksFile: " +
                                             keys.file("py-jwks.json") + "\n"));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-py");
  ASSERT_TRUE(gw.wait_instances(1));
  std::istringstream lines(out);
  std::string alg, palg, token, proof;
  int n = 0;
  while (lines >> alg >> palg >> token >> proof) {
    ++n;
    auto r = send(gw.http(), "/api/v1/demo/secure", dpop_headers(token, proof));
    ASSERT_TRUE(r) << alg;
    EXPECT_EQ(r->status, 200) << alg << " / " << palg << ": " << r->body;
    EXPECT_NE(r->body.find("py-" + alg), std::string::npos) << r->body;
  }
  EXPECT_EQ(n, 8) << out;
}

// Keys from the development Authority over HTTP: discovery, JWKS, its token endpoint issuing a
// DPoP-bound token; the Authority going away leaves the last good keys in use.
TEST(AuthAuthority, DiscoveryJwksAndTheLastGoodKeys) {
  Keys keys;
  auto authority =
      std::make_unique<Process>(std::vector<std::string>{kBin, "authority", "dev", "--port", "0"},
                                keys.dir() / "authority.log");
  std::smatch m;
  const std::regex re("issuer (http://127\\.0\\.0\\.1:\\d+)");
  std::string log;
  ASSERT_TRUE(eventually([&] {
    log = authority->log();
    return std::regex_search(log, m, re);
  })) << log;
  const std::string issuer = m[1];
  GatewayRun gw(test_config() + auth_section("    issuer: " + issuer +
                                             "\n    requireHttpsMetadata: false\n"
                                             "    refreshInterval: 1s\n"));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-authority");
  ASSERT_TRUE(gw.wait_instances(1));
  ASSERT_TRUE(eventually([&] {
    auto r = send(gw.http(), "/health/ready", "");
    return r && r->status == 200 &&
           r->body.find("\"authority\":\"available\"") != std::string::npos;
  })) << gw.gateway_log();
  auto fetch_token = [&] {
    const std::string p = keys.proof("POST", issuer + "/token", "");
    auto [rc, body] = shell("curl -sS -X POST " + issuer + "/token -H 'DPoP: " + p +
                            "' -d grant_type=client_credentials -d scope=demo:read -d sub=carol");
    EXPECT_EQ(rc, 0) << body;
    const auto j = nlohmann::json::parse(body);
    EXPECT_EQ(j["token_type"], "DPoP") << body;
    return j["access_token"].get<std::string>();
  };
  const std::string token = fetch_token();
  const std::string path = "/api/v1/demo/secure";
  auto r = send(gw.http(), path,
                dpop_headers(token, keys.proof("GET", "http://localhost" + path, token)));
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body << gw.gateway_log();
  // The Authority goes away: refreshes fail (counted), the keys in use stay.
  authority.reset();
  ASSERT_TRUE(eventually([&] {
    const auto line = metric_line(gw, "gateway_auth_key_refresh_failures_total ");
    return !line.empty() && line != "gateway_auth_key_refresh_failures_total 0";
  })) << gw.gateway_log();
  auto still = send(gw.http(), path,
                    dpop_headers(token, keys.proof("GET", "http://localhost" + path, token)));
  ASSERT_TRUE(still);
  EXPECT_EQ(still->status, 200) << still->body;
}

// Started while the Authority is down: not ready, 503 for authenticated routes, management
// endpoints reachable; ready once the Authority comes up. A new signing key (unknown kid) is
// fetched on demand, at most once per unknownKidRefreshInterval.
TEST(AuthAuthority, StartsWithoutKeysAndFollowsANewKey) {
  Keys keys;
  const auto port = free_port();
  const std::string issuer = "http://127.0.0.1:" + std::to_string(port);
  GatewayRun gw(test_config() + auth_section("    issuer: " + issuer +
                                             "\n    requireHttpsMetadata: false\n"
                                             "    unknownKidRefreshInterval: 2s\n"
                                             "    fetchTimeout: 500ms\n"));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-nokeys");
  ASSERT_TRUE(gw.wait_instances(1));
  auto ready = send(gw.http(), "/health/ready", "");
  ASSERT_TRUE(ready);
  EXPECT_EQ(ready->status, 503);
  EXPECT_NE(ready->body.find("\"authority\":\"unavailable\""), std::string::npos) << ready->body;
  auto no_keys = send(gw.http(), "/api/v1/demo/secure", "Authorization: Bearer abc\r\n");
  ASSERT_TRUE(no_keys);
  EXPECT_EQ(no_keys->status, 503);
  EXPECT_NE(no_keys->body.find("authority_unavailable"), std::string::npos) << no_keys->body;
  EXPECT_EQ(no_keys->headers["retry-after"], "1");

  auto start_authority = [&](const std::string& key) {
    return std::make_unique<Process>(
        std::vector<std::string>{kBin, "authority", "dev", "--port", std::to_string(port), "--key",
                                 keys.file(key)},
        keys.dir() / (key + ".log"));
  };
  auto authority = start_authority("k1.json");
  ASSERT_TRUE(eventually([&] {
    auto r = send(gw.http(), "/health/ready", "");
    return r && r->status == 200;
  })) << gw.gateway_log();
  const auto mint_from = [&](const std::string& key) {
    return run_ok(kBin + " token mint --key " + keys.file(key) + " --issuer " + issuer +
                  " --audience stella-gateway --scope demo:read");
  };
  const std::string path = "/api/v1/demo/secure";
  auto first = send(gw.http(), path, "Authorization: Bearer " + mint_from("k1.json") + "\r\n");
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200) << first->body;

  // The Authority rotates to a new key. Tokens naming it are refused until the gateway has
  // fetched it, which the first of them triggers.
  authority.reset();
  authority = start_authority("k2.json");
  ASSERT_TRUE(eventually([&] { return authority->log_contains("authority: issuer"); }));
  const std::string new_token = mint_from("k2.json");
  ASSERT_TRUE(eventually([&] {
    auto r = send(gw.http(), path, "Authorization: Bearer " + new_token + "\r\n");
    return r && r->status == 200;
  })) << gw.gateway_log();
  // A flood of unknown kids costs at most one fetch per interval (2 s here).
  const auto refreshes = [&] {
    const auto line = metric_line(gw, "gateway_auth_key_refreshes_total ");
    return line.empty() ? -1 : std::stoi(line.substr(line.rfind(' ') + 1));
  };
  const int before = refreshes();
  const std::string junk = mint_from("k1.json");  // k1 left the key set
  for (int i = 0; i < 50; ++i) {
    auto r = send(gw.http(), path, "Authorization: Bearer " + junk + "\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
  }
  EXPECT_LE(refreshes() - before, 2);
}

// Two gateways behind one load balancer share the replay cache through a real redis-server:
// a proof used at one is refused at the other. Redis down: `local` keeps serving (counted),
// `closed` refuses with 503.
TEST(AuthRedis, TwoGatewaysShareTheReplayCache) {
  test::RedisServer redis;
  Keys keys;
  const std::string authority =
      "    issuer: " + std::string(kIssuer) + "\n    jwksFile: " + keys.file("jwks.json") + "\n";
  const std::string redis_url = "redis://127.0.0.1:" + std::to_string(redis.port()) + "/0";
  const std::string shared_cfg =
      "  replayCache: {type: redis, url: \"" + redis_url + "\", commandTimeout: 300ms}\n";
  const std::string ext = "  externalUrl: \"https://api.test\"\n";
  GatewayRun gw1(test_config(ext) + auth_section(authority, shared_cfg));
  GatewayRun gw2(
      test_config(ext) +
      auth_section(authority, "  replayCache: {type: redis, url: \"" + redis_url +
                                  "\", commandTimeout: 300ms, onUnavailable: closed}\n"));
  ASSERT_TRUE(gw1.ok()) << gw1.gateway_log();
  ASSERT_TRUE(gw2.ok()) << gw2.gateway_log();
  gw1.start_service("demo-r1");
  gw2.start_service("demo-r2");
  ASSERT_TRUE(gw1.wait_instances(1));
  ASSERT_TRUE(gw2.wait_instances(1));
  const std::string path = "/api/v1/demo/secure";
  const std::string token = keys.mint("--scope demo:read --dpop-key " + keys.file("client.json"));
  const auto proof = [&] { return keys.proof("GET", "https://api.test" + path, token); };
  const std::string p1 = proof();
  // The redis connection comes up in the background: wait for a first success.
  auto a = send(gw1.http(), path, dpop_headers(token, p1));
  ASSERT_TRUE(a);
  ASSERT_EQ(a->status, 200) << a->body;
  auto b = send(gw2.http(), path, dpop_headers(token, p1));
  ASSERT_TRUE(b);
  EXPECT_EQ(b->status, 401) << b->body;
  EXPECT_NE(b->body.find("dpop_replay"), std::string::npos) << b->body;
  EXPECT_NE(b->body.find("another gateway"), std::string::npos) << b->body;

  redis.kill();
  auto local = send(gw1.http(), path, dpop_headers(token, proof()));
  ASSERT_TRUE(local);
  EXPECT_EQ(local->status, 200) << local->body;
  EXPECT_NE(metric_line(gw1, "gateway_auth_replay_fallbacks_total "),
            "gateway_auth_replay_fallbacks_total 0");
  auto closed = send(gw2.http(), path, dpop_headers(token, proof()));
  ASSERT_TRUE(closed);
  EXPECT_EQ(closed->status, 503) << closed->body;
  EXPECT_NE(closed->body.find("replay_cache_unavailable"), std::string::npos) << closed->body;
}

// RFC 8705: a token bound to a client certificate works only on a connection presenting it.
TEST(AuthMtls, CertificateBoundTokens) {
  Keys keys;
  const auto certs = keys.dir() / "certs";
  run_ok(kBin + " tls dev-certs --out " + certs.string() + " --service intruder");
  const std::string tls =
      "  tls:\n    enabled: true\n    certificatePath: " + (certs / "gateway.pem").string() +
      "\n    privateKeyPath: " + (certs / "gateway-key.pem").string() +
      "\n    clientCertificateMode: allow\n    caPath: " + (certs / "ca.pem").string() + "\n";
  GatewayRun gw(test_config(tls) +
                auth_section("    issuer: " + std::string(kIssuer) +
                                 "\n    jwksFile: " + keys.file("jwks.json") + "\n",
                             "  mtlsEnabled: true\n"));
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  gw.start_service("demo-mtls");
  const std::string base = "https://localhost:" + std::to_string(gw.http());
  const std::string ca = " --cacert " + (certs / "ca.pem").string();
  ASSERT_TRUE(eventually([&] {
    return shell("curl -sS" + ca + " " + base + "/health/ready").second.find("\"instances\":1,") !=
           std::string::npos;
  }));
  const std::string token =
      keys.mint("--scope demo:read --cert " + (certs / "client.pem").string());
  const auto curl = [&](const std::string& cert) {
    return shell("curl -sS -o /dev/null -w '%{http_code}'" + ca + cert +
                 " -H 'Authorization: Bearer " + token + "' " + base + "/api/v1/demo/secure 2>&1")
        .second;
  };
  EXPECT_EQ(curl(" --cert " + (certs / "client.pem").string() + " --key " +
                 (certs / "client-key.pem").string()),
            "200");
  EXPECT_EQ(curl(""), "401");
  EXPECT_EQ(curl(" --cert " + (certs / "intruder.pem").string() + " --key " +
                 (certs / "intruder-key.pem").string()),
            "401");
  // With client certificates the gateway sends no session tickets (a resumed session would keep
  // a certificate that is not checked again): s_client gets none, so it has no session to save
  // for a later resumption.
  const auto session = keys.dir() / "session.pem";
  const auto full =
      shell(
          "printf 'GET /api/v1/demo/secure HTTP/1.1\\r\\nHost: localhost\\r\\nAuthorization: "
          "Bearer " +
          token +
          "\\r\\nConnection: close\\r\\n\\r\\n' | timeout 10 openssl s_client -connect localhost:" +
          std::to_string(gw.http()) + " -CAfile " + (certs / "ca.pem").string() + " -cert " +
          (certs / "client.pem").string() + " -key " + (certs / "client-key.pem").string() +
          " -ign_eof -sess_out " + session.string() + " 2>&1")
          .second;
  EXPECT_NE(full.find("HTTP/1.1 200"), std::string::npos) << full;
  EXPECT_EQ(full.find("New Session Ticket"), std::string::npos) << full;
  EXPECT_FALSE(std::filesystem::exists(session));
  const std::string metrics = shell("curl -sS" + ca + " " + base + "/metrics").second;
  EXPECT_NE(metrics.find("gateway_auth_failures_total{reason=\"mtls_certificate_missing\"} 1"),
            std::string::npos);
  EXPECT_NE(metrics.find("gateway_auth_failures_total{reason=\"mtls_certificate_mismatch\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace stella::e2e
