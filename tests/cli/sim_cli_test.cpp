// Runs the real stella-gw binary: `stella-gw sim` as a user would.
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace {

namespace fs = std::filesystem;

struct CmdResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

fs::path scratch() {
  const auto dir = fs::temp_directory_path() / ("stella-sim-cli-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir;
}

CmdResult run(const std::string& args) {
  const fs::path dir = scratch();
  const std::string cmd = std::string(STELLA_GW_BINARY) + " " + args + " > " +
                          (dir / "out").string() + " 2> " + (dir / "err").string();
  const int status = std::system(cmd.c_str());
  CmdResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r.out = slurp(dir / "out");
  r.err = slurp(dir / "err");
  return r;
}

const std::string kTopo = std::string(STELLA_SOURCE_DIR) + "/sim/topologies/local-region-loss.yaml";

TEST(SimCli, PrintsTheSeedFirstAndTheSameSeedGivesTheSameReport) {
  const fs::path dir = scratch();
  const std::string a = (dir / "a.json").string(), b = (dir / "b.json").string();
  const CmdResult r1 =
      run("sim --topology " + kTopo + " --seed 99 --rate-scale 0.01 --report-json " + a);
  ASSERT_EQ(r1.exit_code, 0) << r1.out << r1.err;
  EXPECT_EQ(r1.out.rfind("seed: 99\n", 0), 0u) << r1.out;
  EXPECT_NE(r1.out.find("replay: stella-gw sim --topology"), std::string::npos);
  EXPECT_NE(r1.out.find("SLO"), std::string::npos);
  const CmdResult r2 =
      run("sim --topology " + kTopo + " --seed 99 --rate-scale 0.01 --report-json " + b);
  ASSERT_EQ(r2.exit_code, 0) << r2.err;
  EXPECT_FALSE(slurp(a).empty());
  EXPECT_EQ(slurp(a), slurp(b));
}

TEST(SimCli, WithoutASeedItPicksOneAndPrintsIt) {
  const CmdResult r = run("sim --topology " + kTopo + " --duration 2s --rate-scale 0.01");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.rfind("seed: ", 0), 0u) << r.out;
}

TEST(SimCli, WritesASelfContainedHtmlReport) {
  const fs::path html = scratch() / "r.html";
  const CmdResult r =
      run("sim --topology " + kTopo + " --seed 1 --rate-scale 0.01 --report-html " + html.string());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string page = slurp(html);
  EXPECT_NE(page.find("<svg"), std::string::npos);
  EXPECT_EQ(page.find("http://"), page.find("http://www.w3.org/2000/svg"))
      << "no external resources besides the SVG namespace";
  EXPECT_EQ(page.find("<script"), std::string::npos);
}

TEST(SimCli, ATopologyErrorExitsOneNamingTheKeyAndFile) {
  const fs::path bad = scratch() / "bad.yaml";
  std::string text = slurp(kTopo);
  text.replace(text.find("heartbeatInterval:"), 18, "heartbeatIntervl:");
  std::ofstream(bad) << text;
  const CmdResult r = run("sim --topology " + bad.string() + " --seed 1");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find(bad.string()), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("gateway.heartbeatIntervl"), std::string::npos) << r.err;
}

TEST(SimCli, AViolationExitsOneWithTheReplayCommand) {
  const CmdResult r = run("sim --topology " + kTopo + " --seed 5 --fault-ignore-health");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("INVARIANT VIOLATED: "), std::string::npos) << r.out;
  EXPECT_NE(
      r.out.find("replay: stella-gw sim --topology " + kTopo + " --seed 5 --fault-ignore-health"),
      std::string::npos)
      << r.out;
}

TEST(SimCli, SweepListsTheFailingSeeds) {
  const CmdResult ok = run("sim --topology " + kTopo + " --seed 10 --rate-scale 0.01 --sweep 2");
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;
  EXPECT_NE(ok.out.find("sweep: 2 seeds, 0 failing"), std::string::npos) << ok.out;
  const CmdResult bad =
      run("sim --topology " + kTopo + " --seed 10 --sweep 2 --fault-ignore-health");
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_NE(bad.out.find("sweep: 2 seeds, 2 failing 10 11"), std::string::npos) << bad.out;
}

TEST(SimCli, UsageErrorsExitTwo) {
  EXPECT_EQ(run("sim --topology " + kTopo + " --policy fastest").exit_code, 2);
  EXPECT_EQ(run("sim").exit_code, 2);
}

}  // namespace
