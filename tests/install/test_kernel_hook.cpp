// ibdriver's kernel hook (install/kernel_hook.hpp): its files, its journaling and undo, its script
// (shellcheck, and run for real against a fake `dkms` on PATH). The hook with the real dkms of
// Debian 11, 12 and 13 is ci/dkms-hook-test.
#include <fstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/process.hpp"
#include "install/configure.hpp"
#include "install/kernel_hook.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;
using Names = std::vector<std::string>;

namespace {

void make_dirs(const fs::path& root, const Names& dirs) {
  for (const auto& dir : dirs) fs::create_directories(root / dir);
}

void write(const fs::path& file, const std::string& text, fs::perms perms = fs::perms::owner_read | fs::perms::owner_write) {
  fs::create_directories(file.parent_path());
  std::ofstream(file) << text;
  fs::permissions(file, perms);
}

}  // namespace

TEST_CASE("the kernel hook goes where the kernel packages run hooks, before DKMS's own", "[install][kernel-hook]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  CHECK(install::kernel_hook_files(root).empty());
  make_dirs(dir.path(), {"etc/kernel/postinst.d", "etc/kernel/header_postinst.d"});
  CHECK(install::kernel_hook_files(root) ==
        Names{"/etc/kernel/postinst.d/01-ibdriver-dkms", "/etc/kernel/header_postinst.d/01-ibdriver-dkms"});
  // run-parts runs them in lexical order: ours before DKMS's `dkms` and initramfs-tools.
  CHECK(std::string("01-ibdriver-dkms") < std::string("dkms"));
  make_dirs(dir.path(), {"etc/kernel/install.d"});
  CHECK(install::kernel_hook_files(root).back() == "/etc/kernel/install.d/39-ibdriver-dkms.install");
  CHECK(std::string("39-ibdriver-dkms.install") < std::string("40-dkms.install"));
}

TEST_CASE("installing the hook is journaled, idempotent, and undone by restore_configuration", "[install][kernel-hook]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  make_dirs(dir.path(), {"etc/kernel/postinst.d", "etc/kernel/header_postinst.d"});
  const std::string older = "#!/bin/sh\n# an older ibdriver's hook\n";
  write(dir.path() / "etc/kernel/header_postinst.d/01-ibdriver-dkms", older);
  const Names order{"mlnx-ofed-kernel", "iser", "srp"};
  std::vector<install::ConfigChange> changes;
  install::install_kernel_hook(root, order, [&](const install::ConfigChange& change) {
    CHECK_FALSE(install::kernel_hook_installed(root, order));  // recorded before the file changes
    changes.push_back(change);
  });
  REQUIRE(changes.size() == 2);
  CHECK(changes[0].file == "/etc/kernel/postinst.d/01-ibdriver-dkms");
  CHECK(changes[0].action == "created");
  CHECK(changes[1].action == "edited");
  CHECK(changes[1].original == older);
  CHECK(install::kernel_hook_installed(root, order));
  CHECK_FALSE(install::kernel_hook_installed(root, {"iser", "mlnx-ofed-kernel"}));  // another order is not it
  auto perms = fs::status(dir.path() / "etc/kernel/postinst.d/01-ibdriver-dkms").permissions();
  CHECK((perms & fs::perms::owner_exec) != fs::perms::none);  // run-parts runs executables only
  std::size_t again = 0;
  install::install_kernel_hook(root, order, [&](const install::ConfigChange&) { ++again; });
  CHECK(again == 0);
  install::restore_configuration(root, changes);
  CHECK_FALSE(fs::exists(dir.path() / "etc/kernel/postinst.d/01-ibdriver-dkms"));
  CHECK(test::file_text(dir.path() / "etc/kernel/header_postinst.d/01-ibdriver-dkms") == older);
}

