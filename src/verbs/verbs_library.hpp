#pragma once
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ibdriver::verbs {

// One port as `ibv_devinfo` shows it.
struct PortInfo {
  int number = 0;
  std::string state;           // DOWN, INIT, ARMED, ACTIVE, ACTIVE_DEFER, NOP
  std::string physical_state;  // LINK_UP, POLLING, DISABLED, ...
  std::string link_layer;      // InfiniBand, Ethernet
  std::uint16_t lid = 0;
  std::uint16_t sm_lid = 0;
  std::string rate;            // "200 Gb/s (4X HDR)"
  std::string port_guid;       // the interface id of GID 0 (InfiniBand) or the GID itself (RoCE)
  int active_mtu = 0;          // bytes
};

struct DeviceInfo {
  std::string name;       // mlx5_0, rxe0
  std::string node_guid;  // 0x...
  std::string firmware;
  std::vector<PortInfo> ports;
};

void to_json(nlohmann::json& json, const PortInfo& port);
void to_json(nlohmann::json& json, const DeviceInfo& device);

// libibverbs, loaded with dlopen when needed (the zip's binary runs before rdma-core exists, so it is
// never linked). Every handle it hands out has one owner: the library, the device list, each open
// device context.
class VerbsLibrary {
 public:
  // Throws Error (operation_failed) saying which library was looked for and how to install it.
  static VerbsLibrary load(const std::string& name = "libibverbs.so.1");
  VerbsLibrary(VerbsLibrary&&) noexcept;
  VerbsLibrary& operator=(VerbsLibrary&&) noexcept;
  ~VerbsLibrary();

  // Every device, opened and queried (a device that cannot be opened is reported without ports).
  std::vector<DeviceInfo> devices() const;

  struct Functions;

 private:
  explicit VerbsLibrary(std::unique_ptr<Functions> functions);
  std::unique_ptr<Functions> functions_;
};

}  // namespace ibdriver::verbs
