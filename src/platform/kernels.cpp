#include "platform/kernels.hpp"

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <set>
#include <system_error>

#include "core/files.hpp"
#include "core/log.hpp"
#include "core/text.hpp"

namespace ibdriver::platform {

namespace fs = std::filesystem;

bool kernel_release_less(const std::string& a, const std::string& b) {
  std::size_t i = 0;
  std::size_t j = 0;
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  while (i < a.size() && j < b.size()) {
    if (digit(a[i]) && digit(b[j])) {
      std::size_t i_end = i;
      std::size_t j_end = j;
      while (i_end < a.size() && digit(a[i_end])) ++i_end;
      while (j_end < b.size() && digit(b[j_end])) ++j_end;
      auto left = a.substr(i, i_end - i);
      auto right = b.substr(j, j_end - j);
      left.erase(0, std::min(left.find_first_not_of('0'), left.size()));
      right.erase(0, std::min(right.find_first_not_of('0'), right.size()));
      if (left.size() != right.size()) return left.size() < right.size();
      if (left != right) return left < right;
      i = i_end;
      j = j_end;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<std::string> KernelInventory::with_headers() const {
  std::vector<std::string> releases;
  for (const auto& kernel : installed) {
    if (kernel.has_headers) releases.push_back(kernel.release);
  }
  return releases;
}

namespace {

std::string running_kernel(const SystemRoot& root) {
  if (root.is_host_root()) {
    utsname name{};
    if (::uname(&name) == 0) return name.release;
  }
  try {
    auto release = read_file_if_exists(root.path("/proc/sys/kernel/osrelease"), 256);
    if (release) return std::string(text::trim(*release));
  } catch (const std::exception& error) {
    log::debug(error.what());
  }
  return {};
}

}  // namespace

KernelInventory detect_kernels(const SystemRoot& root) {
  KernelInventory inventory;
  inventory.running = running_kernel(root);
  std::set<std::string> releases;
  for (const char* folder : {"/lib/modules", "/usr/lib/modules"}) {
    std::error_code error;
    fs::directory_iterator entries(root.path(folder), error);
    if (error) continue;
    for (const auto& entry : entries) {
      std::error_code type_error;
      if (entry.is_directory(type_error)) releases.insert(entry.path().filename().string());
    }
  }
  for (const auto& release : releases) {
    InstalledKernel kernel{release, false};
    // "build" is usually an absolute link (/usr/src/linux-headers-...): resolve it inside the root.
    for (const char* folder : {"/lib/modules/", "/usr/lib/modules/"}) {
      auto target = root.resolve(std::string(folder) + release + "/build");
      std::error_code error;
      if (target && fs::is_directory(*target, error) && fs::exists(*target / "Makefile", error)) {
        kernel.has_headers = true;
        break;
      }
    }
    inventory.installed.push_back(kernel);
  }
  std::sort(inventory.installed.begin(), inventory.installed.end(),
            [](const auto& a, const auto& b) { return kernel_release_less(a.release, b.release); });
  return inventory;
}

}  // namespace ibdriver::platform
