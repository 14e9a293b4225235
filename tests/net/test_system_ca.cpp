#include <cstdlib>
#include <optional>
#include <set>
#include <string>
#include <utility>

#include <catch2/catch.hpp>

#include "net/system_ca.hpp"

using namespace ibdriver;

namespace {
// Sets or clears an environment variable for one scope, and puts the old value back.
class ScopedEnv {
 public:
  ScopedEnv(std::string name, const char* value) : name_(std::move(name)) {
    if (const char* old = std::getenv(name_.c_str())) old_ = old;
    if (value) {
      ::setenv(name_.c_str(), value, 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }
  ScopedEnv(const ScopedEnv&) = delete;
  ScopedEnv& operator=(const ScopedEnv&) = delete;
  ~ScopedEnv() {
    if (old_) {
      ::setenv(name_.c_str(), old_->c_str(), 1);
    } else {
      ::unsetenv(name_.c_str());
    }
  }

 private:
  std::string name_;
  std::optional<std::string> old_;
};
}  // namespace

TEST_CASE("the portable build's CA bundle: the distro's, unless the environment names a store", "[net][ca]") {
  ScopedEnv file("SSL_CERT_FILE", nullptr);
  ScopedEnv dir("SSL_CERT_DIR", nullptr);
  auto only = [](std::set<std::string> present) {
    return [present = std::move(present)](const std::string& path) { return present.count(path) > 0; };
  };

  // Debian first; a RHEL-family system has only /etc/pki's; SUSE its own; p11-kit's last.
  CHECK(net::system_ca_bundle(only({"/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt"})) ==
        "/etc/ssl/certs/ca-certificates.crt");
  CHECK(net::system_ca_bundle(only({"/etc/pki/tls/certs/ca-bundle.crt"})) == "/etc/pki/tls/certs/ca-bundle.crt");
  CHECK(net::system_ca_bundle(only({"/etc/ssl/ca-bundle.pem"})) == "/etc/ssl/ca-bundle.pem");
  CHECK(net::system_ca_bundle(only({"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"})) ==
        "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem");
  CHECK_FALSE(net::system_ca_bundle(only({})).has_value());

  {
    ScopedEnv named("SSL_CERT_FILE", "/srv/mirror-ca.pem");
    CHECK_FALSE(net::system_ca_bundle(only({"/etc/ssl/certs/ca-certificates.crt"})).has_value());
  }
  {
    ScopedEnv named("SSL_CERT_DIR", "/srv/certs");
    CHECK_FALSE(net::system_ca_bundle(only({"/etc/ssl/certs/ca-certificates.crt"})).has_value());
  }
  {
    ScopedEnv empty("SSL_CERT_FILE", "");  // empty: not a choice
    CHECK(net::system_ca_bundle(only({"/etc/pki/tls/certs/ca-bundle.crt"})) == "/etc/pki/tls/certs/ca-bundle.crt");
  }
}
