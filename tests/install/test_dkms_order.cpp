// The DKMS build order of a bundle, read from its packages before anything is installed: the two real
// dkms.conf shapes, the ULPs that declare nothing yet need the core first, and the bad inputs.
#include <algorithm>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/process.hpp"
#include "core/text.hpp"
#include "install/bundle_dkms.hpp"
#include "install/dkms_conf.hpp"
#include "install/dkms_order.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using namespace ibdriver::install;
namespace fs = std::filesystem;
using Names = std::vector<std::string>;

namespace {

// The shape of OFED 25.10's static core dkms.conf (knneth/mlnx-ofa_kernel dkms.conf after the deb's sed).
const char* const static_core =
    "PACKAGE_NAME=\"mlnx-ofed-kernel\"\nPACKAGE_VERSION=\"25.10.OFED.25.10.1.7.1.1\"\n"
    "PRE_BUILD='./configure --kernel-sources=$kernel_source_dir --default --build-dummy-mods --with-njobs=$parallel_jobs'\n"
    "POST_BUILD='./ofed_scripts/dkms_ofed_post_build.sh /usr/src/ofa_kernel-dkms/$arch/$kernelver'\n"
    "MAKE[0]=\"make\"\nAUTOINSTALL=yes\n"
    "BUILT_MODULE_NAME[0]=\"mlx_compat\"\nBUILT_MODULE_LOCATION[0]=\"compat/\"\n"
    "BUILT_MODULE_NAME[1]=\"ib_core\"\nBUILT_MODULE_LOCATION[1]=\"drivers/infiniband/core/\"\n";

// The shape generate_dkms_conf.sh writes for every release up to 25.07: a variable index, `let i++`,
// a conditional module, MAKE through pre_build.sh, POST_INSTALL building the ULPs.
const char* const generated_core =
    "STRIP_MODS=${STRIP_MODS:-\"yes\"}\nkernelver=${kernelver:-$(uname -r)}\ni=0\n"
    "BUILT_MODULE_NAME[$i]=mlx_compat\nDEST_MODULE_LOCATION[$i]=/kernel/compat\nSTRIP[$i]=\"$STRIP_MODS\"\nlet i++\n"
    "if [[ $(VER $kernelver) < $(VER '5.11.0') ]]; then\nBUILT_MODULE_NAME[$i]=auxiliary\nlet i++\nfi\n"
    "BUILT_MODULE_NAME[$i]=mlx5_core\nlet i++\n"
    "MAKE=\"./ofed_scripts/pre_build.sh $kernelver $kernel_source_dir mlnx-ofed-kernel 23.10\"\nCLEAN=\"make clean\"\n"
    "PACKAGE_NAME=mlnx-ofed-kernel\nPACKAGE_VERSION=23.10\nREMAKE_INITRD=yes\nAUTOINSTALL=yes\n"
    "POST_INSTALL=\"ofed_scripts/dkms_build_ulps.sh $kernelver\"\n";

// A .deb ULP: no BUILD_DEPENDS; AUTOINSTALL empty up to 25.07; MAKE with backquotes and $(( )).
const char* const iser_2310 =
    "# DKMS module name and version\nPACKAGE_NAME=\"iser\"\nPACKAGE_VERSION=\"23.10\"\n"
    "BUILT_MODULE_NAME[0]=\"ib_iser\"\nBUILT_MODULE_LOCATION[0]=\"./\"\nDEST_MODULE_LOCATION[0]=\"/kernel/../updates/\"\n"
    "MAKE=\"make -j`MLXNUMC=$(grep ^processor /proc/cpuinfo | wc -l) && echo $(($MLXNUMC<16?$MLXNUMC:16))` KVER=$kernelver\"\n"
    "CLEAN=\"make clean\"\n# mlnx-ofed-kernel-dkms will build this module on POST_INSTALL\nAUTOINSTALL=\n";

BundleDkmsModule module(const std::string& text, const std::string& package, const std::string& file) {
  return {parse_dkms_conf_text(text, file), package, false};
}

BundleDkmsModule plain(const std::string& name, const std::string& depends = {}) {
  std::string text = "PACKAGE_NAME=" + name + "\nPACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=" + name + "_mod\n";
  if (!depends.empty()) text += "BUILD_DEPENDS=\"" + depends + "\"\n";
  auto package = name.size() > 5 && name.substr(name.size() - 5) == "-dkms" ? name : name + "-dkms";
  return module(text, package, "/usr/src/" + name + "-1/dkms.conf");
}

Names names(const DkmsBuildOrder& order) {
  Names out;
  for (const auto& m : order.modules) out.push_back(m.conf.name);
  return out;
}

}  // namespace

