#include "install/bundle_dkms.hpp"

#include <fmt/format.h>

#include "archive/byte_source.hpp"
#include "archive/extract.hpp"
#include "core/error.hpp"
#include "core/files.hpp"

namespace ibdriver::install {

namespace fs = std::filesystem;

namespace {

constexpr std::size_t max_build_file_bytes = 1 << 20;

// "usr/src/iser-24.10/dkms.conf" (a payload path, without a leading "./" or "/") -> "usr/src/iser-24.10".
std::optional<std::string> dkms_source_dir(const std::string& path) {
  fs::path entry(path);
  std::vector<std::string> parts;
  for (const auto& part : entry) {
    if (part != "." && part != "/" && !part.empty()) parts.push_back(part.string());
  }
  if (parts.size() == 4 && parts[0] == "usr" && parts[1] == "src" && parts[3] == "dkms.conf") {
    return "usr/src/" + parts[2];
  }
  return std::nullopt;
}

bool is_build_file(const fs::path& file) {
  auto name = file.filename().string();
  auto extension = file.extension().string();
  return name == "makefile" || name == "Makefile" || name == "Kbuild" || name == "GNUmakefile" || extension == ".mk" ||
         extension == ".sh";
}

bool names_core_tree(const fs::path& source_dir) {
  std::error_code error;
  for (fs::recursive_directory_iterator it(source_dir, fs::directory_options::none, error), end; !error && it != end;
       it.increment(error)) {
    if (!it->is_regular_file(error) || !is_build_file(it->path())) continue;
    auto text = read_file(it->path(), max_build_file_bytes);
    if (text.find("/usr/src/ofa_kernel") != std::string::npos) return true;
  }
  return false;
}

}  // namespace

std::vector<BundleDkmsModule> bundle_dkms_modules(const std::vector<PackageFile>& packages, const fs::path& scratch) {
  std::vector<BundleDkmsModule> modules;
  archive::ExtractionLimits limits;
  for (std::size_t i = 0; i < packages.size(); ++i) {
    const auto& package = packages[i];
    auto label = package.file.filename().string();
    std::vector<std::string> source_dirs;
    {
      archive::FileByteSource source(package.file);
      for (const auto& entry : archive::list_archive(source, label, limits)) {
        if (entry.type != 'f') continue;
        if (auto dir = dkms_source_dir(entry.path)) source_dirs.push_back(*dir);
      }
    }
    if (source_dirs.empty()) continue;
    auto folder = scratch / fmt::format("dkms-conf-{}", i);
    fs::remove_all(folder);
    fs::create_directories(folder);
    try {
      archive::FileByteSource source(package.file);
      archive::extract_archive(source, label, folder, limits);
      for (const auto& dir : source_dirs) {
        auto conf_file = "/" + dir + "/dkms.conf";
        BundleDkmsModule module;
        module.conf = parse_dkms_conf_text(read_file(folder / dir / "dkms.conf", max_build_file_bytes),
                                           fmt::format("{}: {}", label, conf_file));
        module.package = package.name;
        module.links_core = names_core_tree(folder / dir);
        modules.push_back(std::move(module));
      }
    } catch (...) {
      std::error_code ignored;
      fs::remove_all(folder, ignored);
      throw;
    }
    fs::remove_all(folder);
  }
  return modules;
}

}  // namespace ibdriver::install
