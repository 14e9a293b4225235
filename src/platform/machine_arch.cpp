#include "platform/machine_arch.hpp"

#include <sys/utsname.h>

#include <exception>

#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

namespace ibdriver::platform {

namespace {

std::string host_machine() {
  utsname name{};
  if (::uname(&name) != 0) return {};
  return name.machine;
}

}  // namespace

std::optional<std::string> canonical_arch(std::string_view name) {
  if (name == "x86_64" || name == "amd64") return std::string("x86_64");
  if (name == "aarch64" || name == "arm64") return std::string("aarch64");
  return std::nullopt;
}

std::string detect_machine_arch(const SystemRoot& root) {
  std::string machine;
  if (root.is_host_root()) {
    machine = host_machine();
  } else {
    try {
      if (auto text = read_file_if_exists(root.path("/proc/sys/kernel/arch"), 64)) machine = std::string(text::trim(*text));
    } catch (const std::exception& error) {
      log::debug(error.what());
    }
    if (machine.empty()) machine = host_machine();
  }
  return canonical_arch(machine).value_or(machine);
}

std::optional<std::string> bundle_arch_from_name(std::string_view file_name) {
  // The architecture is the last word before the extension, after a '-', '_' or '.'. Plain string
  // work, no regex: a name is at most NAME_MAX bytes, and a longer one states nothing.
  constexpr std::size_t name_max = 255;
  if (file_name.size() > name_max) return std::nullopt;
  for (std::string_view extension : {".tgz", ".tar.gz", ".tar.xz", ".tar.bz2", ".iso", ".deb", ".rpm"}) {
    if (file_name.size() <= extension.size() || file_name.substr(file_name.size() - extension.size()) != extension) continue;
    auto stem = file_name.substr(0, file_name.size() - extension.size());
    for (std::string_view arch : {"x86_64", "aarch64", "amd64", "arm64"}) {
      if (stem.size() <= arch.size() || stem.substr(stem.size() - arch.size()) != arch) continue;
      char separator = stem[stem.size() - arch.size() - 1];
      if (separator == '-' || separator == '_' || separator == '.') return canonical_arch(arch);
    }
    return std::nullopt;
  }
  return std::nullopt;
}

}  // namespace ibdriver::platform
