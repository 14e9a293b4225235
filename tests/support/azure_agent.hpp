#pragma once
#include <chrono>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/process.hpp"

namespace ibdriver::test {

// What the Azure guest agent does with an extension, laid out under a test root exactly as on a VM:
// <root>/var/lib/waagent/Microsoft.HpcCompute.InfiniBandDriverLinux-<version>/ with
// HandlerEnvironment.json, config/<seq>.settings (protected settings encrypted with `openssl cms` for a
// test certificate kept in <root>/var/lib/waagent as <THUMBPRINT>.crt/.prv), status/, and the log
// folder under <root>/var/log/azure. Commands run as the agent runs them: from the extension folder,
// with its environment variables, killed with their whole process group at the deadline.
class AzureAgent {
 public:
  static constexpr const char* handler_name = "Microsoft.HpcCompute.InfiniBandDriverLinux";

  // chroot: the root is a whole system (the chroot test's Debian root); commands run chrooted into it
  // and every path the agent writes is as seen from inside.
  explicit AzureAgent(std::filesystem::path root, std::string version = "0.1.0.0", bool chroot = false);

  const std::filesystem::path& root() const { return root_; }
  std::filesystem::path folder() const;  // the extension folder
  std::filesystem::path waagent_folder() const { return root_ / "var/lib/waagent"; }
  std::filesystem::path status_file(int sequence) const;
  std::filesystem::path log_folder() const;

  void enable_heartbeat() const;  // a HandlerManifest.json with reportHeartbeat true
  // A self-signed certificate and key as the agent keeps them; returns the thumbprint.
  std::string make_certificate() const;
  // base64 of the DER CMS enveloped data of `plaintext` for the certificate `thumbprint`.
  std::string encrypt(const std::string& plaintext, const std::string& thumbprint) const;

  void write_settings(int sequence, const nlohmann::json& public_settings,
                      const std::optional<nlohmann::json>& protected_settings = std::nullopt,
                      const std::optional<std::string>& thumbprint = std::nullopt) const;
  void write_raw_settings(int sequence, const std::string& text) const;

  // `bin/ibdriver extension <command>` with the agent's variables (plus `environment`).
  ProcessResult run(const std::string& command, int sequence, const std::vector<std::string>& environment = {},
                    std::chrono::seconds deadline = std::chrono::seconds(30)) const;

  std::optional<nlohmann::json> status(int sequence) const;
  // Polls until the status is success or error (or the time is up); returns the last one seen.
  nlohmann::json wait_for_final_status(int sequence, std::chrono::seconds timeout) const;

 private:
  std::filesystem::path seen(const std::filesystem::path& path) const;  // the path as ibdriver sees it
  std::filesystem::path root_;
  std::string version_;
  bool chroot_ = false;
};

// What is wrong with a status document compared with the agent's documented shape ("" when nothing).
std::string status_shape_problems(const nlohmann::json& status);

// Every file under `folder` whose content holds `needle` (for "no secret anywhere" checks).
std::vector<std::string> files_containing(const std::filesystem::path& folder, const std::string& needle);

}  // namespace ibdriver::test
