#include "install/dkms.hpp"

#include <sys/stat.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <ctime>
#include <fstream>
#include <functional>
#include <map>
#include <regex>
#include <set>

#include <fmt/format.h>

#include "core/error.hpp"
#include "core/files.hpp"
#include "core/log.hpp"
#include "core/process.hpp"
#include "core/text.hpp"

namespace ibdriver::install {

namespace {
std::string unquote(std::string_view value) {
  value = text::trim(value);
  if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') && value.back() == value.front()) {
    value = value.substr(1, value.size() - 2);
  }
  return std::string(value);
}
}  // namespace

DkmsModule parse_dkms_conf(const std::string& text, const std::filesystem::path& file) {
  DkmsModule module;
  module.conf = file;
  static const std::regex assignment(R"(^\s*([A-Z_]+)(\[[0-9]+\])?\s*=\s*(.*)$)");
  for (auto line : text::split(text, '\n')) {
    std::string copy(line);
    std::smatch match;
    if (!std::regex_match(copy, match, assignment)) continue;
    auto key = match[1].str();
    auto value = unquote(match[3].str());
    if (key == "PACKAGE_NAME") module.name = value;
    if (key == "PACKAGE_VERSION") module.version = value;
    if (key == "BUILD_DEPENDS") {
      for (auto name : text::split(value, ' ')) {
        if (!name.empty()) module.build_depends.emplace_back(name);
      }
    }
  }
  if (module.name.empty() || module.version.empty()) {
    throw Error(ExitCode::operation_failed, fmt::format("{} names no PACKAGE_NAME and PACKAGE_VERSION", file.string()),
                "the bundle's DKMS package is damaged");
  }
  return module;
}

