#include "cli/text_report.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/text.hpp"

namespace ibdriver::cli {

namespace {
void row(std::FILE* out, std::string_view label, std::string_view value) { fmt::print(out, "{:<13} {}\n", label, value); }
}  // namespace

void print_platform(std::FILE* out, const platform::PlatformReport& report) {
  if (report.os) {
    row(out, "OS", fmt::format("{} ({} {}, from {})", report.os->pretty_name.empty() ? report.os->id : report.os->pretty_name,
                               report.os->id, report.os->version(), report.os->source_file));
  } else {
    row(out, "OS", "not identified");
  }
  std::vector<std::string> kernels;
  for (const auto& kernel : report.kernels.installed) {
    kernels.push_back(kernel.has_headers ? kernel.release : kernel.release + " (no headers)");
  }
  row(out, "Kernel", fmt::format("running {}; installed: {}",
                                 report.kernels.running.empty() ? std::string("unknown") : report.kernels.running,
                                 kernels.empty() ? std::string("none found") : fmt::format("{}", fmt::join(kernels, ", "))));
  row(out, "Hyper-V", fmt::format("VMBus {}; DMI vendor \"{}\", product \"{}\"",
                                  report.hyperv.vmbus ? fmt::format("present ({} devices)", report.hyperv.vmbus_devices)
                                                      : std::string("absent"),
                                  report.hyperv.sys_vendor, report.hyperv.product_name));
  if (report.pci.mellanox.empty()) row(out, "Mellanox", "no device");
  for (const auto& device : report.pci.mellanox) {
    row(out, "Mellanox",
        fmt::format("{} {} [{}]: {} ({})", device.address,
                    device.model ? std::string(device.model->name) : fmt::format("unknown device 0x{:04x}", device.device_id),
                    device.virtual_function ? "VF" : "PF", platform::to_string(device.link), device.link_evidence));
  }
  for (const auto& ignored : report.pci.ignored) row(out, "Ignored", ignored);
  row(out, "Secure Boot", fmt::format("{} ({})", platform::to_string(report.secure_boot.state), report.secure_boot.evidence));
  if (report.vm) {
    row(out, "VM size", fmt::format("{} ({} {} {}, {})", report.vm->vm_size, report.vm->publisher, report.vm->offer,
                                    report.vm->sku, report.vm->location));
  } else {
    row(out, "VM size", "not queried or unknown");
  }
}

void print_checks(std::FILE* out, const platform::PlatformReport& report) {
  fmt::print(out, "Checks\n");
  for (const auto& check : report.checks) {
    fmt::print(out, "  {:<8} {:<8} {}\n", check.name, platform::to_string(check.state), check.message);
  }
}

void print_plan(std::FILE* out, const pipeline::Plan& plan) {
  print_platform(out, plan.platform);
  print_checks(out, plan.platform);
  if (plan.resolution) {
    const auto& release = plan.resolution->release;
    fmt::print(out, "Driver\n");
    fmt::print(out, "  {:<15} {} {} (built for {})\n", "release", to_string(release.kind), release.version, release.label);
    fmt::print(out, "  {:<15} {}\n", "chosen because", plan.resolution->rule);
    if (release.downloads()) {
      fmt::print(out, "  {:<15} {}\n", "url", text::redact_url(release.url));
      fmt::print(out, "  {:<15} {}\n", "sha256", release.sha256);
    } else {
      fmt::print(out, "  {:<15} {} (from the distribution's repositories)\n", "packages", fmt::join(release.packages, " "));
    }
    fmt::print(out, "Install\n");
    fmt::print(out, "  {:<15} {}\n", "package manager", plan.package_manager);
    fmt::print(out, "  {:<15} {}\n", "profile", plan.profile);
    fmt::print(out, "  {:<15} {}\n", "DKMS kernels", plan.kernels.empty() ? std::string("none") : fmt::format("{}", fmt::join(plan.kernels, ", ")));
    fmt::print(out, "Configure\n");
    for (const auto& change : plan.configuration) {
      fmt::print(out, "  {:<33} {}{}\n", change.target, change.change, change.target_present ? "" : " (not present yet)");
    }
  }
  for (const auto& note : plan.notes) fmt::print(out, "Note: {}\n", note);
}

}  // namespace ibdriver::cli
