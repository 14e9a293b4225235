#include "install/rpm_commands.hpp"

#include <algorithm>
#include <array>
#include <cstddef>
#include <optional>
#include <string>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "core/text.hpp"

namespace ibdriver::install {

namespace {

// The program and the options every dnf/yum/tdnf command starts with.
std::vector<std::string> yum_like_prefix(const RpmCommandContext& context) {
  std::vector<std::string> argv{std::string(to_string(context.tool)), "-y"};
  if (!context.installroot.empty()) {
    argv.push_back("--installroot=" + context.installroot);
    if (!context.releasever.empty()) argv.push_back("--releasever=" + context.releasever);
    // A path given on the command line is the host's: the root's own repo folder, never the host's.
    if (!context.reposdir.empty()) argv.push_back("--setopt=reposdir=" + context.reposdir);
  }
  return argv;
}

std::vector<std::string> zypper_prefix(const RpmCommandContext& context) {
  std::vector<std::string> argv{"zypper", "--non-interactive"};
  if (!context.installroot.empty()) {
    argv.emplace_back("--root");
    argv.push_back(context.installroot);
  }
  return argv;
}

bool is_package_file(const std::string& package) {
  return package.find('/') != std::string::npos && package.size() > 4 && package.compare(package.size() - 4, 4, ".rpm") == 0;
}

void append(std::vector<std::string>& argv, const std::vector<std::string>& more) { argv.insert(argv.end(), more.begin(), more.end()); }

}  // namespace

std::string_view to_string(RpmFrontEnd tool) {
  switch (tool) {
    case RpmFrontEnd::dnf: return "dnf";
    case RpmFrontEnd::yum: return "yum";
    case RpmFrontEnd::tdnf: return "tdnf";
    case RpmFrontEnd::zypper: return "zypper";
  }
  return "dnf";
}

std::vector<std::string> refresh_command(const RpmCommandContext& context, const std::vector<std::string>& repositories) {
  if (context.tool == RpmFrontEnd::zypper) {
    auto argv = zypper_prefix(context);
    argv.emplace_back("refresh");
    argv.emplace_back("--force");
    append(argv, repositories);
    return argv;
  }
  auto argv = yum_like_prefix(context);
  argv.emplace_back("--disablerepo=*");
  argv.push_back(fmt::format("--enablerepo={}", fmt::join(repositories, ",")));
  // yum has no --refresh; its makecache fetches what is missing or expired, and this repository has no cache yet.
  if (context.tool != RpmFrontEnd::yum) argv.emplace_back("--refresh");
  argv.emplace_back("makecache");
  return argv;
}

std::vector<std::string> install_command(const RpmCommandContext& context, const std::vector<std::string>& packages) {
  std::vector<std::string> argv;
  if (context.tool == RpmFrontEnd::zypper) {
    argv = zypper_prefix(context);
    // A local package file was verified by its SHA-256 and is unsigned as far as zypper can tell.
    if (std::any_of(packages.begin(), packages.end(), is_package_file)) argv.emplace_back("--no-gpg-checks");
    append(argv, {"install", "--no-recommends", "--auto-agree-with-licenses"});
  } else {
    argv = yum_like_prefix(context);
    switch (context.tool) {
      case RpmFrontEnd::dnf: append(argv, {"--setopt=skip_if_unavailable=True", "--setopt=install_weak_deps=False"}); break;
      case RpmFrontEnd::yum: argv.emplace_back("--setopt=skip_if_unavailable=1"); break;
      default: break;  // tdnf: Azure Linux's repo files say skip_if_unavailable themselves
    }
    argv.emplace_back("install");
  }
  append(argv, packages);
  return argv;
}

std::vector<std::string> dry_run_install_command(const RpmCommandContext& context, const std::vector<std::string>& packages) {
  auto argv = install_command(context, packages);
  if (context.tool == RpmFrontEnd::zypper) {
    auto install = std::find(argv.begin(), argv.end(), "install");
    argv.insert(install + 1, "--dry-run");
  } else {
    argv.erase(std::remove(argv.begin(), argv.end(), "-y"), argv.end());
    argv.insert(argv.begin() + 1, "--assumeno");
  }
  return argv;
}

namespace {

std::vector<std::string> transaction_section(RpmFrontEnd tool, std::string_view output, bool installs) {
  std::vector<std::string> names;
  bool in_section = false;
  for (auto raw : text::split(output, '\n')) {
    auto line = text::trim(raw);
    if (tool == RpmFrontEnd::zypper) {
      if (line.rfind("The following ", 0) == 0) {
        in_section = installs ? line.find("going to be installed:") != std::string_view::npos
                              : line.find("going to be upgraded:") != std::string_view::npos ||
                                    line.find("going to be downgraded:") != std::string_view::npos;
        continue;
      }
      if (line.empty()) {
        in_section = false;
        continue;
      }
      if (in_section) {
        for (auto name : text::split(line, ' ')) {
          if (!name.empty()) names.emplace_back(name);
        }
      }
      continue;
    }
    // dnf/yum/tdnf: a heading ends with ':' ("Upgrading:", "Installing dependencies:"); rows follow
    // (dnf indents them by one space, tdnf not at all); dnf wraps a long name onto a line of its own,
    // its other columns indented further below; "====" rules and "Transaction Summary" end a section.
    if (line.empty() || line.front() == '=' || line.rfind("Transaction", 0) == 0 || line.rfind("Total", 0) == 0) {
      in_section = false;
      continue;
    }
    if (line.back() == ':') {
      in_section = installs ? line == "Installing:" || line == "Installing dependencies:" || line == "Installing weak dependencies:"
                            : line == "Upgrading:" || line == "Updating:" || line == "Downgrading:";
      continue;
    }
    if (!in_section || (raw.size() > 1 && raw[0] == ' ' && raw[1] == ' ')) continue;
    auto fields = text::split(line, ' ');
    if (!fields.empty() && !fields.front().empty()) names.emplace_back(fields.front());
  }
  return names;
}

}  // namespace

std::vector<std::string> replaced_in_transaction(RpmFrontEnd tool, std::string_view output) { return transaction_section(tool, output, false); }

std::vector<std::string> installed_in_transaction(RpmFrontEnd tool, std::string_view output) { return transaction_section(tool, output, true); }

std::vector<std::string> download_command(const RpmCommandContext& context, const std::string& destination, const std::string& package) {
  auto argv = yum_like_prefix(context);
  append(argv, {"download", "--destdir", destination, package});
  return argv;
}

std::vector<std::string> downgrade_command(const RpmCommandContext& context, const std::vector<std::string>& packages) {
  std::vector<std::string> argv;
  if (context.tool == RpmFrontEnd::zypper) {
    argv = zypper_prefix(context);
    if (std::any_of(packages.begin(), packages.end(), is_package_file)) argv.emplace_back("--no-gpg-checks");
    append(argv, {"install", "--oldpackage", "--no-recommends"});
  } else {
    argv = yum_like_prefix(context);
    argv.emplace_back("downgrade");
  }
  append(argv, packages);
  return argv;
}

std::vector<std::string> remove_command(const RpmCommandContext& context, const std::vector<std::string>& packages) {
  std::vector<std::string> argv;
  switch (context.tool) {
    case RpmFrontEnd::zypper:
      argv = zypper_prefix(context);
      append(argv, {"--no-refresh", "remove"});
      break;
    case RpmFrontEnd::dnf:
      argv = yum_like_prefix(context);
      append(argv, {"--disablerepo=*", "--setopt=clean_requirements_on_remove=False", "remove"});
      break;
    case RpmFrontEnd::yum:
      argv = yum_like_prefix(context);
      append(argv, {"--disablerepo=*", "--setopt=clean_requirements_on_remove=0", "remove"});
      break;
    case RpmFrontEnd::tdnf:
      argv = yum_like_prefix(context);
      append(argv, {"--disablerepo=*", "--noautoremove", "remove"});
      break;
  }
  append(argv, packages);
  return argv;
}

std::vector<std::string> clean_command(const RpmCommandContext& context) {
  if (context.tool == RpmFrontEnd::zypper) {
    auto argv = zypper_prefix(context);
    append(argv, {"clean", "--all", context.repository});
    return argv;
  }
  auto argv = yum_like_prefix(context);
  append(argv, {"--disablerepo=*", "--enablerepo=" + context.repository, "clean", "all"});
  return argv;
}

std::vector<std::string> rpm_command(const RpmCommandContext& context, const std::vector<std::string>& arguments) {
  std::vector<std::string> argv{"rpm"};
  if (!context.installroot.empty()) {
    argv.emplace_back("--root");
    argv.push_back(context.installroot);
  }
  append(argv, arguments);
  return argv;
}

std::string repository_file_text(const RpmCommandContext& context, const std::string& base_directory,
                                 const std::string& description) {
  std::string text = fmt::format(
      "# Written by ibdriver: the verified driver bundle's packages. `ibdriver uninstall` removes it.\n"
      "[{}]\nname=ibdriver: {}\nenabled=1\n",
      context.repository, description);
  if (context.tool == RpmFrontEnd::zypper) {
    return text + fmt::format("autorefresh=0\nbaseurl=dir:{}\ntype=rpm-md\ngpgcheck=0\npriority=1\nkeeppackages=0\n", base_directory);
  }
  text += fmt::format("baseurl=file://{}\ngpgcheck=0\npriority=1\nskip_if_unavailable=0\n", base_directory);
  if (context.tool != RpmFrontEnd::tdnf) text += "repo_gpgcheck=0\n";
  // EL8's modular filtering hides packages that share a name with a module's (perl, python3...).
  if (context.tool == RpmFrontEnd::dnf) text += "module_hotfixes=1\n";
  return text;
}

std::vector<std::string> repository_ids(const std::string& repo_file_text) {
  std::vector<std::string> ids;
  for (auto line : text::split(repo_file_text, '\n')) {
    line = text::trim(line);
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      auto id = std::string(text::trim(line.substr(1, line.size() - 2)));
      if (!id.empty() && id != "main" && std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(id);
    }
  }
  return ids;
}

std::string with_excluded_packages(const std::string& repo_file_text, const std::string& id, const std::vector<std::string>& names) {
  std::vector<std::string> lines;
  for (auto line : text::split(repo_file_text, '\n')) lines.emplace_back(line);
  bool ends_with_newline = !repo_file_text.empty() && repo_file_text.back() == '\n';
  if (ends_with_newline && !lines.empty()) lines.pop_back();  // split's empty piece after the last newline
  // Appends the names a value does not list yet (dnf reads space- or comma-separated lists).
  auto add_names = [&](std::string line) {
    auto value = line.substr(line.find('=') + 1);
    std::vector<std::string> present;
    for (auto item : text::split(value, ' ')) {
      for (auto part : text::split(item, ',')) {
        if (!text::trim(part).empty()) present.emplace_back(text::trim(part));
      }
    }
    for (const auto& name : names) {
      if (std::find(present.begin(), present.end(), name) != present.end()) continue;
      line += (present.empty() ? "" : " ") + name;
      present.push_back(name);
    }
    return line;
  };
  std::optional<std::size_t> header;  // the section's header line
  bool edited = false;
  for (std::size_t i = 0; i < lines.size() && !edited; ++i) {
    auto line = text::trim(lines[i]);
    if (line.size() > 2 && line.front() == '[' && line.back() == ']') {
      if (header) break;  // the next section: the wanted one had no excludepkgs=
      if (text::trim(line.substr(1, line.size() - 2)) == id) header = i;
      continue;
    }
    auto equals = line.find('=');
    if (header && equals != std::string_view::npos && text::trim(line.substr(0, equals)) == "excludepkgs") {
      lines[i] = add_names(lines[i]);
      edited = true;
    }
  }
  if (!header) return repo_file_text;
  if (!edited) lines.insert(lines.begin() + static_cast<std::ptrdiff_t>(*header) + 1, add_names("excludepkgs="));
  std::string out;
  for (std::size_t i = 0; i < lines.size(); ++i) out += lines[i] + (i + 1 < lines.size() || ends_with_newline ? "\n" : "");
  return out;
}

bool is_baseos_repository(const std::string& id) { return id == "baseos" || id.find("-baseos-") != std::string::npos; }

std::vector<std::string> repoquery_names_command(const RpmCommandContext& context, const std::vector<std::string>& repositories,
                                                 const std::vector<std::string>& packages) {
  auto argv = yum_like_prefix(context);
  append(argv, {"-q", "repoquery", "--disablerepo=*", fmt::format("--enablerepo={}", fmt::join(repositories, ",")), "--qf", "%{name}\n"});
  append(argv, packages);
  return argv;
}

std::string rpm_tool_errors(const ProcessResult& result) {
  static constexpr std::array<std::string_view, 14> starts{
      "Error",  "error:",          "ERROR",       "Problem",       "- nothing provides", "- package ",
      "- conflicting", "No match for argument", "No package", "No provider of", "Failed", "Cannot",
      "Curl error",    "Abort"};
  std::vector<std::string> lines;
  for (const auto& stream : {result.err, result.out}) {
    for (auto line : text::split(stream, '\n')) {
      line = text::trim(line);
      bool wanted = std::any_of(starts.begin(), starts.end(), [&](std::string_view start) { return line.substr(0, start.size()) == start; });
      if (wanted && std::find(lines.begin(), lines.end(), line) == lines.end()) lines.emplace_back(line);
    }
  }
  if (lines.empty()) return result.tail(8);
  if (lines.size() > 20) lines.resize(20);
  return fmt::format("{}", fmt::join(lines, "\n"));
}

bool dry_run_resolved(RpmFrontEnd tool, const ProcessResult& result) {
  if (tool == RpmFrontEnd::zypper || result.succeeded()) return transaction_succeeded(tool, result);
  if (result.signal != 0 || result.timed_out) return false;
  for (const auto& stream : {result.out, result.err}) {
    if (stream.find("Operation aborted") != std::string::npos || stream.find("Exiting on user command") != std::string::npos) return true;
  }
  return false;
}

bool transaction_succeeded(RpmFrontEnd tool, const ProcessResult& result) {
  if (result.succeeded()) return true;
  if (tool != RpmFrontEnd::zypper || result.signal != 0 || result.timed_out) return false;
  // zypper(8): 102 reboot needed, 103 restart zypper, 106 repositories skipped, 107 a scriptlet failed.
  // 100 (updates available), 101 (security updates) and 104 (capability not found) are not successes here.
  return result.exit_status == 102 || result.exit_status == 103 || result.exit_status == 106 || result.exit_status == 107;
}

}  // namespace ibdriver::install
