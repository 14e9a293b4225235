#pragma once
#include <optional>
#include <string>
#include <vector>

#include "core/system_root.hpp"
#include "install/dkms.hpp"
#include "install/journal.hpp"
#include "install/module_signing.hpp"

namespace ibdriver::install {

// Builds a bundle's DKMS modules for one kernel so that the kernel ends with every module installed
// (and signed by the configured certificate when signing): the one builder `install` and `repair`
// share. Modules come in build order (install/dkms.hpp build_order); a module whose dependency was
// rebuilt is rebuilt too, since it links against the dependency's exported symbols.
class DkmsBuilder {
 public:
  // `certificate`: the system path of the MOK certificate every module must be signed with (nullopt:
  // no signing required).
  DkmsBuilder(const SystemRoot& root, DkmsSettings settings, std::optional<std::string> certificate = {});

  // What the kernel lacks of one module, in words ("not installed by DKMS", "<file> missing",
  // "<file> not signed by <cert>"); empty when complete.
  std::vector<std::string> lacking(const DkmsModule& module, const std::string& kernel) const;
  // Sentences for every module the kernel lacks ("iser/24.10: not installed by DKMS").
  std::vector<std::string> missing(const std::vector<DkmsModule>& modules, const std::string& kernel) const;
  // Builds and installs what the kernel lacks, journaling each module's kernel once installed (the
  // module itself must be journaled before, with Journal::add_dkms_module). Returns "name/version"
  // of every module built. Error 14 naming the module, the kernel and the make.log on a failed
  // build, or a module DKMS built without the required signature.
  std::vector<std::string> ensure(const std::vector<DkmsModule>& modules, const std::string& kernel, Journal& journal) const;

 private:
  bool signed_as_required(const DkmsModule& module, const std::string& kernel) const;

  const SystemRoot& root_;
  Dkms dkms_;
  std::optional<std::string> certificate_;
};

// The journal's modules as their registered sources describe them (/usr/src/<name>-<version>/dkms.conf),
// in build order. Error 14 naming the file when a source is gone (its package was removed).
std::vector<DkmsModule> journaled_modules(const SystemRoot& root, const JournalRecord& journal);

}  // namespace ibdriver::install