std::vector<DkmsModule> build_order(std::vector<DkmsModule> modules) {
  std::sort(modules.begin(), modules.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  std::map<std::string, const DkmsModule*> by_name;
  for (const auto& module : modules) by_name[module.name] = &module;
  std::vector<DkmsModule> ordered;
  std::set<std::string> done;
  std::set<std::string> visiting;
  std::function<void(const DkmsModule&)> visit = [&](const DkmsModule& module) {
    if (done.count(module.name) != 0) return;
    if (!visiting.insert(module.name).second) {
      throw Error(ExitCode::operation_failed, fmt::format("the DKMS modules' BUILD_DEPENDS form a cycle at {}", module.name));
    }
    for (const auto& dependency : module.build_depends) {
      if (auto found = by_name.find(dependency); found != by_name.end()) visit(*found->second);
    }
    visiting.erase(module.name);
    done.insert(module.name);
    ordered.push_back(module);
  };
  for (const auto& module : modules) visit(module);
  return ordered;
}

namespace fs = std::filesystem;

namespace {
std::string machine_arch() {
  utsname machine{};
  ::uname(&machine);
  return machine.machine;
}

// modules.dep: "updates/dkms/ibdriver_core.ko: kernel/...": file name -> path below /lib/modules/<kernel>.
std::map<std::string, std::string> modules_dep_files(const SystemRoot& root, const std::string& kernel) {
  std::map<std::string, std::string> files;
  auto text = read_file_if_exists(root.path("/lib/modules/" + kernel + "/modules.dep"), 256 * 1024 * 1024);
  if (!text) return files;
  for (auto line : text::split(*text, '\n')) {
    auto colon = line.find(':');
    if (colon == std::string_view::npos) continue;
    std::string path(line.substr(0, colon));
    files[fs::path(path).filename().string()] = path;
  }
  return files;
}

std::vector<std::string> built_module_files(const SystemRoot& root, const std::string& name, const std::string& version,
                                            const std::string& kernel) {
  std::vector<std::string> names;
  std::error_code error;
  auto folder = root.path(fmt::format("/var/lib/dkms/{}/{}/{}/{}/module", name, version, kernel, machine_arch()));
  for (const auto& entry : fs::directory_iterator(folder, error)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}
}  // namespace

std::optional<double> make_log_start(std::string_view date_line) {
  // "Wed Dec  2 03:50:01 UTC 2026": weekday, month, day, time, zone, year (coreutils date, C locale).
  std::vector<std::string_view> words;
  for (auto word : text::split(date_line, ' ')) {
    if (!word.empty()) words.push_back(word);  // "Dec  2": the day is padded
  }
  if (words.size() != 6 || words[3].size() != 8 || words[3][2] != ':' || words[3][5] != ':') return std::nullopt;
  static constexpr std::array<std::string_view, 12> months{"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  auto month = std::find(months.begin(), months.end(), words[1]);
  auto number = [](std::string_view digits, int low, int high) -> std::optional<int> {
    auto value = text::parse_decimal(digits);
    return value && *value >= low && *value <= high ? value : std::nullopt;
  };
  auto day = number(words[2], 1, 31);
  auto hour = number(words[3].substr(0, 2), 0, 23);
  auto minute = number(words[3].substr(3, 2), 0, 59);
  auto second = number(words[3].substr(6, 2), 0, 60);
  auto year = number(words[5], 1970, 9999);
  if (month == months.end() || !day || !hour || !minute || !second || !year) return std::nullopt;
  std::tm parts{};
  parts.tm_year = *year - 1900;
  parts.tm_mon = static_cast<int>(month - months.begin());
  parts.tm_mday = *day;
  parts.tm_hour = *hour;
  parts.tm_min = *minute;
  parts.tm_sec = *second;
  // Only zones whose offset is known here: UTC, or this machine's own zone by its standard or summer
  // name (which also says which of a repeated hour it was). A root with another zone is left out.
  const bool utc = words[4] == "UTC" || words[4] == "GMT";
  if (!utc) {
    ::tzset();
    if (words[4] == tzname[0]) {
      parts.tm_isdst = 0;
    } else if (daylight != 0 && words[4] == tzname[1]) {
      parts.tm_isdst = 1;
    } else {
      return std::nullopt;
    }
  }
  std::time_t at = utc ? ::timegm(&parts) : std::mktime(&parts);
  if (at == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<double>(at);
}

std::vector<std::pair<std::string, double>> dkms_builds_since(const SystemRoot& root, double since_epoch) {
  struct Build {
    std::string kernel;
    double end = 0;
    double seconds = 0;
  };
  std::vector<Build> builds;
  std::error_code error;
  const auto arch = machine_arch();
  // /var/lib/dkms/<module>/<version>/<kernel>/<arch>/log/make.log
  for (const auto& module : fs::directory_iterator(root.path("/var/lib/dkms"), error)) {
    std::error_code inner;
    for (const auto& version : fs::directory_iterator(module.path(), inner)) {
      for (const auto& kernel : fs::directory_iterator(version.path(), inner)) {
        if (kernel.is_symlink(inner) || !kernel.is_directory(inner)) continue;
        auto log_file = kernel.path() / arch / "log" / "make.log";
        struct stat status {};
        if (::stat(log_file.c_str(), &status) != 0) continue;
        double end = static_cast<double>(status.st_mtim.tv_sec) + static_cast<double>(status.st_mtim.tv_nsec) / 1e9;
        if (end + 1 < since_epoch) continue;  // built before this stage (one second: the log's resolution)
        // Only its first lines: a real make.log (the OFED core's) is far larger than they are.
        std::string head(4096, '\0');
        std::ifstream in(log_file, std::ios::binary);
        in.read(head.data(), static_cast<std::streamsize>(head.size()));
        head.resize(static_cast<std::size_t>(std::max<std::streamsize>(in.gcount(), 0)));
        auto lines = text::split(head, '\n');
        if (lines.size() < 2 || lines[0].rfind("DKMS make.log for ", 0) != 0) continue;
        auto start = make_log_start(lines[1]);
        if (!start || *start > end + 1 || end - *start > 24 * 3600) continue;  // another clock, or not a build
        builds.push_back({kernel.path().filename().string(), end, std::max(0.0, end - *start)});
      }
    }
  }
  std::sort(builds.begin(), builds.end(), [](const Build& a, const Build& b) { return a.end < b.end; });
  std::vector<std::pair<std::string, double>> kernels;
  for (const auto& build : builds) {
    auto found = std::find_if(kernels.begin(), kernels.end(), [&](const auto& entry) { return entry.first == build.kernel; });
    if (found == kernels.end()) {
      kernels.emplace_back(build.kernel, build.seconds);
    } else {
      found->second += build.seconds;
    }
  }
  return kernels;
}

std::set<std::string> dkms_installed_kernels(const SystemRoot& root, const std::string& name, const std::string& version) {
  std::set<std::string> kernels;
  const std::string suffix = "-" + machine_arch();
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(root.path("/var/lib/dkms/" + name), error)) {
    auto file = entry.path().filename().string();
    if (file.rfind("kernel-", 0) != 0 || file.size() <= 7 + suffix.size() ||
        file.compare(file.size() - suffix.size(), suffix.size(), suffix) != 0) {
      continue;
    }
    auto target = fs::read_symlink(entry.path(), error);
    if (error || target.begin() == target.end() || *target.begin() != version) continue;
    auto kernel = file.substr(7, file.size() - 7 - suffix.size());
    if (fs::exists(entry.path(), error)) kernels.insert(kernel);  // the link resolves: built and installed
  }
  return kernels;
}

std::vector<std::string> dkms_missing_module_files(const SystemRoot& root, const std::string& name,
                                                   const std::string& version, const std::string& kernel) {
  auto listed = modules_dep_files(root, kernel);
  auto built = built_module_files(root, name, version, kernel);
  std::vector<std::string> missing;
  if (built.empty()) missing.push_back(fmt::format("{}/{} (not built for {})", name, version, kernel));
  for (const auto& file : built) {
    auto found = listed.find(file);
    std::error_code error;
    if (found == listed.end() || !fs::exists(root.path("/lib/modules/" + kernel + "/" + found->second), error)) {
      missing.push_back(file);
    }
  }
  return missing;
}

std::vector<std::string> dkms_installed_module_files(const SystemRoot& root, const std::string& name,
                                                     const std::string& version, const std::string& kernel) {
  auto listed = modules_dep_files(root, kernel);
  std::vector<std::string> files;
  for (const auto& file : built_module_files(root, name, version, kernel)) {
    if (auto found = listed.find(file); found != listed.end()) files.push_back("/lib/modules/" + kernel + "/" + found->second);
  }
  return files;
}

bool Dkms::installed(const DkmsModule& module, const std::string& kernel) const {
  auto result = run_process({"dkms", "status", "-m", module.name, "-v", module.version, "-k", kernel});
  if (!result.succeeded()) return false;
  for (auto line : text::split(result.out, '\n')) {
    if (line.find(kernel) != std::string_view::npos && line.find(": installed") != std::string_view::npos) return true;
  }
  return false;
}

void Dkms::install(const DkmsModule& module, const std::string& kernel) const {
  long processors = ::sysconf(_SC_NPROCESSORS_ONLN);
  int jobs = settings_.jobs > 0 ? settings_.jobs : static_cast<int>(std::max(1L, processors));
  ProcessOptions options;
  options.time_limit = settings_.build_timeout;
  options.outlive_owner = true;  // a build cut by SIGPIPE between make and POST_BUILD leaves a module half-done
  log::info(fmt::format("building DKMS module {}/{} for kernel {} ({} jobs)", module.name, module.version, kernel, jobs));
  auto result = run_process({"dkms", "install", "-m", module.name, "-v", module.version, "-k", kernel, "-j",
                             std::to_string(jobs)},
                            options);
  if (result.succeeded()) return;
  auto make_log = fmt::format("/var/lib/dkms/{}/{}/build/make.log", module.name, module.version);
  std::string tail;
  if (auto log_text = read_file_if_exists(make_log, 64 * 1024 * 1024)) {
    ProcessResult as_output;
    as_output.out = *log_text;
    tail = as_output.tail(12);
  }
  throw Error(ExitCode::operation_failed,
              fmt::format("DKMS could not build {}/{} for kernel {} (dkms {}); {}:\n{}", module.name, module.version,
                          kernel, result.describe_end(), make_log, tail.empty() ? result.tail(12) : tail),
              fmt::format("check that the headers of {} are complete and match that kernel; the whole log is {}", kernel,
                          make_log));
}

void Dkms::unbuild(const DkmsModule& module, const std::string& kernel) const {
  ProcessOptions options;
  options.outlive_owner = true;
  auto result = run_process({"dkms", "unbuild", "-m", module.name, "-v", module.version, "-k", kernel}, options);
  if (!result.succeeded()) {
    log::debug(fmt::format("dkms unbuild {}/{} -k {} {}: {}", module.name, module.version, kernel, result.describe_end(),
                           result.tail(3)));
  }
}

void Dkms::remove(const std::string& name, const std::string& version) const {
  ProcessOptions options;
  options.outlive_owner = true;
  auto result = run_process({"dkms", "remove", "-m", name, "-v", version, "--all"}, options);
  if (!result.succeeded() && result.err.find("not located in the DKMS tree") == std::string::npos &&
      result.out.find("not located in the DKMS tree") == std::string::npos) {
    log::warning(fmt::format("dkms remove {}/{} {}: {}", name, version, result.describe_end(), result.tail(4)));
  }
}

}  // namespace ibdriver::install
