#include "platform/platform_report.hpp"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/log.hpp"
#include "platform/machine_arch.hpp"

namespace ibdriver::platform {

std::string_view to_string(CheckState state) {
  switch (state) {
    case CheckState::passed: return "passed";
    case CheckState::failed: return "failed";
    case CheckState::skipped: return "skipped";
  }
  return "failed";
}

Check* PlatformReport::find_check(std::string_view name) {
  auto found = std::find_if(checks.begin(), checks.end(), [&](const Check& check) { return check.name == name; });
  return found == checks.end() ? nullptr : &*found;
}

const Check* PlatformReport::first_failure() const {
  auto found = std::find_if(checks.begin(), checks.end(),
                            [](const Check& check) { return check.state == CheckState::failed; });
  return found == checks.end() ? nullptr : &*found;
}

ExitCode PlatformReport::exit_code() const {
  const Check* failure = first_failure();
  return failure == nullptr ? ExitCode::success : failure->failure_code;
}

std::vector<ConnectXGeneration> PlatformReport::infiniband_generations() const {
  std::vector<ConnectXGeneration> generations;
  for (const auto* device : pci.infiniband()) {
    if (device->model && std::find(generations.begin(), generations.end(), device->model->generation) == generations.end()) {
      generations.push_back(device->model->generation);
    }
  }
  std::sort(generations.begin(), generations.end());
  return generations;
}

namespace {

Check make_check(const char* name, ExitCode code, bool skipped) {
  Check check;
  check.name = name;
  check.failure_code = code;
  check.state = skipped ? CheckState::skipped : CheckState::passed;
  if (skipped) check.message = "skipped";
  return check;
}

void fail(Check& check, std::string message, std::string hint, Remedies remedies) {
  if (check.state == CheckState::skipped) {
    check.message = fmt::format("skipped; would fail: {}", message);
    return;
  }
  check.state = CheckState::failed;
  check.message = std::move(message);
  check.hint = std::move(hint);
  check.remedies = std::move(remedies);
}

Check vmbus_check(const HyperV& hyperv, bool skip) {
  Check check = make_check("vmbus", ExitCode::no_vmbus, skip);
  if (!hyperv.vmbus) {
    fail(check, "no VMBus devices under /sys/bus/vmbus/devices: this is not a Hyper-V/Azure VM, or hv_vmbus is not loaded",
         "run ibdriver on an Azure VM, or load hv_vmbus", {{Knob::skip_vmbus_check, {}}});
  } else if (!skip) {
    check.message = fmt::format("{} VMBus devices", hyperv.vmbus_devices);
  }
  return check;
}

Check device_check(const PciScan& pci, const std::optional<VmSizeVerdict>& size, bool skip) {
  Check check = make_check("device", ExitCode::no_infiniband_device, skip);
  auto infiniband = pci.infiniband();
  if (infiniband.empty()) {
    std::string seen = pci.mellanox.empty()
                           ? std::string("no Mellanox (0x15b3) PCI device")
                           : fmt::format("{} Mellanox device(s), none InfiniBand (an Accelerated Networking VF is Ethernet)",
                                         pci.mellanox.size());
    if (!pci.ignored.empty()) seen += fmt::format("; {} device(s) with unreadable sysfs entries ignored", pci.ignored.size());
    if (size && size->network_direct) {
      // The size has RDMA, just not the kind OFED drives: telling the user to pick an RDMA size is wrong.
      fail(check, fmt::format("no Mellanox InfiniBand device: {}; {}", seen, size->reason),
           "this size needs no OFED driver: its RDMA works through Network Direct, which the Azure Linux agent "
           "sets up (OS.EnableRDMA=y in /etc/waagent.conf) with an MPI that speaks Network Direct (Intel MPI); for "
           "OFED, resize to an SR-IOV InfiniBand size (e.g. Standard_HB120rs_v3, Standard_HB176rs_v4)",
           {{Knob::skip_device_check, {}}});
      return check;
    }
    fail(check, fmt::format("no Mellanox InfiniBand device: {}", seen),
         "use an InfiniBand VM size (H- or N-series with 'r')", {{Knob::skip_device_check, {}}});
  } else if (!skip) {
    const auto* first = infiniband.front();
    check.message = fmt::format("{} InfiniBand device(s), first {} {}", infiniband.size(), first->address,
                                first->model ? std::string(first->model->name) : fmt::format("id 0x{:04x}", first->device_id));
  }
  return check;
}

}  // namespace

PlatformReport detect_platform(const SystemRoot& root, const DetectOptions& options) {
  PlatformReport report;
  report.hyperv = detect_hyperv(root);
  report.pci = scan_pci(root);
  report.kernels = detect_kernels(root);
  report.arch = detect_machine_arch(root);
  report.secure_boot = detect_secure_boot(root);
  for (const auto& ignored : report.pci.ignored) log::debug(fmt::format("PCI device ignored: {}", ignored));

  // IMDS first: the size shapes the device check's message (a Network Direct size), though the
  // checks still decide in the upstream order.
  Check size_check = make_check("vm-size", ExitCode::vm_size_not_supported, options.skip_vm_size_check);
  if (!options.skip_vm_size_check) {
    try {
      report.vm = query_imds(options.imds);
      report.vm_size = classify_vm_size(report.vm->vm_size);
      if (report.vm_size->infiniband) {
        size_check.message = report.vm_size->reason;
      } else if (report.vm_size->network_direct) {
        fail(size_check, report.vm_size->reason,
             "resize to an SR-IOV InfiniBand size (e.g. Standard_HB120rs_v3); Network Direct needs no OFED driver",
             {{Knob::skip_vm_size_check, {}}});
      } else {
        fail(size_check, fmt::format("{}: not an SR-IOV InfiniBand size", report.vm_size->reason),
             "resize to an H- or N-series 'r' size (e.g. Standard_HB120rs_v3)", {{Knob::skip_vm_size_check, {}}});
      }
    } catch (const ImdsBusy& error) {
      fail(size_check, error.what(), error.hint(), error.remedies());
      size_check.transient = size_check.state == CheckState::failed;
    } catch (const Error& error) {
      if (cancel_requested()) throw;  // stopped (the extension's disable), not an answer about the size
      fail(size_check, error.what(), error.hint(), error.remedies());
    }
  }

  report.checks.push_back(vmbus_check(report.hyperv, options.skip_vmbus_check));
  report.checks.push_back(device_check(report.pci, report.vm_size, options.skip_device_check));

  Check os_check = make_check("os", ExitCode::os_not_supported, options.skip_os_check);
  try {
    report.os = read_os_release(root);
    if (!options.skip_os_check) os_check.message = report.os->pretty_name.empty() ? report.os->id : report.os->pretty_name;
  } catch (const Error& error) {
    fail(os_check, error.what(), error.hint(), error.remedies());
  }
  report.checks.push_back(os_check);
  report.checks.push_back(size_check);
  return report;
}

void to_json(nlohmann::json& out, const PlatformReport& report) {
  using Json = nlohmann::json;
  out = Json::object();
  if (report.os) {
    out["os"] = {{"id", report.os->id},
                  {"id_like", report.os->id_like},
                  {"version_id", report.os->version_id},
                  {"version", report.os->version()},
                  {"pretty_name", report.os->pretty_name},
                  {"source", report.os->source_file}};
  } else {
    out["os"] = nullptr;
  }
  out["arch"] = report.arch;
  auto installed = Json::array();
  for (const auto& kernel : report.kernels.installed) {
    installed.push_back({{"release", kernel.release}, {"headers", kernel.has_headers}});
  }
  out["kernels"] = {{"running", report.kernels.running.empty() ? Json(nullptr) : Json(report.kernels.running)},
                     {"installed", installed}};
  out["hyperv"] = {{"vmbus", report.hyperv.vmbus},
                    {"vmbus_devices", report.hyperv.vmbus_devices},
                    {"sys_vendor", report.hyperv.sys_vendor},
                    {"product_name", report.hyperv.product_name}};
  auto devices = Json::array();
  for (const auto& device : report.pci.mellanox) {
    devices.push_back({{"address", device.address},
                       {"device_id", fmt::format("0x{:04x}", device.device_id)},
                       {"class", fmt::format("0x{:06x}", device.class_code)},
                       {"model", device.model ? Json(std::string(device.model->name)) : Json(nullptr)},
                       {"generation", device.model ? Json(std::string(to_string(device.model->generation))) : Json(nullptr)},
                       {"virtual_function", device.virtual_function},
                       {"link_layer", std::string(to_string(device.link))},
                       {"link_evidence", device.link_evidence}});
  }
  out["mellanox_devices"] = devices;
  out["ignored_pci_devices"] = report.pci.ignored;
  out["secure_boot"] = {{"state", std::string(to_string(report.secure_boot.state))},
                         {"evidence", report.secure_boot.evidence}};
  if (report.vm) {
    out["vm"] = {{"size", report.vm->vm_size},   {"offer", report.vm->offer},
                  {"publisher", report.vm->publisher}, {"sku", report.vm->sku},
                  {"location", report.vm->location}, {"os_type", report.vm->os_type},
                  {"infiniband_size", report.vm_size && report.vm_size->infiniband},
                  {"network_direct_size", report.vm_size && report.vm_size->network_direct}};
  } else {
    out["vm"] = nullptr;
  }
  auto checks = Json::array();
  for (const auto& check : report.checks) {
    checks.push_back({{"name", check.name},
                      {"state", std::string(to_string(check.state))},
                      {"exit_code", to_int(check.failure_code)},
                      {"message", check.message},
                      {"hint", check.hint},
                      {"remedies", check.remedies}});
  }
  out["checks"] = checks;
  out["exit_code"] = to_int(report.exit_code());
}

}  // namespace ibdriver::platform
