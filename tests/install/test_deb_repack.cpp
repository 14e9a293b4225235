// Rebuilding the .deb of an installed package (install/deb_repack.hpp), so that uninstall can put back
// a distro package the bundle upgraded on a machine whose apt cache was cleaned and whose archive no
// longer has that version. Real dpkg: a package built with dpkg-deb, installed with dpkg --root,
// repacked, compared with the original by dpkg-deb, and installed again into a fresh root.
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "install/deb_repack.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

void put(const fs::path& file, const std::string& text, fs::perms mode = fs::perms(0644)) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
  fs::permissions(file, mode);
}

std::string run_ok(const std::vector<std::string>& argv) {
  auto result = run_process(argv);
  INFO(format_command(argv) << ": " << result.tail(8));
  REQUIRE(result.succeeded());
  return result.out;
}

// An empty dpkg database under ROOT, as `dpkg --root` needs it.
void make_dpkg_root(const fs::path& root) {
  for (const char* folder : {"var/lib/dpkg/info", "var/lib/dpkg/updates", "var/lib/dpkg/triggers", "var/log"}) fs::create_directories(root / folder);
  put(root / "var/lib/dpkg/status", "");
  put(root / "var/lib/dpkg/available", "");
}

void dpkg_install(const fs::path& root, const fs::path& deb) {
  run_ok({"dpkg", "--root=" + root.string(), "--force-script-chrootless", "--force-not-root", "--log=/dev/null", "-i", deb.string()});
}

// `dpkg-deb -c` without the owner and date columns: "MODE NAME[ -> TARGET]", sorted.
std::vector<std::string> contents(const fs::path& deb) {
  std::vector<std::string> rows;
  const auto listing = run_ok({"dpkg-deb", "-c", deb.string()});
  for (auto line : text::split(listing, '\n')) {
    auto fields = text::split(line, ' ');
    std::vector<std::string> words;
    for (auto field : fields) {
      if (!field.empty()) words.emplace_back(field);
    }
    if (words.size() < 6) continue;
    std::string row = words[0];
    for (std::size_t i = 5; i < words.size(); ++i) row += " " + words[i];
    rows.push_back(row);
  }
  std::sort(rows.begin(), rows.end());
  return rows;
}

}  // namespace

TEST_CASE("a status stanza becomes a control file without dpkg's own fields", "[install][repack]") {
  const char* stanza =
      "Package: libibverbs1\nStatus: install ok installed\nPriority: optional\nSection: libs\nInstalled-Size: 123\n"
      "Maintainer: Debian <x@example.org>\nArchitecture: amd64\nMulti-Arch: same\nSource: rdma-core\nVersion: 44.0-2\n"
      "Depends: libc6 (>= 2.34), libnl-3-200\nConffiles:\n /etc/libibverbs.d/mlx5.driver 0123abcd\n /etc/x.conf 4567 obsolete\n"
      "Description: library for direct userspace use of RDMA (InfiniBand/iWARP)\n Multi-line text.\n .\n And more.\n"
      "Config-Version: 44.0-1\nHomepage: https://github.com/linux-rdma/rdma-core\n";
  CHECK(install::control_from_status(stanza) ==
        "Package: libibverbs1\nPriority: optional\nSection: libs\nInstalled-Size: 123\nMaintainer: Debian <x@example.org>\n"
        "Architecture: amd64\nMulti-Arch: same\nSource: rdma-core\nVersion: 44.0-2\nDepends: libc6 (>= 2.34), libnl-3-200\n"
        "Description: library for direct userspace use of RDMA (InfiniBand/iWARP)\n Multi-line text.\n .\n And more.\n"
        "Homepage: https://github.com/linux-rdma/rdma-core\n");
  CHECK_THROWS_AS(install::control_from_status("Status: install ok installed\nVersion: 1\n"), Error);
  CHECK_THROWS_AS(install::control_from_status(""), Error);
}

