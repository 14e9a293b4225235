// Secure Boot signing: MOK key checks and generation (OpenSSL), the DKMS drop-in, the pre-flight
// refusal, and a module signed by the kernel's real sign-file with a generated key (modinfo reads it).
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>

#include "core/error.hpp"
#include "core/process.hpp"
#include "install/configure.hpp"
#include "install/module_signing.hpp"
#include "platform/secure_boot.hpp"
#include "support/fake_machine.hpp"
#include "support/imds_server.hpp"
#include "support/temp_dir.hpp"
#include "support/tools.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

// A key pair made by the openssl command, as an admin would (PEM certificate).
void openssl_pair(const fs::path& key, const fs::path& certificate, const std::string& common_name) {
  fs::create_directories(key.parent_path());
  auto made = run_process({"openssl", "req", "-new", "-x509", "-nodes", "-days", "30", "-subj", "/CN=" + common_name, "-newkey",
                           "rsa:2048", "-keyout", key.string(), "-out", certificate.string()});
  REQUIRE(made.succeeded());
}

// Debian's sign-file (linux-kbuild-*), the one DKMS uses there.
std::optional<std::string> host_sign_file() {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator("/usr/lib", error)) {
    auto candidate = entry.path() / "scripts/sign-file";
    if (entry.path().filename().string().rfind("linux-kbuild-", 0) == 0 && fs::exists(candidate, error)) return candidate.string();
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("mokutil --sb-state is read; the efivars answer stands under a fake root", "[install][signing]") {
  CHECK(platform::parse_mokutil_sb_state("SecureBoot enabled\n") == platform::SecureBootState::enabled);
  CHECK(platform::parse_mokutil_sb_state("SecureBoot disabled\nPlatform is in Setup Mode\n") == platform::SecureBootState::disabled);
  CHECK(platform::parse_mokutil_sb_state("EFI variables are not supported on this system\n") == platform::SecureBootState::unknown);
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.secure_boot(true);
  auto state = platform::detect_secure_boot(SystemRoot(dir.path()));
  CHECK(state.state == platform::SecureBootState::enabled);
  CHECK(state.evidence == "SecureBoot EFI variable = 1");
}

TEST_CASE("a generated MOK key pair is usable, DER, for code signing, and never replaced", "[install][signing]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  install::SigningKey key{install::dkms_default_key, install::dkms_default_certificate, "test"};
  install::generate_signing_key(root, key, "ibdriver test signing key");
  struct stat status {};
  REQUIRE(::stat((dir.path() / "var/lib/dkms/mok.key").c_str(), &status) == 0);
  CHECK((status.st_mode & 0777) == 0600);
  auto check = install::check_signing_key(root, key);
  INFO(check.problem);
  CHECK(check.usable());
  CHECK(check.der);
  CHECK(check.subject == "CN = ibdriver test signing key");
  CHECK(check.sha1_fingerprint.size() == 59);
  // Read back by the openssl command: an X.509 certificate with the code-signing usages.
  auto text = run_process({"openssl", "x509", "-inform", "DER", "-in", (dir.path() / "var/lib/dkms/mok.pub").string(), "-noout", "-text"});
  REQUIRE(text.succeeded());
  CHECK_THAT(text.out, Catch::Contains("Code Signing") && Catch::Contains("1.3.6.1.4.1.2312.16.1.2") &&
                           Catch::Contains("CA:FALSE") && Catch::Contains("Public-Key: (2048 bit)"));
  CHECK(run_process({"openssl", "rsa", "-check", "-noout", "-in", (dir.path() / "var/lib/dkms/mok.key").string()}).succeeded());
  auto before = test::file_text(dir.path() / "var/lib/dkms/mok.key");
  CHECK_THROWS_WITH(install::generate_signing_key(root, key, "again"), Catch::Contains("never replaces"));
  CHECK(test::file_text(dir.path() / "var/lib/dkms/mok.key") == before);
}

TEST_CASE("a key pair from openssl is accepted; missing, mismatched and damaged ones are refused", "[install][signing]") {
  test::TempDir dir;
  SystemRoot root(dir.path());
  openssl_pair(dir.path() / "keys/a.key", dir.path() / "keys/a.pem", "key a");
  openssl_pair(dir.path() / "keys/b.key", dir.path() / "keys/b.pem", "key b");
  auto good = install::check_signing_key(root, {"/keys/a.key", "/keys/a.pem", "test"});
  CHECK(good.usable());
  CHECK_FALSE(good.der);
  // mokutil --import takes DER: the steps convert a PEM certificate first.
  CHECK_THAT(install::enrolment_steps({"/keys/a.key", "/keys/a.pem", ""}, false),
             Catch::Contains("openssl x509 -in /keys/a.pem -outform DER -out /keys/a.pem.der") &&
                 Catch::Contains("mokutil --import /keys/a.pem.der"));
  CHECK_THAT(install::check_signing_key(root, {"/keys/a.key", "/keys/b.pem", ""}).problem,
             Catch::Contains("does not belong to the key /keys/a.key"));
  CHECK_THAT(install::check_signing_key(root, {"/keys/none.key", "/keys/a.pem", ""}).problem,
             Catch::Contains("/keys/none.key does not exist"));
  std::ofstream(dir.path() / "keys/garbage.key") << "not a key\n";
  CHECK_THAT(install::check_signing_key(root, {"/keys/garbage.key", "/keys/a.pem", ""}).problem,
             Catch::Contains("not an unencrypted private key"));
  CHECK_THAT(install::check_signing_key(root, {"/keys/a.key", "/keys/garbage.key", ""}).problem,
             Catch::Contains("not an X.509 certificate"));
}

TEST_CASE("the key comes from the options, else DKMS's configuration, else DKMS's defaults", "[install][signing]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  SystemRoot root(dir.path());
  auto defaults = install::resolve_signing_key(root, {});
  CHECK(defaults.key == "/var/lib/dkms/mok.key");
  CHECK(defaults.certificate == "/var/lib/dkms/mok.pub");
  machine.write("etc/dkms/framework.conf", "# mok_signing_key=/commented\nmok_signing_key=\"/root/mok/site.key\"\n");
  machine.write("etc/dkms/framework.conf.d/site.conf", "mok_certificate='/root/mok/site.der'\n");
  auto configured = install::resolve_signing_key(root, {});
  CHECK(configured.key == "/root/mok/site.key");
  CHECK(configured.certificate == "/root/mok/site.der");
  CHECK(configured.origin == "the DKMS configuration /etc/dkms/framework.conf.d/site.conf");
  install::SigningSettings settings;
  settings.key = "/srv/k";
  settings.certificate = "/srv/c";
  auto chosen = install::resolve_signing_key(root, settings);
  CHECK(chosen.key == "/srv/k");
  CHECK(chosen.origin == "the key pair given");

  // The drop-in: recorded before it is written, idempotent, removed again by the restore.
  std::vector<install::ConfigChange> changes;
  install::configure_dkms_signing(root, chosen, [&](const install::ConfigChange& change) {
    CHECK_FALSE(fs::exists(dir.path() / "etc/dkms/framework.conf.d/ibdriver.conf"));
    changes.push_back(change);
  });
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].action == "created");
  CHECK_THAT(test::file_text(dir.path() / "etc/dkms/framework.conf.d/ibdriver.conf"),
             Catch::Contains("mok_signing_key=\"/srv/k\"\nmok_certificate=\"/srv/c\"\n"));
  CHECK(install::dkms_signing_configured(root, chosen));
  install::configure_dkms_signing(root, chosen, [&](const install::ConfigChange& change) { changes.push_back(change); });
  CHECK(changes.size() == 1);
  // ibdriver's own drop-in does not count as the site's configuration.
  CHECK(install::resolve_signing_key(root, {}).key == "/root/mok/site.key");
  install::restore_configuration(root, changes);
  CHECK_FALSE(fs::exists(dir.path() / "etc/dkms/framework.conf.d/ibdriver.conf"));
}

