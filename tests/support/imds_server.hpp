#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/process.hpp"
#include "support/temp_dir.hpp"

namespace ibdriver::test {

// tests/servers/imds_server.py on 127.0.0.1, stopped (with its process group) when this goes away.
class ImdsServer {
 public:
  explicit ImdsServer(const std::vector<std::string>& arguments = {});
  std::string url() const;  // the instance/compute URL, as IMDS spells it
  std::string base_url() const;  // http://127.0.0.1:<port>, no path
  int port() const { return port_; }

 private:
  TempDir dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

}  // namespace ibdriver::test
