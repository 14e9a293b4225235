#include "verbs/verbs_library.hpp"

#include <dlfcn.h>
#include <infiniband/verbs.h>

#include <array>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/log.hpp"

namespace ibdriver::verbs {
namespace {

struct DlClose {
  void operator()(void* handle) const noexcept { ::dlclose(handle); }
};
using LibraryHandle = std::unique_ptr<void, DlClose>;

// The entry points used, by their exported names (ibv_query_port is also a macro in verbs.h; the
// exported function fills the long-standing prefix of struct ibv_port_attr).
using GetDeviceList = ibv_device** (*)(int*);
using FreeDeviceList = void (*)(ibv_device**);
using GetDeviceName = const char* (*)(ibv_device*);
using GetDeviceGuid = __be64 (*)(ibv_device*);
using OpenDevice = ibv_context* (*)(ibv_device*);
using CloseDevice = int (*)(ibv_context*);
using QueryDevice = int (*)(ibv_context*, ibv_device_attr*);
using QueryPort = int (*)(ibv_context*, std::uint8_t, ibv_port_attr*);
using QueryGid = int (*)(ibv_context*, std::uint8_t, int, ibv_gid*);

std::string port_state(int state) {
  switch (state) {
    case IBV_PORT_DOWN: return "DOWN";
    case IBV_PORT_INIT: return "INIT";
    case IBV_PORT_ARMED: return "ARMED";
    case IBV_PORT_ACTIVE: return "ACTIVE";
    case IBV_PORT_ACTIVE_DEFER: return "ACTIVE_DEFER";
    default: return "NOP";
  }
}

std::string physical_state(int state) {
  static constexpr std::array<const char*, 8> names{"NO_STATE", "SLEEP", "POLLING", "DISABLED", "PORT_CONFIGURATION_TRAINING",
                                                    "LINK_UP", "LINK_ERROR_RECOVERY", "PHY_TEST"};
  return state >= 0 && static_cast<std::size_t>(state) < names.size() ? names[static_cast<std::size_t>(state)] : "UNKNOWN";
}

// ibv_devinfo's rate: lanes times the per-lane speed.
std::string rate(std::uint8_t width, std::uint8_t speed) {
  int lanes = width == 1 ? 1 : width == 2 ? 4 : width == 4 ? 8 : width == 8 ? 12 : width == 16 ? 2 : 0;
  const char* name = "?";
  double gbps = 0;
  switch (speed) {
    case 1: name = "SDR", gbps = 2.5; break;
    case 2: name = "DDR", gbps = 5; break;
    case 4: name = "QDR", gbps = 10; break;
    case 8: name = "FDR10", gbps = 10; break;
    case 16: name = "FDR", gbps = 14; break;
    case 32: name = "EDR", gbps = 25; break;
    case 64: name = "HDR", gbps = 50; break;
    case 128: name = "NDR", gbps = 100; break;
    default: break;
  }
  if (lanes == 0 || gbps == 0) return fmt::format("unknown (width {}, speed {})", width, speed);
  return fmt::format("{:g} Gb/s ({}X {})", lanes * gbps, lanes, name);
}

std::string hex64(std::uint64_t big_endian) {
  std::array<unsigned char, 8> bytes{};
  std::memcpy(bytes.data(), &big_endian, bytes.size());
  std::string text = "0x";
  for (auto byte : bytes) text += fmt::format("{:02x}", byte);
  return text;
}

std::string gid_text(const ibv_gid& gid, bool interface_only) {
  std::string text;
  for (std::size_t i = interface_only ? 8 : 0; i < 16; ++i) {
    text += fmt::format("{:02x}", gid.raw[i]);
    if (i % 2 == 1 && i != 15) text += ':';
  }
  return text;
}

}  // namespace

struct VerbsLibrary::Functions {
  LibraryHandle handle;
  GetDeviceList get_device_list = nullptr;
  FreeDeviceList free_device_list = nullptr;
  GetDeviceName get_device_name = nullptr;
  GetDeviceGuid get_device_guid = nullptr;
  OpenDevice open_device = nullptr;
  CloseDevice close_device = nullptr;
  QueryDevice query_device = nullptr;
  QueryPort query_port = nullptr;
  QueryGid query_gid = nullptr;
};

VerbsLibrary::VerbsLibrary(std::unique_ptr<Functions> functions) : functions_(std::move(functions)) {}
VerbsLibrary::VerbsLibrary(VerbsLibrary&&) noexcept = default;
VerbsLibrary& VerbsLibrary::operator=(VerbsLibrary&&) noexcept = default;
VerbsLibrary::~VerbsLibrary() = default;

VerbsLibrary VerbsLibrary::load(const std::string& name) {
  auto functions = std::make_unique<Functions>();
  functions->handle.reset(::dlopen(name.c_str(), RTLD_NOW | RTLD_LOCAL));
  if (!functions->handle) {
    const char* reason = ::dlerror();
    throw Error(ExitCode::operation_failed,
                fmt::format("cannot load {} ({}): the RDMA user-space library is not installed", name, reason ? reason : "not found"),
                "install rdma-core (Debian/Ubuntu: libibverbs1 ibverbs-providers; RHEL family: libibverbs), or the "
                "driver bundle's own libibverbs, then validate again");
  }
  auto resolve = [&](auto& pointer, const char* symbol) {
    void* address = ::dlsym(functions->handle.get(), symbol);
    if (address == nullptr) {
      throw Error(ExitCode::operation_failed, fmt::format("{} has no {}: not a usable libibverbs", name, symbol),
                  "reinstall rdma-core (libibverbs)");
    }
    pointer = reinterpret_cast<std::remove_reference_t<decltype(pointer)>>(address);
  };
  resolve(functions->get_device_list, "ibv_get_device_list");
  resolve(functions->free_device_list, "ibv_free_device_list");
  resolve(functions->get_device_name, "ibv_get_device_name");
  resolve(functions->get_device_guid, "ibv_get_device_guid");
  resolve(functions->open_device, "ibv_open_device");
  resolve(functions->close_device, "ibv_close_device");
  resolve(functions->query_device, "ibv_query_device");
  resolve(functions->query_port, "ibv_query_port");
  resolve(functions->query_gid, "ibv_query_gid");
  return VerbsLibrary(std::move(functions));
}

std::vector<DeviceInfo> VerbsLibrary::devices() const {
  const auto& f = *functions_;
  int count = 0;
  auto free_list = [&f](ibv_device** list) { f.free_device_list(list); };
  std::unique_ptr<ibv_device*, decltype(free_list)> list(f.get_device_list(&count), free_list);
  if (!list) {
    int error_number = errno;
    // ENOSYS: the kernel has no RDMA core loaded (no /sys/class/infiniband): no device at all.
    if (error_number == ENOSYS) {
      log::debug("ibv_get_device_list: the kernel's RDMA core is not loaded (ENOSYS)");
      return {};
    }
    throw SystemError(ExitCode::operation_failed, "ibv_get_device_list failed", error_number,
                      "check that /sys/class/infiniband exists and the RDMA modules are loaded");
  }
  std::vector<DeviceInfo> devices;
  for (int i = 0; i < count; ++i) {
    ibv_device* device = list.get()[i];
    DeviceInfo info;
    info.name = f.get_device_name(device);
    info.node_guid = hex64(f.get_device_guid(device));
    auto close = [&f](ibv_context* context) { f.close_device(context); };
    std::unique_ptr<ibv_context, decltype(close)> context(f.open_device(device), close);
    if (!context) {
      log::warning(fmt::format("cannot open RDMA device {}: {}", info.name, std::strerror(errno)));
      devices.push_back(std::move(info));
      continue;
    }
    ibv_device_attr attributes{};
    if (f.query_device(context.get(), &attributes) != 0) {
      log::warning(fmt::format("cannot query RDMA device {}", info.name));
      devices.push_back(std::move(info));
      continue;
    }
    info.firmware = attributes.fw_ver;
    for (int port = 1; port <= attributes.phys_port_cnt; ++port) {
      ibv_port_attr port_attributes{};
      if (f.query_port(context.get(), static_cast<std::uint8_t>(port), &port_attributes) != 0) continue;
      PortInfo port_info;
      port_info.number = port;
      port_info.state = port_state(port_attributes.state);
      port_info.physical_state = physical_state(port_attributes.phys_state);
      bool ethernet = port_attributes.link_layer == IBV_LINK_LAYER_ETHERNET;
      port_info.link_layer = ethernet ? "Ethernet" : "InfiniBand";
      port_info.lid = port_attributes.lid;
      port_info.sm_lid = port_attributes.sm_lid;
      port_info.rate = rate(port_attributes.active_width, port_attributes.active_speed);
      port_info.active_mtu = 128 << static_cast<int>(port_attributes.active_mtu);
      ibv_gid gid{};
      if (f.query_gid(context.get(), static_cast<std::uint8_t>(port), 0, &gid) == 0) port_info.port_guid = gid_text(gid, !ethernet);
      info.ports.push_back(std::move(port_info));
    }
    devices.push_back(std::move(info));
  }
  return devices;
}

void to_json(nlohmann::json& json, const PortInfo& port) {
  json = {{"port", port.number},         {"state", port.state}, {"physical_state", port.physical_state},
          {"link_layer", port.link_layer}, {"lid", port.lid},   {"sm_lid", port.sm_lid},
          {"rate", port.rate},             {"port_guid", port.port_guid}, {"active_mtu", port.active_mtu}};
}

void to_json(nlohmann::json& json, const DeviceInfo& device) {
  json = {{"name", device.name}, {"node_guid", device.node_guid}, {"firmware", device.firmware}, {"ports", device.ports}};
}

}  // namespace ibdriver::verbs