TEST_CASE("with Secure Boot on, install refuses without a usable key and makes one on request", "[install][signing]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.kernel("6.1.0-27-amd64", true);
  SystemRoot root(dir.path());
  const std::vector<std::string> kernels{"6.1.0-27-amd64"};
  CHECK_FALSE(install::prepare_signing(root, {}, false, kernels, false).has_value());
  try {
    install::prepare_signing(root, {}, true, kernels, false);
    FAIL("no refusal");
  } catch (const Error& error) {
    CHECK(error.code() == ExitCode::operation_failed);
    CHECK_THAT(error.what(), Catch::Contains("Secure Boot needs signed modules") && Catch::Contains("/var/lib/dkms/mok.key does not exist"));
    CHECK_THAT(error.hint(), Catch::Contains("have ibdriver generate /var/lib/dkms/mok.key") &&
                                 Catch::Contains("mokutil --import /var/lib/dkms/mok.pub") && Catch::Contains("MokManager") &&
                                 Catch::Contains("Nothing was installed"));
    REQUIRE_FALSE(error.remedies().empty());
    CHECK(error.remedies()[0].knob == Knob::generate_mok_key);
  }
  install::SigningSettings generate;
  generate.generate = true;
  // A dry run makes nothing.
  auto dry = install::prepare_signing(root, generate, true, kernels, true);
  REQUIRE(dry.has_value());
  CHECK_FALSE(fs::exists(dir.path() / "var/lib/dkms/mok.key"));
  // The kernel has no sign-file: DKMS would leave the modules unsigned, so that is refused too.
  CHECK_THROWS_WITH(install::prepare_signing(root, generate, true, kernels, false),
                    Catch::Contains("kernel 6.1.0-27-amd64 has no sign-file"));
  CHECK(fs::exists(dir.path() / "var/lib/dkms/mok.key"));  // made before the sign-file check; kept for the next run
  machine.write("usr/lib/linux-kbuild-6.1/scripts/sign-file", "#!/bin/sh\n");
  fs::permissions(dir.path() / "usr/lib/linux-kbuild-6.1/scripts/sign-file", fs::perms::owner_all);
  CHECK(install::find_sign_file(root, "6.1.0-27-amd64") == std::string("/usr/lib/linux-kbuild-6.1/scripts/sign-file"));
  auto plan = install::prepare_signing(root, generate, true, kernels, false);
  REQUIRE(plan.has_value());
  CHECK_FALSE(plan->generated);  // the pair from the run before is used, not replaced
  CHECK(plan->check.usable());
  CHECK_THAT(plan->enrolment, Catch::Contains("mokutil --import /var/lib/dkms/mok.pub"));
  // A key that does not match its certificate is refused even with --generate-mok-key (never replaced).
  openssl_pair(dir.path() / "other/x.key", dir.path() / "other/x.pem", "other");
  fs::copy_file(dir.path() / "other/x.key", dir.path() / "var/lib/dkms/mok.key", fs::copy_options::overwrite_existing);
  CHECK_THROWS_WITH(install::prepare_signing(root, generate, true, kernels, false), Catch::Contains("does not belong to the key"));
}

