// Pending-HELLO slots are bounded per source address (transports.tcp.maxPendingHellosPerSource):
// one host that opens idle connections to the service port and never says HELLO cannot keep
// real services out.
#include <gtest/gtest.h>

#include "gateway_run.hpp"

namespace stella::e2e {
namespace {

// A TCP connection from `source` (any 127/8 address works on loopback) to 127.0.0.1:port.
int connect_from(const char* source, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in local{};
  local.sin_family = AF_INET;
  ::inet_pton(AF_INET, source, &local.sin_addr);
  sockaddr_in remote{};
  remote.sin_family = AF_INET;
  remote.sin_port = htons(port);
  remote.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0 ||
      ::connect(fd, reinterpret_cast<sockaddr*>(&remote), sizeof remote) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

// True when the gateway closed `fd` (EOF or reset) within `wait`.
bool closed_by_peer(int fd, std::chrono::milliseconds wait) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(wait.count())) <= 0) return false;
  char c;
  return ::recv(fd, &c, 1, 0) <= 0;
}

TEST(ServiceSlots, IdleConnectionsFromOneSourceAreBoundedAndOthersStillRegister) {
  std::string config = test_config();
  config.replace(config.find("    port: 0\n"), 0, "    maxPendingHellosPerSource: 8\n");
  GatewayRun gw(config);
  ASSERT_TRUE(gw.ok()) << gw.gateway_log();
  std::vector<int> idle;
  for (int i = 0; i < 12; ++i)
    idle.push_back(connect_from("127.0.0.2", gw.tcp()));
  int closed = 0;
  for (int fd : idle) {
    ASSERT_GE(fd, 0);
    if (closed_by_peer(fd, 200ms)) ++closed;
  }
  EXPECT_EQ(closed, 4);  // the ninth and later from that address
  // A service from another address registers while those eight wait.
  gw.start_service("demo-1");
  EXPECT_TRUE(gw.wait_instances(1)) << gw.gateway_log();
  for (int fd : idle)
    ::close(fd);
}

}  // namespace
}  // namespace stella::e2e
