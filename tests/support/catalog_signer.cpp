#include "support/catalog_signer.hpp"

#include <stdexcept>

#include <fmt/format.h>

#include "core/files.hpp"
#include "core/process.hpp"
#include "support/tools.hpp"

namespace ibdriver::test {

namespace {
void run(const std::vector<std::string>& argv) {
  auto result = run_process(argv);
  if (!result.succeeded()) throw std::runtime_error(format_command(argv) + ": " + result.err);
}
}  // namespace

CatalogSigner::CatalogSigner() : private_key_(dir_.path() / "publisher.key.pem"), public_key_(dir_.path() / "publisher.pub.pem") {
  run({"openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", private_key_.string()});
  run({"openssl", "pkey", "-in", private_key_.string(), "-pubout", "-out", public_key_.string()});
}

catalog::TrustedKey CatalogSigner::trusted() const { return {"test publisher", file_text(public_key_)}; }

std::string CatalogSigner::sign(const std::filesystem::path& file, const std::string& document) const {
  write_file_atomically(file, document);
  run({std::string(IBDRIVER_SOURCE_DIR) + "/packaging/sign-catalog", private_key_.string(), file.string()});
  return file_text(file.string() + ".sig");
}

std::string CatalogSigner::sign_raw(const std::filesystem::path& file, const std::string& document) const {
  write_file_atomically(file, document);
  run({"openssl", "dgst", "-sha256", "-sign", private_key_.string(), "-out", file.string() + ".sig", file.string()});
  return file_text(file.string() + ".sig");
}

std::string channel_document(long long serial, const std::string& rows) {
  return fmt::format(R"({{"schema": 1, "serial": {}, "releases": [{}]}})", serial, rows);
}

std::string release_row(const std::string& name, const std::string& sha256, const std::string& os_version) {
  return fmt::format(R"({{"kind": "mofed-tgz", "version": "24.10-1.1.4.0", "os": {{"id": "debian", "version": "{}"}},
    "label": "debian{}", "url": "https://mirror.example/{}", "sha256": "{}", "min_generation": "connectx-4"}})",
                     os_version, os_version, name, sha256);
}

}  // namespace ibdriver::test
