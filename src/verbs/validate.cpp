#include "verbs/validate.hpp"

#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "core/cancel.hpp"
#include "core/error.hpp"
#include "core/text.hpp"

namespace ibdriver::verbs {
namespace {

std::string_view layer_name(LinkLayer layer) {
  switch (layer) {
    case LinkLayer::infiniband: return "InfiniBand";
    case LinkLayer::ethernet: return "Ethernet";
    case LinkLayer::any: return "any";
  }
  return "any";
}

bool matches(const PortInfo& port, LinkLayer expect) {
  return expect == LinkLayer::any || port.link_layer == layer_name(expect);
}

bool active(const PortInfo& port) { return port.state == "ACTIVE" || port.state == "ACTIVE_DEFER"; }

}  // namespace

std::optional<LinkLayer> parse_link_layer(std::string_view text) {
  auto lower = text::to_lower(text);
  if (lower == "infiniband" || lower == "ib") return LinkLayer::infiniband;
  if (lower == "ethernet" || lower == "eth" || lower == "roce") return LinkLayer::ethernet;
  if (lower == "any") return LinkLayer::any;
  return std::nullopt;
}

std::string link_layer_name(LinkLayer layer) { return text::to_lower(layer_name(layer)); }

ValidationReport judge(const std::vector<DeviceInfo>& devices, LinkLayer expect) {
  ValidationReport report;
  report.expect = expect;
  report.devices = devices;
  if (devices.empty()) {
    report.message = "libibverbs sees no RDMA device";
    report.hint = "check that the driver is loaded (`lsmod | grep -e mlx5_ib -e ib_core`, `ls /sys/class/infiniband`); after a "
                  "fresh install, reboot or restart openibd; on an Accelerated Networking VF only, the VM size has no InfiniBand";
    return report;
  }
  std::vector<std::string> seen;
  std::vector<std::string> wrong_layer;
  for (const auto& device : devices) {
    if (device.ports.empty()) seen.push_back(fmt::format("{}: no port could be queried", device.name));
    for (const auto& port : device.ports) {
      if (active(port) && matches(port, expect)) {
        report.passed = true;
        report.message = fmt::format("{} port {} is ACTIVE on {} ({}, LID {})", device.name, port.number, port.link_layer, port.rate, port.lid);
        return report;
      }
      seen.push_back(fmt::format("{} port {}: {} on {}", device.name, port.number, port.state, port.link_layer));
      if (active(port)) wrong_layer.push_back(fmt::format("{} port {}", device.name, port.number));
    }
  }
  if (!wrong_layer.empty()) {
    report.message = fmt::format("no {} port is ACTIVE; ACTIVE on another link layer: {} ({})", layer_name(expect),
                                 fmt::join(wrong_layer, ", "), fmt::join(seen, "; "));
    report.hint = "an Ethernet (RoCE) port is not InfiniBand: check the VM size, or accept any link layer";
    report.remedies = {{Knob::expect_link_layer, "any"}};
  } else {
    report.message = fmt::format("no port is ACTIVE: {}", fmt::join(seen, "; "));
    report.hint = "a port in INIT or ARMED waits for the subnet manager (Azure's fabric brings it up within a minute: wait "
                  "longer); DOWN means no link: check `ibstat` and the VM's InfiniBand network";
    report.remedies = {{Knob::validate_wait, "120"}};
  }
  return report;
}

ValidationReport validate(const ValidationOptions& options) {
  auto library = VerbsLibrary::load(options.library);
  auto deadline = std::chrono::steady_clock::now() + options.wait;
  while (true) {
    auto report = judge(library.devices(), options.expect);
    if (report.passed || std::chrono::steady_clock::now() >= deadline) return report;
    throw_if_cancelled("waiting for an ACTIVE RDMA port");
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
}

void require_passed(const ValidationReport& report) {
  if (!report.passed) throw Error(ExitCode::operation_failed, fmt::format("validation failed: {}", report.message), report.hint, report.remedies);
}

void to_json(nlohmann::json& json, const ValidationReport& report) {
  json = {{"passed", report.passed}, {"expect_link_layer", link_layer_name(report.expect)}, {"message", report.message}, {"hint", report.hint}, {"remedies", report.remedies}, {"devices", report.devices}};
}

}  // namespace ibdriver::verbs
