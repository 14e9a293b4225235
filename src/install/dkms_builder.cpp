#include "install/dkms_builder.hpp"

#include <algorithm>
#include <set>
#include <system_error>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "install/module_sources.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

DkmsBuilder::DkmsBuilder(const SystemRoot& root, DkmsSettings settings, std::optional<std::string> certificate)
    : root_(root), dkms_(settings), certificate_(std::move(certificate)) {}

bool DkmsBuilder::signed_as_required(const DkmsModule& module, const std::string& kernel) const {
  if (!certificate_) return true;
  auto files = dkms_installed_module_files(root_, module.name, module.version, kernel);
  return std::all_of(files.begin(), files.end(),
                     [&](const auto& file) { return module_signed_with(root_.path(file), root_.path(*certificate_)); });
}

std::vector<std::string> DkmsBuilder::lacking(const DkmsModule& module, const std::string& kernel) const {
  if (dkms_installed_kernels(root_, module.name, module.version).count(kernel) == 0) return {"not installed by DKMS"};
  std::vector<std::string> lacks;
  // DKMS's tree can say installed while the files are gone: what the kernel would find counts.
  for (const auto& file : dkms_missing_module_files(root_, module.name, module.version, kernel)) lacks.push_back(file + " missing");
  if (lacks.empty() && !signed_as_required(module, kernel)) lacks.push_back(fmt::format("not signed with {}", *certificate_));
  return lacks;
}

std::vector<std::string> DkmsBuilder::missing(const std::vector<DkmsModule>& modules, const std::string& kernel) const {
  std::vector<std::string> sentences;
  for (const auto& module : modules) {
    auto lacks = lacking(module, kernel);
    if (!lacks.empty()) sentences.push_back(fmt::format("{}/{}: {}", module.name, module.version, fmt::join(lacks, ", ")));
  }
  return sentences;
}

std::vector<std::string> DkmsBuilder::ensure(const std::vector<DkmsModule>& modules, const std::string& kernel, Journal& journal) const {
  std::vector<std::string> built;
  std::set<std::string> rebuilt;
  for (const auto& module : modules) {
    auto lacks = lacking(module, kernel);
    bool dependency_rebuilt = std::any_of(module.build_depends.begin(), module.build_depends.end(),
                                          [&](const auto& dependency) { return rebuilt.count(dependency) != 0; });
    if (lacks.empty() && !dependency_rebuilt) {
      journal.add_dkms_kernel(module.name, kernel);
      continue;
    }
    std::error_code error;
    if (!fs::exists(root_.path("/lib/modules/" + kernel + "/modules.dep"), error)) journal.add_depmod_created(kernel);
    // Installed per DKMS's tree but incomplete, unsigned or built against an old dependency: start over.
    if (dkms_installed_kernels(root_, module.name, module.version).count(kernel) != 0) dkms_.unbuild(module, kernel);
    dkms_.install(module, kernel);
    if (!signed_as_required(module, kernel)) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("DKMS built {}/{} for kernel {} without a signature by {}, so Secure Boot will refuse to load it",
                              module.name, module.version, kernel, *certificate_),
                  fmt::format("check DKMS's sign-file and {} (`dkms build -m {} -v {} -k {} --force` prints \"Signing module\")",
                              dkms_signing_dropin, module.name, module.version, kernel));
    }
    journal.add_dkms_kernel(module.name, kernel);
    rebuilt.insert(module.name);
    built.push_back(module.name + "/" + module.version);
  }
  return built;
}

std::vector<DkmsModule> journaled_modules(const SystemRoot& root, const JournalRecord& journal) {
  std::vector<DkmsModule> modules;
  for (const auto& journaled : journal.dkms_modules) {
    auto conf = fmt::format("/usr/src/{}-{}/dkms.conf", journaled.name, journaled.version);
    auto text = read_file_if_exists(root.path(conf), 1024 * 1024);
    if (!text) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("the source of DKMS module {}/{} is gone ({} is missing), so it cannot be built", journaled.name,
                              journaled.version, conf),
                  "its package was removed: run the install again");
    }
    modules.push_back(parse_dkms_conf(*text, conf));
  }
  return build_order(with_core_module_names(std::move(modules)));
}

}  // namespace ibdriver::install