TEST_CASE("the hook's script is shellcheck-clean and refuses names that are not module names", "[install][kernel-hook]") {
  auto script = install::kernel_hook_script({"mlnx-ofed-kernel", "iser", "kernel-mft-dkms"});
  CHECK_THAT(script, Catch::Contains("modules=\"mlnx-ofed-kernel iser kernel-mft-dkms\""));
  CHECK_THROWS_WITH(install::kernel_hook_script({"iser; rm -rf /"}), Catch::Contains("\"iser; rm -rf /\" cannot go into"));
  CHECK_THROWS_AS(install::kernel_hook_script({""}), Error);
  if (!run_process({"sh", "-c", "command -v shellcheck"}).succeeded()) return;
  test::TempDir dir;
  write(dir.path() / "hook", script);
  auto checked = run_process({"shellcheck", "-s", "sh", (dir.path() / "hook").string()});
  INFO(checked.out);
  CHECK(checked.succeeded());
}

TEST_CASE("the hook builds in its order what DKMS has not installed, newest registered version", "[install][kernel-hook]") {
  // A fake dkms on PATH records the calls; /lib/modules and /var/lib/dkms are the host's, so the script
  // is run with its paths rewritten into a temporary tree.
  test::TempDir dir;
  auto tree = dir.path();
  write(tree / "bin/dkms",
        "#!/bin/sh\necho \"$*\" >> " + (tree / "calls").string() +
            "\ncase \"$1\" in status) case \"$3\" in srp) echo \"srp/1, $7, x86_64: installed\";; esac;; esac\nexit 0\n",
        fs::perms::owner_all);
  for (const auto* version : {"24.10.OFED.24.10.1.1.4.1", "25.10.OFED.25.10.1.7.1.1"}) {
    write(tree / "var/lib/dkms/mlnx-ofed-kernel" / version / "source/dkms.conf", "x");
  }
  fs::create_directories(tree / "var/lib/dkms/mlnx-ofed-kernel/kernel-6.1.0-50-amd64-x86_64");  // not a version
  write(tree / "var/lib/dkms/iser/24.10/source/dkms.conf", "x");
  fs::create_directories(tree / "var/lib/dkms/iser/25.10");  // unregistered (its source gone): not picked
  write(tree / "var/lib/dkms/srp/1/source/dkms.conf", "x");
  fs::create_directories(tree / "lib/modules/6.1.0-50-amd64/build/include");
  auto script = install::kernel_hook_script({"mlnx-ofed-kernel", "iser", "srp", "knem"});
  for (const auto* path : {"/var/lib/dkms/", "/lib/modules/"}) {
    for (auto at = script.find(path); at != std::string::npos; at = script.find(path, at + tree.string().size() + 1)) {
      script.insert(at, tree.string());
    }
  }
  write(tree / "hook", script, fs::perms::owner_all);
  std::string path_env = "PATH=" + (tree / "bin").string() + ":/usr/bin:/bin";
  auto ran = run_process({"env", path_env, (tree / "hook").string(), "6.1.0-50-amd64", "/boot/vmlinuz-6.1.0-50-amd64"});
  INFO(ran.out << ran.err);
  CHECK(ran.succeeded());
  CHECK(test::file_text(tree / "calls") ==
        "status -m mlnx-ofed-kernel -v 25.10.OFED.25.10.1.7.1.1 -k 6.1.0-50-amd64\n"
        "build -m mlnx-ofed-kernel -v 25.10.OFED.25.10.1.7.1.1 -k 6.1.0-50-amd64\n"
        "install -m mlnx-ofed-kernel -v 25.10.OFED.25.10.1.7.1.1 -k 6.1.0-50-amd64\n"
        "status -m iser -v 24.10 -k 6.1.0-50-amd64\n"
        "build -m iser -v 24.10 -k 6.1.0-50-amd64\n"
        "install -m iser -v 24.10 -k 6.1.0-50-amd64\n"
        "status -m srp -v 1 -k 6.1.0-50-amd64\n");
  // kernel-install's "remove", and a kernel without headers: nothing to do.
  fs::remove(tree / "calls");
  CHECK(run_process({"env", path_env, (tree / "hook").string(), "remove", "6.1.0-50-amd64", "/x", "/y"}).succeeded());
  CHECK(run_process({"env", path_env, (tree / "hook").string(), "6.9.9-no-headers"}).succeeded());
  CHECK_FALSE(fs::exists(tree / "calls"));
}
