#include "support/https_server.hpp"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "fetch/sha256.hpp"

namespace ibdriver::test {

namespace fs = std::filesystem;

std::string deterministic_bytes(std::size_t size, unsigned seed) {
  std::string bytes(size, '\0');
  std::uint64_t state = 0x9e3779b97f4a7c15ULL * (seed + 1);
  for (std::size_t i = 0; i < size; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    bytes[i] = static_cast<char>(state & 0xff);
  }
  return bytes;
}

namespace {
std::string slurp(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream content;
  content << in.rdbuf();
  return content.str();
}

template <typename Ready>
void wait_for(Ready ready, const char* what) {
  for (int i = 0; i < 400; ++i) {
    if (ready()) return;
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  throw std::runtime_error(fmt::format("{} did not start within 10 s", what));
}

int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
  int port = ntohs(address.sin_port);
  ::close(fd);
  return port;
}
}  // namespace

HttpsServer::HttpsServer() {
  fs::create_directories(dir_.path() / "files");
  auto certs = run_process({"python3", std::string(IBDRIVER_TEST_SERVERS) + "/make_test_certs.py", (dir_.path() / "certs").string()});
  if (!certs.succeeded()) throw std::runtime_error("cannot make the test certificates: " + certs.err);
  auto port_file = dir_.path() / "ports.json";
  process_ = std::make_unique<ChildProcess>(
      std::vector<std::string>{"python3", std::string(IBDRIVER_TEST_SERVERS) + "/https_server.py", "--dir",
                               (dir_.path() / "files").string(), "--certs", (dir_.path() / "certs").string(),
                               "--port-file", port_file.string(), "--log", (dir_.path() / "requests.log").string()},
      ProcessOptions{});
  wait_for([&] { return fs::exists(port_file); }, "the HTTPS test server");
  auto ports = nlohmann::json::parse(slurp(port_file));
  for (const auto& [name, port] : ports.items()) ports_[name] = port.get<int>();
}

std::string HttpsServer::add_file(const std::string& name, std::size_t size) {
  auto bytes = deterministic_bytes(size);
  std::ofstream(file(name), std::ios::binary) << bytes;
  fetch::Sha256 hash;
  hash.update(bytes);
  return hash.finish();
}

std::string HttpsServer::url(const std::string& modes, const std::string& name, const std::string& listener) const {
  return fmt::format("{}://127.0.0.1:{}/{}/{}", listener == "http" ? "http" : "https", ports_.at(listener), modes, name);
}

std::vector<std::string> HttpsServer::requests() const {
  std::vector<std::string> lines;
  std::ifstream in(dir_.path() / "requests.log");
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

ForwardProxy::ForwardProxy() : port_(free_port()) {
  auto config = dir_.path() / "tinyproxy.conf";
  std::ofstream(config) << fmt::format(
      "Port {}\nListen 127.0.0.1\nTimeout 60\nLogFile \"{}\"\nLogLevel Connect\nMaxClients 20\n"
      "Allow 127.0.0.1\nDisableViaHeader Yes\n",
      port_, (dir_.path() / "tinyproxy.log").string());
  process_ = std::make_unique<ChildProcess>(std::vector<std::string>{"tinyproxy", "-d", "-c", config.string()},
                                            ProcessOptions{});
  wait_for(
      [&] {
        int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<std::uint16_t>(port_));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bool up = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        return up;
      },
      "tinyproxy");
}

std::string ForwardProxy::url() const { return fmt::format("http://127.0.0.1:{}", port_); }
std::string ForwardProxy::log() const { return slurp(dir_.path() / "tinyproxy.log"); }

}  // namespace ibdriver::test
