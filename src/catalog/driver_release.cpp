#include "catalog/driver_release.hpp"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace ibdriver::catalog {

std::string_view to_string(BundleKind kind) {
  switch (kind) {
    case BundleKind::mofed_tgz: return "mofed-tgz";
    case BundleKind::doca_host: return "doca-host";
    case BundleKind::distro_packages: return "distro-packages";
  }
  return "mofed-tgz";
}

std::optional<BundleKind> bundle_kind_from_string(std::string_view name) {
  if (name == "mofed-tgz") return BundleKind::mofed_tgz;
  if (name == "doca-host") return BundleKind::doca_host;
  if (name == "distro-packages") return BundleKind::distro_packages;
  return std::nullopt;
}

std::string DriverRelease::file_name() const {
  std::string_view path = url;
  path = path.substr(0, path.find_first_of("?#"));
  auto slash = path.rfind('/');
  return std::string(slash == std::string_view::npos ? path : path.substr(slash + 1));
}

bool DriverRelease::supports(platform::ConnectXGeneration generation) const {
  return generation >= min_generation && (!max_generation || generation <= *max_generation);
}

std::string DriverRelease::default_profile() const {
  switch (kind) {
    case BundleKind::doca_host: return "doca-ofed";
    case BundleKind::mofed_tgz: return "mlnx-ofed-hpc";
    case BundleKind::distro_packages: return fmt::format("{}", fmt::join(packages, " "));
  }
  return "mlnx-ofed-hpc";
}

namespace {
// "24.01-0.3.3.1" -> 24, 01, 0, 3, 3, 1; "5.9rc1" -> 5, 9, rc, 1.
std::vector<std::string_view> version_tokens(std::string_view version) {
  std::vector<std::string_view> tokens;
  auto digit = [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; };
  auto alpha = [](char c) { return std::isalpha(static_cast<unsigned char>(c)) != 0; };
  std::size_t i = 0;
  while (i < version.size()) {
    if (!digit(version[i]) && !alpha(version[i])) {
      ++i;
      continue;
    }
    bool numeric = digit(version[i]);
    std::size_t end = i;
    while (end < version.size() && (numeric ? digit(version[end]) : alpha(version[end]))) ++end;
    tokens.push_back(version.substr(i, end - i));
    i = end;
  }
  return tokens;
}
}  // namespace

int compare_versions(std::string_view a, std::string_view b) {
  auto left = version_tokens(a);
  auto right = version_tokens(b);
  for (std::size_t i = 0; i < left.size() && i < right.size(); ++i) {
    auto x = left[i];
    auto y = right[i];
    bool x_numeric = std::isdigit(static_cast<unsigned char>(x.front())) != 0;
    bool y_numeric = std::isdigit(static_cast<unsigned char>(y.front())) != 0;
    if (x_numeric && y_numeric) {
      while (x.size() > 1 && x.front() == '0') x.remove_prefix(1);
      while (y.size() > 1 && y.front() == '0') y.remove_prefix(1);
      if (x.size() != y.size()) return x.size() < y.size() ? -1 : 1;
    }
    if (x_numeric != y_numeric) return x_numeric ? 1 : -1;  // 5.9.1 > 5.9rc
    if (int order = x.compare(y); order != 0) return order < 0 ? -1 : 1;
  }
  if (left.size() == right.size()) return 0;
  return left.size() < right.size() ? -1 : 1;
}

bool is_sha256_hex(std::string_view text) {
  return text.size() == 64 && std::all_of(text.begin(), text.end(), [](char c) {
           return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
         });
}

}  // namespace ibdriver::catalog
