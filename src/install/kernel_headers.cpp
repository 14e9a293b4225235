#include "install/kernel_headers.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/log.hpp"
#include "platform/kernels.hpp"

namespace ibdriver::install {

namespace {

bool has_headers(const SystemRoot& root, const std::string& kernel) {
  auto headed = platform::detect_kernels(root).with_headers();
  return std::find(headed.begin(), headed.end(), kernel) != headed.end();
}

}  // namespace

std::vector<std::string> install_kernel_headers(PackageManager& packages, const SystemRoot& root,
                                                const std::vector<platform::MissingHeaders>& missing, Journal& journal) {
  std::vector<std::string> names;
  std::vector<std::string> kernels;
  for (const auto& kernel : missing) {
    if (has_headers(root, kernel.kernel)) continue;  // a re-run after the headers came
    if (kernel.package.empty()) {
      throw Error(ExitCode::operation_failed, fmt::format("kernel {} has no headers and {} names no package that brings them", kernel.kernel, packages.name()),
                  fmt::format("install the headers of {} by hand, so /lib/modules/{}/build exists, and run again", kernel.kernel, kernel.kernel));
    }
    names.push_back(kernel.package);
    kernels.push_back(kernel.kernel);
  }
  if (names.empty()) return {};
  log::info(fmt::format("installing the kernel headers {} with {}", fmt::join(names, " "), packages.name()));
  // One name for every version (RPM's kernel-devel) would remove them all on uninstall: what the
  // manager reports by such a name is journaled as the version asked for.
  auto as_asked = [&](std::vector<std::string> added) {
    for (auto& name : added) {
      for (const auto& asked : names) {
        if (asked.rfind(name + "-", 0) == 0) name = asked;
      }
    }
    return added;
  };
  try {
    journal.add_headers_packages(packages.not_installed(names));
    journal.add_headers_packages(as_asked(packages.would_install(names)));
    journal.add_headers_packages(as_asked(packages.install(names)));
  } catch (const Error& error) {
    throw Error(ExitCode::operation_failed,
                fmt::format("installing the headers of kernel(s) {} ({}) failed: {}", fmt::join(kernels, ", "), fmt::join(names, " "), error.what()),
                fmt::format("check that the distribution's configured repositories carry {} (refresh them), or install it by hand",
                            fmt::join(names, " ")));
  }
  for (std::size_t i = 0; i < kernels.size(); ++i) {
    if (!has_headers(root, kernels[i])) {
      throw Error(ExitCode::operation_failed,
                  fmt::format("{} is installed, but kernel {} still has no headers (no /lib/modules/{}/build)", names[i], kernels[i], kernels[i]),
                  fmt::format("install the package that provides /lib/modules/{}/build and run again", kernels[i]));
    }
  }
  return kernels;
}

}  // namespace ibdriver::install
