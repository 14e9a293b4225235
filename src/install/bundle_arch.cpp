#include "install/bundle_arch.hpp"

#include <system_error>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"
#include "platform/machine_arch.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {
constexpr int max_depth = 4;  // MLNX_OFED_LINUX-*/DEBS/COMMON/x.deb from the unpacked folder is 3

std::optional<std::string> arch_file(const fs::path& file) {
  try {
    auto content = read_file_if_exists(file, 256);
    if (!content) return std::nullopt;
    return platform::canonical_arch(text::trim(text::split(*content, '\n').front()));
  } catch (const std::exception& error) {  // larger than an arch name, unreadable: it says nothing
    log::debug(error.what());
    return std::nullopt;
  }
}
}  // namespace

std::optional<ContentArch> foreign_content_arch(const fs::path& folder, const std::string& expected) {
  std::error_code error;
  std::error_code ignored;  // an entry that cannot be examined (a dangling link) must not end the walk
  for (auto entry = fs::recursive_directory_iterator(folder, fs::directory_options::none, error);
       !error && entry != fs::recursive_directory_iterator(); entry.increment(error)) {
    if (entry.depth() >= max_depth) entry.disable_recursion_pending();
    if (entry->symlink_status(ignored).type() != fs::file_type::regular) continue;
    auto name = entry->path().filename().string();
    std::optional<std::string> stated;
    if (name == ".arch") {
      // MLNX_OFED's top level only (MLNX_OFED_LINUX-*/.arch: "x86_64" / "aarch64").
      if (entry.depth() == 1) stated = arch_file(entry->path());
    } else if (name.ends_with(".deb") || name.ends_with(".rpm")) {
      stated = platform::bundle_arch_from_name(name);
    }
    if (stated && *stated != expected) return ContentArch{*stated, fs::relative(entry->path(), folder, ignored).generic_string()};
  }
  if (error) log::warning(fmt::format("{} could not be read to the end ({}): its architecture is judged from what was read", folder.string(), error.message()));
  return std::nullopt;
}

void check_content_arch(const fs::path& folder, const std::string& bundle_name, const std::string& expected) {
  if (expected.empty()) return;
  auto foreign = foreign_content_arch(folder, expected);
  if (!foreign) return;
  throw Error(ExitCode::operation_failed,
              fmt::format("the driver bundle {} holds packages for {} ({}), and this machine is {}", bundle_name, foreign->arch,
                          text::printable(foreign->evidence, 200), expected),
              fmt::format("use the bundle built for {} (its file name ends in {}): nothing of this bundle was installed", expected,
                          expected == "aarch64" ? "aarch64 or arm64" : "x86_64 or amd64"));
}

}  // namespace ibdriver::install
