#pragma once
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/process.hpp"
#include "support/temp_dir.hpp"

namespace ibdriver::test {

// tests/servers/https_server.py with a PKI made for it (tests/servers/make_test_certs.py): a real
// HTTPS server on 127.0.0.1 with fault modes chosen per request by the URL path.
class HttpsServer {
 public:
  HttpsServer();
  // Writes a file of `size` deterministic pseudo-random bytes into the served folder; returns its SHA-256.
  std::string add_file(const std::string& name, std::size_t size);
  // https://127.0.0.1:<port>/<modes>/<name> on the listener (good, wrong_host, expired, unknown_ca, http).
  std::string url(const std::string& modes, const std::string& name, const std::string& listener = "good") const;
  std::filesystem::path ca_file() const { return dir_.path() / "certs" / "ca.pem"; }
  std::filesystem::path file(const std::string& name) const { return dir_.path() / "files" / name; }
  // The requests received so far: "listener mode path range" lines.
  std::vector<std::string> requests() const;
  int port(const std::string& listener) const { return ports_.at(listener); }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  std::map<std::string, int> ports_;
};

// Debian's tinyproxy on 127.0.0.1, logging every request it forwards.
class ForwardProxy {
 public:
  ForwardProxy();
  std::string url() const;
  std::string log() const;  // tinyproxy's log so far

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

// The deterministic bytes add_file writes (so tests can make partial files of them).
std::string deterministic_bytes(std::size_t size, unsigned seed = 1);

}  // namespace ibdriver::test
