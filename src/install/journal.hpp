#pragma once
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <utility>
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

// A DKMS module the install registered, and the kernels it was built and installed for.
struct JournaledModule {
  std::string name;
  std::string version;
  std::vector<std::string> kernels;
};

// A distro package the bundle upgraded in place (rdma-core, libibverbs1...: real bundles ship them
// under the distro's names at higher versions), with the version it had and the package file kept
// to put it back on uninstall (system path; empty when none could be kept).
struct ReplacedPackage {
  std::string name;
  std::string version;
  std::string architecture;
  std::string kept_file;
};

// One stage's record: "done" once it finished ("ran" for a stage that leaves nothing behind: detect,
// resolve, load, validate), how long its last run took (seconds), and for dkms each kernel's build
// (kernel release -> seconds) when it built any.
struct StageRecord {
  std::string state;
  double seconds = 0;
  std::map<std::string, double> kernels{};
};

// What the journal holds (read-only outside Journal).
struct JournalRecord {
  int schema = 2;
  std::string release_version;
  std::string release_file;
  std::string sha256;
  // The catalog row's kind ("mofed-tgz", "doca-host", "distro-packages"); empty in journals written
  // before it was recorded (a downloaded bundle). A distro-packages install has no bundle and no DKMS.
  std::string kind;
  std::string bundle_dir;                      // system path of the unpacked bundle (/var/lib/ibdriver/bundles/<sha256>)
  std::vector<std::string> repository_files;   // package source files ibdriver wrote (system paths)
  std::vector<std::string> packages;           // installed by ibdriver (were absent before)
  // Kernel headers packages `--install-headers` added (were absent before; linux-headers-<kver>,
  // kernel-devel-<version>, with what they pulled in): uninstall removes them.
  std::vector<std::string> headers_packages;
  std::vector<ReplacedPackage> replaced;       // upgraded in place by the bundle (uninstall restores them)
  std::string profile;
  bool ipoib = true;                           // the node settings the configure stage applied
  bool nvidia_peermem = false;                 // (the openibd drop-in that loads nvidia-peermem)
  std::vector<JournaledModule> dkms_modules;   // in build order
  // Kernels that had no depmod index before DKMS ran for them (headers without the kernel's own
  // modules: a build host, a chroot): uninstall removes the index DKMS's depmod created there.
  std::vector<std::string> depmod_created;
  // Folders the vendor packages' build scripts fill outside any package, absent before the install
  // (system paths; see ofed_build_trees): uninstall removes what their removal scripts leave.
  std::vector<std::string> build_trees;
  std::vector<ConfigChange> configuration;
  std::map<std::string, StageRecord> stages;   // stage name -> record
  // Secure Boot: the MOK key pair DKMS signs with (empty when not signing), and whether install made it.
  std::string mok_key;
  std::string mok_certificate;
  bool mok_key_generated = false;
  std::optional<RepairRecord> last_repair;

  const JournaledModule* module(const std::string& name) const;
  bool distro_packages() const { return kind == "distro-packages"; }
  bool stage_done(const std::string& stage) const;
};

// What ibdriver did to a machine (<root>/var/lib/ibdriver/state.json). It changes only through these
// methods, and each saves the file atomically before it returns: a stage records what it is about to
// change before it changes the system, so a run killed at any point converges on the next run, and
// uninstall removes exactly what was added.
//
// Schema 2 (this release). Schema 1 (ibdriver 0.1.0: `dkms_modules` as a name -> version map sorted by
// name, `dkms_kernels` beside it, `stages` as name -> "done") is read and migrated; the next save
// writes schema 2. An unknown newer schema is Error 14 (a newer ibdriver wrote it).
class Journal {
 public:
  static constexpr int schema_version = 2;

  static std::filesystem::path path(const SystemRoot& root);
  static std::optional<Journal> load(const SystemRoot& root);  // nullopt when there is none; Error 14 when damaged
  static JournalRecord parse(std::string_view text, const std::string& origin);  // Error 14 when damaged
  // A journal for a release about to be installed: saved at once.
  static Journal begin(const SystemRoot& root, JournalRecord release);
  static void erase(const SystemRoot& root);

  const JournalRecord& record() const noexcept { return record_; }

  void set_profile(const std::string& profile);
  void set_node(bool ipoib, bool nvidia_peermem);  // the node settings the configure stage applies
  void add_repository_files(const std::vector<std::string>& files);
  void add_packages(const std::vector<std::string>& packages);
  void add_headers_packages(const std::vector<std::string>& packages);
  // Before the upgrade that replaces them: the first record of a package (its original version) wins.
  void add_replaced(const std::vector<ReplacedPackage>& replaced);
  // Registers a module (kept in the order first registered) before DKMS builds it.
  void add_dkms_module(const std::string& name, const std::string& version);
  void add_dkms_kernel(const std::string& name, const std::string& kernel);
  void add_depmod_created(const std::string& kernel);
  void add_build_tree(const std::string& folder);
  // The first original of a file is the one uninstall restores.
  void add_config_change(const ConfigChange& change);
  void set_signing(const std::string& key, const std::string& certificate, bool generated);
  // Records a stage's run: "done", or "ran" when `timing_only` (a stage that leaves nothing to check).
  void mark_stage(const std::string& stage, double seconds, bool timing_only = false,
                  const std::vector<std::pair<std::string, double>>& kernels = {});
  void begin_repair(RepairRecord record);
  void finish_repair(const std::string& result);

 private:
  Journal(SystemRoot root, JournalRecord record) : root_(std::move(root)), record_(std::move(record)) {}
  void save() const;

  SystemRoot root_;
  JournalRecord record_;
};

void to_json(nlohmann::json& out, const JournalRecord& record);
void to_json(nlohmann::json& out, const Journal& journal);

}  // namespace ibdriver::install
