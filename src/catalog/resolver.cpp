#include "catalog/resolver.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <map>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/error.hpp"
#include "core/text.hpp"

namespace ibdriver::catalog {

namespace {

constexpr std::array<std::string_view, 5> rhel_family{"rhel", "centos", "almalinux", "rocky", "ol"};

bool is_rhel_family_id(std::string_view id) {
  return std::find(rhel_family.begin(), rhel_family.end(), id) != rhel_family.end();
}

bool in_rhel_family(const ResolveRequest& request) {
  if (is_rhel_family_id(request.os_id)) return true;
  return std::any_of(request.os_id_like.begin(), request.os_id_like.end(),
                     [](const std::string& like) { return like == "rhel" || like == "centos"; });
}

struct MajorMinor {
  int major = -1;
  int minor = -1;  // -1: none given
};

MajorMinor parse_major_minor(std::string_view version) {
  MajorMinor result;
  auto parts = text::split(version, '.');
  auto number = [](std::string_view part) {
    int value = -1;
    auto [end, error] = std::from_chars(part.data(), part.data() + part.size(), value);
    return error == std::errc() && end == part.data() + part.size() ? value : -1;
  };
  result.major = number(parts[0]);
  if (parts.size() > 1) result.minor = number(parts[1]);
  return result;
}

// Whether the label names a minor release ("rhel8.7", "rhel87", "rhel810") or only a major ("rhel8").
bool label_names_minor(const DriverRelease& release) {
  auto digits = release.label.find_first_of("0123456789");
  if (digits == std::string::npos) return true;
  auto rest = std::string_view(release.label).substr(digits);
  return rest.find('.') != std::string_view::npos || rest.size() > 1;
}

// How a row fits the OS; the order is only a tie-breaker after kind and version (see resolve).
enum class OsFit { exact = 0, in_range = 1, older_minor = 2, whole_major = 3, none = 4 };

// Which minors of its major a RHEL-family row supports: its explicit range; else its own minor and
// newer when its label names a minor (a bundle built for rhel8.1 runs on 8.2, as Azure's images did);
// else every minor (NVIDIA publishes one bundle per major from DOCA 3.2 and DKMS builds for the
// kernel at hand).
OsFit rhel_minor_fit(const DriverRelease& release, MajorMinor row, MajorMinor os) {
  if (!release.minors_from.empty()) {
    auto from = parse_major_minor(release.minors_from);
    auto to = parse_major_minor(release.minors_to);
    bool inside = os.minor >= 0 && os.minor >= from.minor && os.minor <= to.minor;
    return inside ? OsFit::in_range : OsFit::none;
  }
  if (!label_names_minor(release)) return OsFit::whole_major;
  if (os.minor >= 0 && row.minor >= 0 && row.minor < os.minor) return OsFit::older_minor;
  return OsFit::none;
}

OsFit os_fit(const DriverRelease& release, const ResolveRequest& request, bool rhel_like) {
  bool same_id = release.os_id == request.os_id;
  bool family = rhel_like && is_rhel_family_id(release.os_id);
  if (!same_id && !family) return OsFit::none;
  if (release.os_version == request.os_version) return OsFit::exact;
  if (!rhel_like) return OsFit::none;
  auto row = parse_major_minor(release.os_version);
  auto os = parse_major_minor(request.os_version);
  if (row.major < 0 || row.major != os.major) return OsFit::none;
  return rhel_minor_fit(release, row, os);
}

// User file 0, signed channel 1, built-in 2: a lower tier always wins.
int origin_tier(const DriverRelease& release) {
  if (release.origin == built_in_origin) return 2;
  if (release.origin.rfind(channel_origin_prefix, 0) == 0) return 1;
  return 0;
}

// Azure Linux's own packages first (as Azure's images install them), then DOCA-host, then MLNX_OFED.
int kind_rank(BundleKind kind) {
  switch (kind) {
    case BundleKind::distro_packages: return 0;
    case BundleKind::doca_host: return 1;
    case BundleKind::mofed_tgz: return 2;
  }
  return 2;
}

bool version_matches(const std::string& version, const std::string& wanted) {
  if (version == wanted) return true;
  if (version.rfind(wanted, 0) != 0) return false;
  char next = version[wanted.size()];
  return next == '.' || next == '-';
}

std::string os_name(const ResolveRequest& request) {
  return request.os_id.empty() ? std::string("an unidentified OS") : fmt::format("{} {}", request.os_id, request.os_version);
}

std::string generations_text(const std::vector<platform::ConnectXGeneration>& generations) {
  std::vector<std::string> names;
  names.reserve(generations.size());
  for (auto generation : generations) names.emplace_back(platform::to_string(generation));
  return fmt::format("{}", fmt::join(names, ", "));
}

// "ubuntu 18.04, 20.04": the OS versions with a row for ConnectX-3 (MLNX_OFED 4.9 LTS).
std::string lts_os_summary(const Catalog& catalog, const std::string& arch) {
  Catalog lts;
  for (const auto& release : catalog.releases) {
    if (release.arch == arch && release.supports(platform::ConnectXGeneration::connectx3)) lts.releases.push_back(release);
  }
  return lts.releases.empty() ? std::string("no OS") : supported_os_summary(lts);
}

}  // namespace

std::string supported_os_summary(const Catalog& catalog) {
  std::map<std::string, std::set<std::string, bool (*)(const std::string&, const std::string&)>> versions;
  for (const auto& release : catalog.releases) {
    versions.try_emplace(release.os_id, [](const std::string& a, const std::string& b) { return compare_versions(a, b) < 0; });
    versions.at(release.os_id).insert(release.os_version);
  }
  std::vector<std::string> parts;
  parts.reserve(versions.size());
  for (const auto& [id, list] : versions) parts.push_back(fmt::format("{} {}", id, fmt::join(list, ", ")));
  return fmt::format("{}", fmt::join(parts, "; "));
}

Resolution resolve(const Catalog& catalog, const ResolveRequest& request) {
  const std::string hint = "pin a driver bundle by URL and SHA-256, or add a catalog row for this OS";
  const Remedies remedies{{Knob::driver_url, {}}, {Knob::catalog_file, {}}};
  if (request.os_id.empty()) {
    throw Error(ExitCode::os_not_supported, "no driver can be chosen for an OS that could not be identified", hint, remedies);
  }
  const bool rhel_like = in_rhel_family(request);

  struct Candidate {
    const DriverRelease* release;
    OsFit fit;
  };
  std::vector<Candidate> os_matches;
  for (const auto& release : catalog.releases) {
    if (release.arch != request.arch) continue;
    OsFit fit = os_fit(release, request, rhel_like);
    if (fit != OsFit::none) os_matches.push_back({&release, fit});
  }
  if (os_matches.empty()) {
    std::string reason;
    for (const auto& entry : catalog.unsupported) {
      if (entry.os_id == request.os_id && entry.os_version == request.os_version) reason = fmt::format(" ({})", entry.reason);
    }
    // Rows for this OS on other architectures: say so, and what this architecture has.
    std::set<std::string> other_arches;
    Catalog same_arch;
    for (const auto& release : catalog.releases) {
      if (release.arch == request.arch) {
        same_arch.releases.push_back(release);
      } else if (os_fit(release, request, rhel_like) != OsFit::none) {
        other_arches.insert(release.arch);
      }
    }
    if (!other_arches.empty()) {
      throw Error(ExitCode::os_not_supported,
                  fmt::format("the catalog has no {} driver release for {} (only {}){}; {} releases are for: {}", request.arch,
                              os_name(request), fmt::join(other_arches, ", "), reason, request.arch,
                              same_arch.releases.empty() ? std::string("no OS") : supported_os_summary(same_arch)),
                  hint, remedies);
    }
    throw Error(ExitCode::os_not_supported,
                fmt::format("the catalog has no driver release for {}{}{}; it has {}releases for: {}", os_name(request),
                            request.arch == "x86_64" ? "" : fmt::format(" on {}", request.arch), reason,
                            request.arch == "x86_64" ? "" : fmt::format("{} ", request.arch),
                            same_arch.releases.empty() ? std::string("no OS") : supported_os_summary(same_arch)),
                hint, remedies);
  }

  std::vector<Candidate> candidates;
  for (const auto& candidate : os_matches) {
    bool devices_ok = std::all_of(request.generations.begin(), request.generations.end(),
                                  [&](auto generation) { return candidate.release->supports(generation); });
    if (!devices_ok) continue;
    if (request.driver_version && !version_matches(candidate.release->version, *request.driver_version)) continue;
    if (candidate.release->only_when_pinned && !request.driver_version) continue;
    candidates.push_back(candidate);
  }
  if (candidates.empty()) {
    std::set<std::string> versions;
    for (const auto& candidate : os_matches) {
      versions.insert(fmt::format("{} {} ({}..{})", to_string(candidate.release->kind), candidate.release->version,
                                  platform::to_string(candidate.release->min_generation),
                                  candidate.release->max_generation ? platform::to_string(*candidate.release->max_generation) : "newest"));
    }
    std::string wanted = request.driver_version ? fmt::format("version {}", *request.driver_version) : std::string("a release");
    if (!request.generations.empty()) wanted += fmt::format(" for {}", generations_text(request.generations));
    std::string extra;
    if (std::find(request.generations.begin(), request.generations.end(), platform::ConnectXGeneration::connectx3) !=
            request.generations.end() ||
        std::find(request.generations.begin(), request.generations.end(), platform::ConnectXGeneration::connectx3_pro) !=
            request.generations.end()) {
      extra = fmt::format("; ConnectX-3 needs the MLNX_OFED 4.9 LTS branch, which the catalog has for: {}",
                          lts_os_summary(catalog, request.arch));
    }
    throw Error(ExitCode::os_not_supported,
                fmt::format("the catalog has no {} on {}{}; releases for this OS: {}", wanted, os_name(request), extra,
                            fmt::join(versions, ", ")),
                hint, remedies);
  }

  // A minor gets the newest row that supports it: an older per-minor bundle never wins over a newer
  // bundle for the whole major (unless a driver version pins it). The fit and the ID only break ties.
  std::stable_sort(candidates.begin(), candidates.end(), [&](const Candidate& a, const Candidate& b) {
    if (origin_tier(*a.release) != origin_tier(*b.release)) return origin_tier(*a.release) < origin_tier(*b.release);
    if (a.release->kind != b.release->kind) return kind_rank(a.release->kind) < kind_rank(b.release->kind);
    if (int order = compare_versions(a.release->version, b.release->version); order != 0) return order > 0;
    if (a.fit != b.fit) return a.fit < b.fit;
    bool a_same = a.release->os_id == request.os_id;
    bool b_same = b.release->os_id == request.os_id;
    return a_same && !b_same;
  });

  const Candidate& best = candidates.front();
  Resolution resolution{*best.release, {}};
  const auto& chosen = *best.release;
  switch (best.fit) {
    case OsFit::exact:
      resolution.rule = fmt::format("release used on {} {}", chosen.os_id, chosen.os_version);
      break;
    case OsFit::older_minor:
      resolution.rule = fmt::format("no release for {}; the nearest older minor release is {} {} (built for {})",
                                    os_name(request), chosen.os_id, chosen.os_version, chosen.label);
      break;
    case OsFit::in_range:
      resolution.rule = fmt::format("release supporting {} {} to {} (built for {}), used on {} {}", request.os_id,
                                    chosen.minors_from, chosen.minors_to, chosen.label, chosen.os_id, chosen.os_version);
      break;
    case OsFit::whole_major:
      resolution.rule = fmt::format("release built for the whole major version ({}), used on {} {}", chosen.label,
                                    chosen.os_id, chosen.os_version);
      break;
    case OsFit::none:
      break;
  }
  if (chosen.origin != built_in_origin) resolution.rule += fmt::format(", from {}", chosen.origin);
  if (request.driver_version) resolution.rule += fmt::format(", pinned to version {}", *request.driver_version);
  return resolution;
}

}  // namespace ibdriver::catalog
