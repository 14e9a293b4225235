#pragma once
#include <cstdint>
#include <optional>
#include <string_view>

namespace ibdriver::platform {

// ConnectX generations in the order NVIDIA released them; driver branches support a range of them
// (MLNX_OFED 4.9 LTS is the last branch with ConnectX-3).
enum class ConnectXGeneration : int {
  connectx3 = 0,
  connectx3_pro,
  connectx4,
  connectx4_lx,
  connectx5,
  connectx6,
  connectx6_dx,
  connectx6_lx,
  connectx7,
  connectx8,
};

std::string_view to_string(ConnectXGeneration generation);  // "connectx-6dx"
std::optional<ConnectXGeneration> generation_from_string(std::string_view name);

struct ConnectXModel {
  std::uint16_t device_id;
  ConnectXGeneration generation;
  bool virtual_function;
  std::string_view name;  // as lspci names it
};

constexpr std::uint16_t mellanox_vendor_id = 0x15b3;

// The Mellanox PCI device ids ibdriver knows (reference: mofed-and-platform.md).
std::optional<ConnectXModel> connectx_model(std::uint16_t device_id);

}  // namespace ibdriver::platform
