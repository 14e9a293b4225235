#include "install/mofed_bundle.hpp"

#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {
std::string first_line(const fs::path& file) {
  auto content = read_file_if_exists(file, 4096);
  if (!content) {
    throw Error(ExitCode::operation_failed, fmt::format("the bundle has no {}", file.string()),
                "this is not an MLNX_OFED tarball, or it is damaged");
  }
  return std::string(text::trim(text::split(*content, '\n').front()));
}

bool has_rpm_files(const fs::path& folder) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(folder, error)) {
    if (entry.path().extension() == ".rpm") return true;
  }
  return false;
}
}  // namespace

MofedBundle inspect_mofed_bundle(const fs::path& unpacked, const catalog::DriverRelease& release, PackageFormat format) {
  MofedBundle bundle;
  bundle.format = format;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(unpacked, error)) {
    if (entry.is_directory() && entry.path().filename().string().rfind("MLNX_OFED_LINUX-", 0) == 0) {
      bundle.top = entry.path();
    }
  }
  if (bundle.top.empty()) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{} holds no MLNX_OFED_LINUX-* folder", release.file_name()),
                "the file is not an MLNX_OFED tarball: check the catalog row or the pinned URL");
  }
  bundle.version = first_line(bundle.top / ".mlnx");
  bundle.label = first_line(bundle.top / "distro");
  if (!release.version.empty() && release.version != "custom" && bundle.version != release.version) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{}: .mlnx says version {}, the catalog row says {}", release.file_name(),
                            text::printable(bundle.version), release.version),
                "the bundle is not the release its row describes: fix the row or the mirror's file");
  }
  if (!release.label.empty() && bundle.label != release.label) {
    throw Error(ExitCode::operation_failed,
                fmt::format("{}: distro says {}, the catalog row's file name says {}", release.file_name(),
                            text::printable(bundle.label), release.label),
                "the bundle was built for another OS than its row says: fix the row or the mirror's file");
  }
  if (format == PackageFormat::rpm) {
    bundle.repository = bundle.top / "RPMS";
    if (!has_rpm_files(bundle.repository)) {
      bool debs = fs::exists(bundle.top / "DEBS", error);
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} has no RPMS/ folder of .rpm packages{}", bundle.top.filename().string(),
                              debs ? " (it has DEBS/: a bundle for Debian or Ubuntu)" : ""),
                  "use the bundle built for this OS (the catalog row for it)");
    }
    return bundle;
  }
  bundle.repository = bundle.top / "DEBS";
  if (!fs::exists(bundle.repository / "Packages", error)) {
    bool rpms = fs::exists(bundle.top / "RPMS", error);
    throw Error(ExitCode::operation_failed,
                fmt::format("{} has no DEBS/Packages apt repository{}", bundle.top.filename().string(),
                            rpms ? " (it has RPMS/: a bundle for an RPM-based OS)" : ""),
                "use the bundle built for this OS (the catalog row for it)");
  }
  return bundle;
}

}  // namespace ibdriver::install