TEST_CASE("both real shapes of the core's dkms.conf are read", "[install][dkms][order]") {
  auto fresh = parse_dkms_conf_text(static_core, "/usr/src/mlnx-ofed-kernel-25.10.OFED.25.10.1.7.1.1/dkms.conf");
  CHECK(fresh.name == "mlnx-ofed-kernel");
  CHECK(fresh.version == "25.10.OFED.25.10.1.7.1.1");
  CHECK(fresh.built_modules == Names{"mlx_compat", "ib_core"});
  CHECK(fresh.autoinstall);
  CHECK(fresh.post_install.empty());

  auto old = parse_dkms_conf_text(generated_core, "/usr/src/mlnx-ofed-kernel-23.10/dkms.conf");
  CHECK(old.name == "mlnx-ofed-kernel");
  CHECK(old.version == "23.10");
  // `[$i]` is a new element every time (the file advances i with `let i++`), conditional ones included.
  CHECK(old.built_modules == Names{"mlx_compat", "auxiliary", "mlx5_core"});
  CHECK(old.post_install == "ofed_scripts/dkms_build_ulps.sh $kernelver");

  auto iser = parse_dkms_conf_text(iser_2310, "/usr/src/iser-23.10/dkms.conf");
  CHECK(iser.built_modules == Names{"ib_iser"});
  CHECK(iser.build_depends.empty());
  CHECK_FALSE(iser.autoinstall);
}

TEST_CASE("dkms.conf values: quotes, arrays, reassignment", "[install][dkms][order]") {
  auto conf = parse_dkms_conf_text(
      "PACKAGE_NAME='a'\"b\"c\nPACKAGE_VERSION=1.0 # a comment\nPACKAGE_VERSION=2.0\nBUILT_MODULE_NAME[0]=x\n"
      "BUILT_MODULE_NAME[1]=\"y\"\nBUILT_MODULE_NAME[1]=z\nBUILD_DEPENDS[0]=\"p q\"\nBUILD_DEPENDS[1]=r\n  AUTOINSTALL=\"yes\"\n",
      "/f");
  CHECK(conf.name == "abc");
  CHECK(conf.version == "2.0");
  CHECK(conf.built_modules == Names{"x", "z"});
  CHECK(conf.build_depends == Names{"p", "q", "r"});
  CHECK(conf.autoinstall);
}

TEST_CASE("a dkms.conf missing a field or with an open quote names the file and the field", "[install][dkms][order]") {
  const std::string file = "iser-dkms_1-1_all.deb: /usr/src/iser-1/dkms.conf";
  CHECK_THROWS_WITH(parse_dkms_conf_text("PACKAGE_VERSION=1\nBUILT_MODULE_NAME[0]=m\n", file),
                    Catch::Contains(file) && Catch::Contains("PACKAGE_NAME is missing"));
  CHECK_THROWS_WITH(parse_dkms_conf_text("PACKAGE_NAME=iser\nPACKAGE_VERSION=\"\"\nBUILT_MODULE_NAME[0]=m\n", file),
                    Catch::Contains("PACKAGE_VERSION is missing or empty"));
  CHECK_THROWS_WITH(parse_dkms_conf_text("PACKAGE_NAME=iser\nPACKAGE_VERSION=1\n", file),
                    Catch::Contains(file) && Catch::Contains("module iser names no BUILT_MODULE_NAME"));
  CHECK_THROWS_WITH(parse_dkms_conf_text("PACKAGE_NAME=iser\nMAKE=\"make\nPACKAGE_VERSION=1\n", file),
                    Catch::Contains("line 2: a quote is not closed"));
  try {
    parse_dkms_conf_text("", file);
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
  }
}

TEST_CASE("the core is built before the ULPs that declare nothing and sort before it", "[install][dkms][order]") {
  // What the real .deb bundles carry: iser/isert/srp sort before mlnx-ofed-kernel and declare nothing.
  auto order = dkms_build_order({module(iser_2310, "iser-dkms", "/i"), plain("srp"), plain("kernel-mft-dkms"),
                                 module(generated_core, "mlnx-ofed-kernel-dkms", "/c"), plain("isert")});
  CHECK(names(order) == Names{"kernel-mft-dkms", "mlnx-ofed-kernel", "iser", "isert", "srp"});
  CHECK(order.depth == std::vector<int>{0, 0, 1, 1, 1});
  CHECK(install_transactions(order) ==
        std::vector<Names>{{"kernel-mft-dkms", "mlnx-ofed-kernel-dkms"}, {"iser-dkms", "isert-dkms", "srp-dkms"}});
  // A module outside NVIDIA's list that builds against the core's tree (its makefile names it) too.
  auto custom = plain("aaa-gds");
  custom.links_core = true;
  CHECK(names(dkms_build_order({custom, plain("mlnx-ofa_kernel")})) == Names{"mlnx-ofa_kernel", "aaa-gds"});
  // Without the known rule they would go by name: the order DKMS's autoinstall uses and fails with.
  CHECK(names(dkms_build_order({plain("aaa-gds"), plain("mlnx-ofa_kernel")})) == Names{"aaa-gds", "mlnx-ofa_kernel"});
}

