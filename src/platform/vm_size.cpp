#include "platform/vm_size.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "core/text.hpp"

namespace ibdriver::platform {
namespace {

// Sizes Azure documents with InfiniBand (reference: mofed-and-platform.md, azure-images-2026.md),
// lower case. Constrained-core variants have the same hardware with fewer cores.
constexpr std::array known_infiniband_sizes{
    "standard_hb120rs_v3",        "standard_hb120-16rs_v3",      "standard_hb120-32rs_v3",
    "standard_hb120-64rs_v3",     "standard_hb120-96rs_v3",      "standard_hb120rs_v2",
    "standard_hb120-16rs_v2",     "standard_hb120-32rs_v2",      "standard_hb120-64rs_v2",
    "standard_hb120-96rs_v2",     "standard_hb176rs_v4",         "standard_hb176-24rs_v4",
    "standard_hb176-48rs_v4",     "standard_hb176-96rs_v4",      "standard_hb176-144rs_v4",
    "standard_hb368rs_v5",        "standard_hb368-48rs_v5",      "standard_hb368-96rs_v5",
    "standard_hb368-144rs_v5",    "standard_hb368-192rs_v5",     "standard_hb368-240rs_v5",
    "standard_hb368-288rs_v5",    "standard_hb368-336rs_v5",     "standard_hx176rs",
    "standard_hx176-24rs",        "standard_hx176-48rs",         "standard_hx176-96rs",
    "standard_hx176-144rs",       "standard_hc44rs",             "standard_hc44-16rs",
    "standard_hc44-32rs",         "standard_hb60rs",             "standard_nc24rs_v3",
    "standard_nd40rs_v2",         "standard_nd96asr_v4",         "standard_nd96amsr_a100_v4",
    "standard_nd96isr_h100_v5",   "standard_nd96isr_h200_v5",    "standard_nd96isr_mi300x_v5",
    "standard_nd128isr_ndr_gb200_v6", "standard_nd128isr_gb300_v6",
};

// RDMA sizes without SR-IOV: Network Direct over VMBus (reference: azure-images-2026.md).
constexpr std::array network_direct_sizes{
    "standard_nc24r", "standard_h16r", "standard_h16mr", "standard_a8", "standard_a9",
};

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

template <typename List>
bool listed(const List& list, const std::string& name) {
  return std::find(list.begin(), list.end(), name) != list.end();
}

// "standard_nd96isr_h100_v5" matches "standard_nd96is*_h[1-2]00_v5": '*' any run, "[a-b]" a range.
bool glob_match(std::string_view pattern, std::string_view name) {
  if (pattern.empty()) return name.empty();
  if (pattern.front() == '*') {
    for (std::size_t skip = 0; skip <= name.size(); ++skip) {
      if (glob_match(pattern.substr(1), name.substr(skip))) return true;
    }
    return false;
  }
  if (name.empty()) return false;
  if (pattern.front() == '[' && pattern.size() >= 5 && pattern[2] == '-' && pattern[4] == ']') {
    return name.front() >= pattern[1] && name.front() <= pattern[3] && glob_match(pattern.substr(5), name.substr(1));
  }
  return pattern.front() == name.front() && glob_match(pattern.substr(1), name.substr(1));
}

}  // namespace

VmSizeVerdict classify_vm_size(std::string_view vm_size) {
  VmSizeVerdict verdict;
  std::string name = text::to_lower(text::trim(vm_size));
  std::string shown = text::printable(text::trim(vm_size), 80);
  verdict.infiniband = listed(known_infiniband_sizes, name);
  verdict.network_direct = listed(network_direct_sizes, name);
  // Standard_<family letters><vCPUs>[-<constrained vCPUs>]<feature letters>[_<accelerator>][_v<n>]
  std::string_view rest = name;
  constexpr std::string_view prefix = "standard_";
  if (rest.substr(0, prefix.size()) == prefix) rest.remove_prefix(prefix.size());
  std::size_t i = 0;
  while (i < rest.size() && is_alpha(rest[i])) ++i;
  verdict.family = text::to_lower(rest.substr(0, i));
  std::transform(verdict.family.begin(), verdict.family.end(), verdict.family.begin(),
                 [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  std::size_t digits = i;
  while (i < rest.size() && (is_digit(rest[i]) || rest[i] == '-')) ++i;
  bool has_cpu_count = i > digits;
  std::size_t features_start = i;
  while (i < rest.size() && is_alpha(rest[i])) ++i;
  verdict.features = std::string(rest.substr(features_start, i - features_start));

  bool hn_series = !verdict.family.empty() && (verdict.family.front() == 'H' || verdict.family.front() == 'N');
  bool rdma = verdict.features.find('r') != std::string::npos;
  if (verdict.network_direct) {
    verdict.reason = fmt::format(
        "{}'s RDMA is Network Direct over VMBus, not SR-IOV: it has no Mellanox PCI function, and OFED does not drive it",
        shown);
  } else if (verdict.infiniband) {
    verdict.reason = fmt::format("{} is a documented InfiniBand size", shown);
  } else if (name.empty()) {
    verdict.reason = "the VM size is empty";
  } else if (!has_cpu_count || verdict.family.empty()) {
    verdict.reason = fmt::format("\"{}\" is not an Azure VM size name", shown);
  } else if (!hn_series) {
    verdict.reason = fmt::format("{} is in the {} series; InfiniBand sizes are H- and N-series sizes", shown, verdict.family);
  } else if (!rdma) {
    verdict.reason = fmt::format("{} has no 'r' (RDMA) among its feature letters \"{}\"", shown, verdict.features);
  } else {
    verdict.infiniband = true;
    verdict.reason = fmt::format("{} is an {}-series size with 'r' (RDMA) in its feature letters", shown, verdict.family);
  }
  return verdict;
}

SizeConfiguration size_configuration(std::string_view vm_size) {
  struct Family {
    const char* pattern;
    const char* note;
    bool peermem;
  };
  // The NVIDIA patterns are those of Azure's setup_sku_customizations.sh (see the header).
  static constexpr std::array families{
      Family{"standard_nd40rs_v2", "NDv2 (V100, ConnectX-3 Pro)", true},
      Family{"standard_nd*v4", "NDv4 (A100)", true},
      Family{"standard_nd96is*_h[1-2]00_v5", "NDv5 (H100/H200)", true},
      Family{"standard_nd128is*_gb[2-3]00_v6", "NDv6 (GB200/GB300)", true},
      Family{"standard_nd96is*_mi300x_v5", "ND MI300X v5 (AMD GPUs: no nvidia-peermem)", false},
      Family{"standard_nc24rs_v3", "NCv3 (V100, ConnectX-3 Pro)", false},
      Family{"standard_h*", "H-series (CPU)", false},
  };
  std::string name = text::to_lower(text::trim(vm_size));
  SizeConfiguration configuration;
  for (const auto& family : families) {
    if (glob_match(family.pattern, name)) {
      configuration.nvidia_peermem = family.peermem;
      configuration.family_note = family.note;
      break;
    }
  }
  return configuration;
}

}  // namespace ibdriver::platform
