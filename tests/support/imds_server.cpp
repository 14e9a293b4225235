#include "support/imds_server.hpp"

#include <chrono>
#include <fstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

namespace ibdriver::test {

ImdsServer::ImdsServer(const std::vector<std::string>& arguments) {
  auto port_file = dir_.path() / "port";
  std::vector<std::string> argv{"python3", std::string(IBDRIVER_TEST_SERVERS) + "/imds_server.py", "--port-file",
                                port_file.string()};
  argv.insert(argv.end(), arguments.begin(), arguments.end());
  process_ = std::make_unique<ChildProcess>(argv, ProcessOptions{});
  for (int i = 0; i < 200 && port_ == 0; ++i) {
    std::ifstream in(port_file);
    if (!(in >> port_)) {
      port_ = 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  }
  if (port_ == 0) throw std::runtime_error("the IMDS test server did not start within 5 s");
}

std::string ImdsServer::url() const {
  return fmt::format("http://127.0.0.1:{}/metadata/instance/compute?api-version=2021-02-01", port_);
}

}  // namespace ibdriver::test

namespace ibdriver::test {
std::string ImdsServer::base_url() const { return fmt::format("http://127.0.0.1:{}", port_); }
}  // namespace ibdriver::test
