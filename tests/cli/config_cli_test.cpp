// Runs the real stella-gw binary: `config validate` and `config print` as a user would.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <regex>
#include <set>
#include <sstream>
#include <string>

namespace {

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class ConfigCli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("stella-config-cli-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::string write(const std::string& name, const std::string& text) {
    const auto p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p.string();
  }

  // Runs `stella-gw <args>` with the environment variables the examples use unset, so the
  // results do not depend on the shell that runs the tests.
  CmdResult run(const std::string& args) {
    const std::string cmd =
        "env -u GATEWAY_CERT_PASSWORD -u GATEWAY_HTTPS_KEY_PASSWORD -u VALKEY_CONNECTION "
        "-u HOSTNAME " +
        std::string(STELLA_GW_BINARY) + " " + args + " > " + (dir_ / "out").string() + " 2> " +
        (dir_ / "err").string();
    const int status = std::system(cmd.c_str());
    CmdResult r;
    r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    r.out = slurp(dir_ / "out");
    r.err = slurp(dir_ / "err");
    return r;
  }

  std::filesystem::path dir_;
};

std::string example(const char* name) {
  return std::string(STELLA_SOURCE_DIR) + "/examples/" + name;
}

TEST_F(ConfigCli, ValidateExamplesOk) {
  for (const char* name :
       {"gateway.dev.yaml", "gateway.prod.yaml", "gateway.auth.yaml", "gateway.ratelimit.yaml"}) {
    const std::string file = example(name);
    const CmdResult r = run("config validate " + file);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, file + ": ok\n");
    EXPECT_EQ(r.err, "");
  }
}

TEST_F(ConfigCli, ValidateReportsEveryErrorWithFileLineAndKey) {
  const std::string file = write("bad.yaml", R"(gateway:
  node:
    region: "eu1"
  routing:
    defaultTimeout: 30
    neighborRegions: ["eu1"]
    loadBalancing:
      polcy: p2c
  transports:
    tcp:
      port: 70000
)");
  const CmdResult r = run("config validate " + file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.out, "");
  // Every line but the summary is FILE:LINE: key: message.
  std::istringstream lines(r.err);
  std::string line;
  std::set<std::string> keys;
  const std::regex shape("^" +
                         std::regex_replace(file, std::regex(R"([.^$|()\[\]{}*+?\\])"), R"(\$&)") +
                         R"(:([0-9]+): ([A-Za-z.\[\]0-9]+): (.+)$)");
  int error_lines = 0;
  while (std::getline(lines, line)) {
    std::smatch m;
    if (std::regex_match(line, m, shape)) {
      ++error_lines;
      keys.insert(m[2].str());
    } else {
      EXPECT_EQ(line, file + ": 4 errors");
    }
  }
  EXPECT_EQ(error_lines, 4) << r.err;
  EXPECT_EQ(keys, (std::set<std::string>{"routing.defaultTimeout", "routing.neighborRegions[0]",
                                         "routing.loadBalancing.polcy", "transports.tcp.port"}))
      << r.err;
  EXPECT_NE(r.err.find(file + ":5: routing.defaultTimeout: duration '30' has no unit"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":8: routing.loadBalancing.polcy: unknown key; did you mean "
                              "'policy'?"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find(file + ":11: transports.tcp.port: must be at most 65535"), std::string::npos)
      << r.err;
}

TEST_F(ConfigCli, ValidateMissingVariableNamesIt) {
  const std::string file = write(
      "env.yaml", "transports:\n  tls:\n    certificatePassword: \"${GATEWAY_CERT_PASSWORD}\"\n");
  const CmdResult r = run("config validate " + file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file + ":3: transports.tls.certificatePassword: environment variable "
                              "GATEWAY_CERT_PASSWORD is not set"),
            std::string::npos)
      << r.err;
}

TEST_F(ConfigCli, ValidateMissingFile) {
  const std::string file = (dir_ / "nope.yaml").string();
  const CmdResult r = run("config validate " + file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file + ": cannot read the file"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

TEST_F(ConfigCli, ValidateWithoutFileIsAUsageError) {
  EXPECT_EQ(run("config validate").exit_code, 2);
  EXPECT_EQ(run("config").exit_code, 2);
}

TEST_F(ConfigCli, PrintDevDefaultRoundTripsThroughValidate) {
  const CmdResult printed = run("config print");
  ASSERT_EQ(printed.exit_code, 0) << printed.err;
  EXPECT_NE(printed.out.find("    port: 8080\n"), std::string::npos) << printed.out;
  const std::string file = write("printed.yaml", printed.out);
  const CmdResult validated = run("config validate " + file);
  EXPECT_EQ(validated.exit_code, 0) << validated.err;
  EXPECT_EQ(validated.out, file + ": ok\n");
  // Printing the printed file gives the same configuration again.
  const CmdResult again = run("config print " + file);
  ASSERT_EQ(again.exit_code, 0) << again.err;
  auto body = [](const std::string& s) { return s.substr(s.find('\n') + 1); };  // drop comment
  EXPECT_EQ(body(again.out), body(printed.out));
}

TEST_F(ConfigCli, PrintHidesSecretsAndAppliesTheEnvironment) {
  const std::string file = write("secret.yaml", R"(transports:
  tls:
    certificatePassword: "${STELLA_TEST_PW:-fallback-secret}"
node:
  nodeId: "${STELLA_TEST_NODE:-gw-x}"
)");
  const CmdResult r = run("config print " + file);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.find("fallback-secret"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("certificatePassword: \"***\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("nodeId: \"gw-x\""), std::string::npos) << r.out;
}

TEST_F(ConfigCli, PrintOfABadFileFails) {
  const std::string file = write("bad.yaml", "routing: {defaultTimeout: soon}\n");
  const CmdResult r = run("config print " + file);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(file + ":1: routing.defaultTimeout:"), std::string::npos) << r.err;
  EXPECT_EQ(r.out, "");
}

}  // namespace