TEST_CASE("an installed package is repacked into a .deb dpkg installs again, as it is on the disk", "[install][repack]") {
  test::TempDir dir;
  // The original: Multi-Arch same (dpkg names its info files name:arch), an epoch, a conffile, a
  // maintainer script, a symbolic link, an executable.
  auto staging = dir.path() / "staging";
  put(staging / "DEBIAN/control",
      "Package: ibdriver-repack-test\nVersion: 1:2.0-1\nArchitecture: amd64\nMulti-Arch: same\nMaintainer: ibdriver tests <t@example.org>\n"
      "Description: a package to repack\n More lines.\n");
  put(staging / "DEBIAN/postinst", "#!/bin/sh\nexit 0\n", fs::perms(0755));
  put(staging / "DEBIAN/conffiles", "/etc/ibdriver-repack-test.conf\n");
  put(staging / "etc/ibdriver-repack-test.conf", "setting=1\n");
  put(staging / "usr/lib/ibdriver-repack-test/libx.so.1.0", std::string(200000, 'x'));
  fs::create_symlink("libx.so.1.0", staging / "usr/lib/ibdriver-repack-test/libx.so.1");
  put(staging / "usr/bin/ibdriver-repack-tool", "#!/bin/sh\necho tool\n", fs::perms(0755));
  auto original = dir.path() / "original.deb";
  run_ok({"dpkg-deb", "--root-owner-group", "-Zgzip", "-b", staging.string(), original.string()});

  auto root = dir.path() / "root";
  make_dpkg_root(root);
  dpkg_install(root, original);
  put(root / "etc/ibdriver-repack-test.conf", "setting=2 (edited by the admin)\n");  // the admin's edit is kept

  auto kept = install::repack_installed_package(SystemRoot(root), "ibdriver-repack-test", "amd64", dir.path() / "kept");
  CHECK(kept == dir.path() / "kept/ibdriver-repack-test_1%3a2.0-1_amd64.deb");
  CHECK_FALSE(fs::exists(dir.path() / "kept/.repack-ibdriver-repack-test"));  // the staging folder is gone

  for (const char* field : {"Package", "Version", "Architecture", "Multi-Arch", "Maintainer", "Description"}) {
    CHECK(run_ok({"dpkg-deb", "-f", kept.string(), field}) == run_ok({"dpkg-deb", "-f", original.string(), field}));
  }
  CHECK(run_ok({"dpkg-deb", "-I", kept.string(), "postinst"}) == "#!/bin/sh\nexit 0\n");
  CHECK(run_ok({"dpkg-deb", "-I", kept.string(), "conffiles"}) == "/etc/ibdriver-repack-test.conf\n");
  CHECK(contents(kept) == contents(original));

  auto fresh = dir.path() / "fresh";
  make_dpkg_root(fresh);
  dpkg_install(fresh, kept);
  CHECK(test::file_text(fresh / "etc/ibdriver-repack-test.conf") == "setting=2 (edited by the admin)\n");
  CHECK(fs::read_symlink(fresh / "usr/lib/ibdriver-repack-test/libx.so.1") == "libx.so.1.0");
  CHECK(fs::file_size(fresh / "usr/lib/ibdriver-repack-test/libx.so.1.0") == 200000);
  CHECK((fs::status(fresh / "usr/bin/ibdriver-repack-tool").permissions() & fs::perms::owner_exec) != fs::perms::none);
  CHECK(run_ok({"dpkg-query", "--admindir=" + (fresh / "var/lib/dpkg").string(), "-W", "-f", "${Version} ${db:Status-Status}",
                "ibdriver-repack-test:amd64"}) == "1:2.0-1 installed");
}

// Found in ci/vm: Debian 12's rdma-core ships /lib/systemd/... and /lib/udev/...; on merged /usr
// (every Debian 12 and Ubuntu image) /lib is a link to usr/lib, and the list names /lib before /usr.
TEST_CASE("on merged /usr, a package that ships /lib/... is repacked with /lib a folder, as its original", "[install][repack]") {
  test::TempDir dir;
  auto staging = dir.path() / "staging";
  put(staging / "DEBIAN/control",
      "Package: ibdriver-merged-test\nVersion: 44.0-2\nArchitecture: amd64\nMaintainer: ibdriver tests <t@example.org>\n"
      "Description: a package shipping /lib paths\n");
  put(staging / "lib/systemd/system/ibdriver-merged-test.service", "[Unit]\n");
  put(staging / "lib/udev/rules.d/60-ibdriver-merged-test.rules", "# rules\n");
  put(staging / "usr/lib/x86_64-linux-gnu/libibdriver-merged.so.1", "ELF");
  auto original = dir.path() / "original.deb";
  run_ok({"dpkg-deb", "--root-owner-group", "-Zgzip", "-b", staging.string(), original.string()});

  auto merged_root = [&](const fs::path& root) {
    make_dpkg_root(root);
    fs::create_directories(root / "usr/lib");
    fs::create_symlink("usr/lib", root / "lib");
  };
  auto root = dir.path() / "root";
  merged_root(root);
  dpkg_install(root, original);
  REQUIRE(fs::exists(root / "usr/lib/systemd/system/ibdriver-merged-test.service"));  // through the link

  auto kept = install::repack_installed_package(SystemRoot(root), "ibdriver-merged-test", "amd64", dir.path() / "kept");
  CHECK(contents(kept) == contents(original));

  auto fresh = dir.path() / "fresh";
  merged_root(fresh);
  dpkg_install(fresh, kept);
  CHECK(fs::is_symlink(fresh / "lib"));  // dpkg kept the system's link
  CHECK(test::file_text(fresh / "usr/lib/udev/rules.d/60-ibdriver-merged-test.rules") == "# rules\n");
  auto listed = run_ok({"dpkg-query", "--admindir=" + (fresh / "var/lib/dpkg").string(), "-L", "ibdriver-merged-test"});
  CHECK_THAT(listed, Catch::Contains("/lib/systemd/system/ibdriver-merged-test.service"));
}

TEST_CASE("a package dpkg does not know cannot be repacked, and the error names it", "[install][repack]") {
  test::TempDir dir;
  make_dpkg_root(dir.path());
  try {
    install::repack_installed_package(SystemRoot(dir.path()), "ibdriver-not-installed", "amd64", dir.path() / "kept");
    FAIL("expected an error");
  } catch (const Error& error) {
    CHECK_THAT(error.what(), Catch::Contains("cannot repack ibdriver-not-installed:amd64"));
  }
  CHECK_FALSE(fs::exists(dir.path() / "kept/ibdriver-not-installed_amd64.deb"));
}