TEST_CASE("declared BUILD_DEPENDS come first; the core's two names are one module", "[install][dkms][order]") {
  // The DOCA 3.2 RPM specs write BUILD_DEPENDS="mlnx-ofa_kernel"; a .deb set names its core mlnx-ofed-kernel.
  auto order = dkms_build_order({plain("zeta"), plain("alpha", "zeta"), plain("iser", "mlnx-ofa_kernel"), plain("mlnx-ofed-kernel")});
  CHECK(names(order) == Names{"mlnx-ofed-kernel", "iser", "zeta", "alpha"});
  CHECK(order.depth == std::vector<int>{0, 1, 0, 1});
  // Declared wins over known: a ULP the core itself declares it needs is built before the core.
  CHECK(names(dkms_build_order({plain("mlnx-ofed-kernel", "srp"), plain("srp")})) == Names{"srp", "mlnx-ofed-kernel"});
  // A dependency outside the bundle that DKMS already has registered is fine.
  CHECK(names(dkms_build_order({plain("iser", "mlnx-ofa_kernel")}, {"mlnx-ofed-kernel"})) == Names{"iser"});
}

TEST_CASE("an unorderable bundle is exit 14 naming the modules and files", "[install][dkms][order]") {
  CHECK_THROWS_WITH(dkms_build_order({plain("a", "b"), plain("b", "c"), plain("c", "a")}),
                    Catch::Contains("form a cycle") && Catch::Contains("a (/usr/src/a-1/dkms.conf)") &&
                        Catch::Contains("c (/usr/src/c-1/dkms.conf)"));
  CHECK_THROWS_WITH(dkms_build_order({plain("iser", "mlnx-ofa_kernel")}),
                    Catch::Contains("/usr/src/iser-1/dkms.conf: module iser has BUILD_DEPENDS on mlnx-ofa_kernel, which no "
                                    "package of the bundle builds"));
  auto twin = plain("iser");
  twin.package = "iser-dkms-extra";
  CHECK_THROWS_WITH(dkms_build_order({plain("iser"), twin}), Catch::Contains("two packages carry the DKMS module iser"));
  try {
    dkms_build_order({plain("a", "a2"), plain("a2", "a")});
    FAIL("no error");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
  }
}

TEST_CASE("the dkms.conf files are read from the bundle's real .debs before anything is installed", "[install][dkms][order]") {
  test::TempDir dir;
  for (const auto* version : {"25.10-1.7.1.0", "24.10-1.1.4.0"}) {
    auto made = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_mofed_bundle.py", (dir.path() / version).string(),
                             "--version", version, "--ulps", "iser,srp", "--with-mft", "--no-distro-packages"});
    INFO(made.err);
    REQUIRE(made.succeeded());
    auto debs = fs::path(std::string(text::trim(made.out))) / "DEBS";
    std::vector<PackageFile> packages;
    for (const auto& entry : fs::directory_iterator(debs)) {
      if (entry.path().extension() != ".deb") continue;
      auto file = entry.path().filename().string();
      packages.push_back({entry.path(), file.substr(0, file.find('_'))});
    }
    std::sort(packages.begin(), packages.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
    auto modules = bundle_dkms_modules(packages, dir.path() / "scratch");
    CHECK(fs::is_empty(dir.path() / "scratch"));
    REQUIRE(modules.size() == 4);
    auto order = dkms_build_order(modules);
    CHECK(names(order) == Names{"kernel-mft-dkms", "mlnx-ofed-kernel", "iser", "srp"});
    CHECK(install_transactions(order) == std::vector<Names>{{"kernel-mft-dkms", "mlnx-ofed-kernel-dkms"}, {"iser-dkms", "srp-dkms"}});
    const auto& iser = order.modules[2];
    CHECK(iser.links_core);  // its makefile looks in /usr/src/ofa_kernel
    CHECK(iser.conf.build_depends.empty());
    CHECK_FALSE(order.modules[0].links_core);
    bool fresh = std::string(version) == "25.10-1.7.1.0";
    CHECK(iser.conf.autoinstall == fresh);  // AUTOINSTALL=yes on the ULPs from 25.10, empty before
    CHECK(order.modules[1].conf.post_install.empty() == fresh);
    CHECK(order.modules[1].conf.version == (fresh ? "25.10.OFED.25.10.1.7.1.1" : "24.10.OFED.24.10.1.1.4.1"));
    CHECK_THAT(iser.conf.file, Catch::StartsWith("iser-dkms_") && Catch::EndsWith("_all.deb: /usr/src/iser-" + iser.conf.version + "/dkms.conf"));
    CHECK(order.modules[3].conf.built_modules == Names{"ibdriver_srp", "ibdriver_scsi_transport_srp"});
  }
}
