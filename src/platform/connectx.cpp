#include "platform/connectx.hpp"

#include <array>

namespace ibdriver::platform {
namespace {

using G = ConnectXGeneration;

constexpr std::array models{
    ConnectXModel{0x1003, G::connectx3, false, "ConnectX-3"},
    ConnectXModel{0x1004, G::connectx3, true, "ConnectX-3 Virtual Function"},
    ConnectXModel{0x1007, G::connectx3_pro, false, "ConnectX-3 Pro"},
    ConnectXModel{0x1013, G::connectx4, false, "ConnectX-4"},
    ConnectXModel{0x1014, G::connectx4, true, "ConnectX-4 Virtual Function"},
    ConnectXModel{0x1015, G::connectx4_lx, false, "ConnectX-4 Lx"},
    ConnectXModel{0x1016, G::connectx4_lx, true, "ConnectX-4 Lx Virtual Function"},
    ConnectXModel{0x1017, G::connectx5, false, "ConnectX-5"},
    ConnectXModel{0x1018, G::connectx5, true, "ConnectX-5 Virtual Function"},
    ConnectXModel{0x1019, G::connectx5, false, "ConnectX-5 Ex"},
    ConnectXModel{0x101a, G::connectx5, true, "ConnectX-5 Ex Virtual Function"},
    ConnectXModel{0x101b, G::connectx6, false, "ConnectX-6"},
    ConnectXModel{0x101c, G::connectx6, true, "ConnectX-6 Virtual Function"},
    ConnectXModel{0x101d, G::connectx6_dx, false, "ConnectX-6 Dx"},
    // One id for the VFs of ConnectX-6 Dx and later; the oldest it can be is what drivers must support.
    ConnectXModel{0x101e, G::connectx6_dx, true, "ConnectX Family mlx5Gen Virtual Function"},
    ConnectXModel{0x101f, G::connectx6_lx, false, "ConnectX-6 Lx"},
    ConnectXModel{0x1021, G::connectx7, false, "ConnectX-7"},
    ConnectXModel{0x1023, G::connectx8, false, "ConnectX-8"},
};

constexpr std::array generation_names{
    std::string_view("connectx-3"),  std::string_view("connectx-3pro"), std::string_view("connectx-4"),
    std::string_view("connectx-4lx"), std::string_view("connectx-5"),    std::string_view("connectx-6"),
    std::string_view("connectx-6dx"), std::string_view("connectx-6lx"),  std::string_view("connectx-7"),
    std::string_view("connectx-8"),
};

}  // namespace

std::string_view to_string(ConnectXGeneration generation) {
  return generation_names.at(static_cast<std::size_t>(generation));
}

std::optional<ConnectXGeneration> generation_from_string(std::string_view name) {
  for (std::size_t i = 0; i < generation_names.size(); ++i) {
    if (generation_names[i] == name) return static_cast<ConnectXGeneration>(i);
  }
  return std::nullopt;
}

std::optional<ConnectXModel> connectx_model(std::uint16_t device_id) {
  for (const auto& model : models) {
    if (model.device_id == device_id) return model;
  }
  return std::nullopt;
}

}  // namespace ibdriver::platform
