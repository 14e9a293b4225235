#include "platform/vm_size.hpp"

#include <algorithm>
#include <array>
#include <cctype>

#include <fmt/format.h>

#include "core/text.hpp"

namespace ibdriver::platform {
namespace {

// Sizes Azure documents with InfiniBand (reference: mofed-and-platform.md).
constexpr std::array known_infiniband_sizes{
    "standard_hb120rs_v3",   "standard_hb120-64rs_v3",     "standard_hb176rs_v4",       "standard_hx176rs",
    "standard_hc44rs",       "standard_hb60rs",            "standard_nc24rs_v3",        "standard_nd40rs_v2",
    "standard_nd96asr_v4",   "standard_nd96amsr_a100_v4",  "standard_nd96isr_h100_v5",  "standard_nd96isr_h200_v5",
};

bool is_alpha(char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; }
bool is_digit(char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }

}  // namespace

VmSizeVerdict classify_vm_size(std::string_view vm_size) {
  VmSizeVerdict verdict;
  std::string name = text::to_lower(text::trim(vm_size));
  std::string shown = text::printable(text::trim(vm_size), 80);
  if (std::find(known_infiniband_sizes.begin(), known_infiniband_sizes.end(), name) != known_infiniband_sizes.end()) {
    verdict.infiniband = true;
  }
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
  if (verdict.infiniband) {
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

}  // namespace ibdriver::platform