TEST_CASE("the kernel's sign-file signs with a generated key and modinfo names the signer", "[install][signing]") {
  auto sign_file = host_sign_file();
  if (!sign_file) {
    FAIL("no /usr/lib/linux-kbuild-*/scripts/sign-file: run ci/install-deps (linux-kbuild-6.1, kmod)");
  }
  test::TempDir dir;
  SystemRoot root(dir.path());
  install::SigningKey key{"/mok/mok.key", "/mok/mok.pub", "test"};
  install::generate_signing_key(root, key, "ibdriver signing test");
  // An ELF object with a .modinfo section: what modinfo and sign-file need of a module.
  std::ofstream(dir.path() / "m.c") << "static const char modinfo[] __attribute__((section(\".modinfo\"), used, aligned(1))) =\n"
                                       "    \"license=GPL\\0name=ibdriver_sign_test\\0\";\n";
  auto module = dir.path() / "ibdriver_sign_test.ko";
  REQUIRE(run_process({"cc", "-c", (dir.path() / "m.c").string(), "-o", module.string()}).succeeded());
  CHECK_FALSE(install::module_has_signature(module));
  auto signed_it = run_process({*sign_file, "sha256", (dir.path() / "mok/mok.key").string(), (dir.path() / "mok/mok.pub").string(), module.string()});
  INFO(signed_it.err);
  REQUIRE(signed_it.succeeded());
  CHECK(install::module_has_signature(module));
  CHECK(install::module_signed_with(module, dir.path() / "mok/mok.pub"));
  install::generate_signing_key(root, {"/other/k", "/other/c", "test"}, "another key");
  CHECK_FALSE(install::module_signed_with(module, dir.path() / "other/c"));
  CHECK_FALSE(install::module_signed_with(dir.path() / "m.c", dir.path() / "mok/mok.pub"));
  auto signer = run_process({"modinfo", "-F", "signer", module.string()});
  REQUIRE(signer.succeeded());
  CHECK(signer.out == "ibdriver signing test\n");
}

TEST_CASE("install on a Secure Boot machine without a key exits 14 with the enrolment steps, changing nothing", "[install][signing][cli]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  test::populate_profile(machine, "hb120rs_v3");
  machine.os_release_fixture("ubuntu22.04");
  machine.secure_boot(true);
  test::ImdsServer imds;
  auto result = test::run_ibdriver({"install", "--yes", "--root", dir.path().string(), "--imds-url", imds.url()});
  INFO(result.err);
  CHECK(result.exit_status == 14);
  CHECK_THAT(result.err, Catch::Contains("Secure Boot needs signed modules") && Catch::Contains("mokutil --import /var/lib/dkms/mok.pub") &&
                             Catch::Contains("--generate-mok-key"));
  CHECK_FALSE(fs::exists(dir.path() / "var/lib/ibdriver/state.json"));
  CHECK_FALSE(fs::exists(dir.path() / "var/cache/ibdriver"));
  CHECK_FALSE(fs::exists(dir.path() / "var/lib/dkms/mok.key"));
  // --dry-run says the same.
  auto dry = test::run_ibdriver({"install", "--dry-run", "--root", dir.path().string(), "--imds-url", imds.url()});
  CHECK(dry.exit_status == 14);
}
