#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/system_root.hpp"

namespace ibdriver::install {

// A change the configure stage made, with what it replaced, so uninstall can put it back.
struct ConfigChange {
  std::string file;                      // system path
  std::string action;                    // "created" or "edited"
  std::optional<std::string> original;   // the file's content before (edited)
};

// The last `ibdriver repair` that had something to do.
struct RepairRecord {
  std::string kernel;
  std::vector<std::string> rebuilt;  // DKMS modules built again ("name/version")
  std::string result;                // "running", "repaired", "failed: <why>"
  std::string at;                    // UTC, ISO 8601
};

// What ibdriver did to a machine (<root>/var/lib/ibdriver/state.json, written atomically after every
// step): a re-run skips what is done and still true, an interrupted run resumes, uninstall removes
// exactly what was added.
struct Journal {
  std::string release_version;
  std::string release_file;
  std::string sha256;
  std::string bundle_dir;                 // system path of the unpacked bundle
  std::vector<std::string> repository_files;  // apt source files ibdriver wrote
  std::vector<std::string> packages;      // installed by ibdriver (were absent before)
  std::string profile;
  std::map<std::string, std::string> dkms_modules;                // name -> version, in build order
  std::map<std::string, std::vector<std::string>> dkms_kernels;   // name -> kernels built for
  // Kernels that had no depmod index before DKMS ran for them (headers without the kernel's own
  // modules: a build host, a chroot): uninstall removes the index DKMS's depmod created there.
  std::vector<std::string> depmod_created;
  std::vector<ConfigChange> configuration;
  std::map<std::string, std::string> stages;  // stage -> "done"
  // Secure Boot: the MOK key pair DKMS signs with (empty when not signing), and whether install made it.
  std::string mok_key;
  std::string mok_certificate;
  bool mok_key_generated = false;
  std::optional<RepairRecord> last_repair;

  static std::filesystem::path path(const SystemRoot& root);
  static std::optional<Journal> load(const SystemRoot& root);  // nullopt when there is none; Error when corrupt
  static Journal parse(std::string_view text, const std::string& origin);  // Error (14) when damaged
  void save(const SystemRoot& root) const;
  static void erase(const SystemRoot& root);
};

void to_json(nlohmann::json& out, const Journal& journal);

}  // namespace ibdriver::install
