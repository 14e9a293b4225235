#include "install/local_repository.hpp"

#include <unistd.h>

#include <cstdlib>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

std::optional<fs::path> find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  for (auto folder : text::split(path != nullptr ? path : "/usr/sbin:/usr/bin:/sbin:/bin", ':')) {
    if (folder.empty()) continue;
    auto candidate = fs::path(std::string(folder)) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return std::nullopt;
}

void ensure_rpm_metadata(const fs::path& folder, std::chrono::seconds timeout) {
  std::error_code error;
  if (fs::exists(folder / "repodata" / "repomd.xml", error)) return;
  bool has_rpms = false;
  for (const auto& entry : fs::recursive_directory_iterator(folder, error)) {
    if (entry.path().extension() == ".rpm") {
      has_rpms = true;
      break;
    }
  }
  if (!has_rpms) {
    throw Error(ExitCode::operation_failed, fmt::format("{} holds no .rpm packages", folder.string()),
                "the bundle is not built for an RPM-based OS: use the catalog row for this OS");
  }
  auto tool = find_program("createrepo_c");
  if (!tool) tool = find_program("createrepo");
  if (!tool) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} has no repodata/ and createrepo_c is not installed to make it", folder.string()),
                "install createrepo_c (dnf install createrepo_c; zypper install createrepo_c; tdnf install "
                "createrepo_c; yum install createrepo on EL7), then run ibdriver again");
  }
  log::info(fmt::format("indexing the bundle's packages in {} with {}", folder.string(), tool->filename().string()));
  ProcessOptions options;
  options.time_limit = timeout;
  auto result = run_process({tool->string(), "--quiet", folder.string()}, options);
  if (!result.succeeded() || !fs::exists(folder / "repodata" / "repomd.xml", error)) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} {} {}:\n{}", tool->filename().string(), folder.string(), result.describe_end(), result.tail(8)),
                "check that the bundle's .rpm files are intact (the bundle may be damaged: fetch it again)");
  }
}

}  // namespace ibdriver::install
