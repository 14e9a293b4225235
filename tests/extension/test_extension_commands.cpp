// The extension's five commands run as the Azure guest agent runs them, on a fake VM: status files,
// exit codes, the detached worker, bad settings, secrets.
#include <sys/file.h>
#include <sys/mount.h>
#include <unistd.h>

#include <fcntl.h>

#include <fstream>
#include <set>
#include <thread>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "core/files.hpp"
#include "core/unique_fd.hpp"
#include "support/azure_agent.hpp"
#include "support/catalog_signer.hpp"
#include "support/fake_machine.hpp"
#include "support/https_server.hpp"
#include "support/imds_server.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

namespace {

struct ExtensionVm {
  test::TempDir dir;
  test::FakeMachine machine{dir.path()};
  test::ImdsServer imds;
  test::AzureAgent agent{dir.path()};
  std::vector<std::string> environment;

  explicit ExtensionVm(const char* profile = "hb120rs_v3", const char* os = "ubuntu22.04", std::vector<std::string> imds_arguments = {})
      : imds(imds_arguments.empty() ? std::vector<std::string>{"--vm-size", test::profile_vm_size(profile)} : imds_arguments) {
    test::populate_profile(machine, profile);
    machine.os_release_fixture(os);
    environment = {"IBDRIVER_IMDS_URL=" + imds.url()};
  }
  ProcessResult run(const std::string& command, int sequence = 0) const { return agent.run(command, sequence, environment); }
  nlohmann::json status(int sequence = 0) const { return agent.status(sequence).value_or(nlohmann::json()); }
  std::string log() const { return read_file_if_exists(dir.path() / "var/log/azure/ib-vmext-status", 1 << 20).value_or(""); }
  bool worker_running() const {
    UniqueFd fd(::open((agent.folder() / "worker.lock").c_str(), O_RDWR | O_CLOEXEC));
    if (!fd.valid()) return false;
    return ::flock(fd.get(), LOCK_EX | LOCK_NB) != 0;
  }
};

// Holds <root>/run/ibdriver.lock as another ibdriver run would, so the worker waits.
struct HeldRunLock {
  UniqueFd fd;
  explicit HeldRunLock(const fs::path& root) {
    fs::create_directories(root / "run");
    fd.reset(::open((root / "run/ibdriver.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644));
    REQUIRE(::flock(fd.get(), LOCK_EX) == 0);
  }
};

const nlohmann::json& body(const nlohmann::json& status) { return status[0]["status"]; }

bool wait_until(const std::function<bool()>& condition, std::chrono::seconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return condition();
}

}  // namespace

TEST_CASE("enable checks the platform, returns, and its worker outlives the agent's kill", "[extension]") {
  ExtensionVm vm;
  vm.agent.enable_heartbeat();
  HeldRunLock held(vm.dir.path());  // another ibdriver run: the worker has to wait for it

  auto enabled = vm.run("enable");
  CHECK(enabled.exit_status == 0);
  CHECK_FALSE(enabled.timed_out);
  // The agent killed what was left of the command's group; the worker lives on in its own session.
  REQUIRE(wait_until([&] { return vm.worker_running() && fs::exists(vm.agent.folder() / "worker.pid"); }, std::chrono::seconds(10)));
  auto status = vm.status();
  INFO(status.dump(2));
  CHECK(test::status_shape_problems(status).empty());
  CHECK(body(status)["operation"] == "Enable");
  CHECK(body(status)["status"] == "transitioning");
  CHECK(body(status)["substatus"][0]["name"] == "detect");
  CHECK(body(status)["substatus"][0]["status"] == "success");
  CHECK(body(status)["substatus"][1]["name"] == "resolve");
  auto heartbeat = nlohmann::json::parse(read_file(vm.agent.folder() / "heartbeat.log", 4096));
  CHECK(heartbeat[0]["version"] == 1.0);
  CHECK(heartbeat[0]["heartbeat"]["status"] == "Ready");
  CHECK(heartbeat[0]["heartbeat"]["formattedMessage"]["lang"] == "en-US");
  CHECK(heartbeat[0]["heartbeat"]["formattedMessage"]["message"] == body(status)["formattedMessage"]["message"]);

  // A second enable while the worker runs starts no other.
  auto pid_before = read_file(vm.agent.folder() / "worker.pid", 64);
  CHECK(vm.run("enable").exit_status == 0);
  CHECK_THAT(vm.log(), Catch::Contains("already installing the drivers: not starting another"));
  CHECK(read_file(vm.agent.folder() / "worker.pid", 64) == pid_before);

  // disable stops it cleanly: it lets go of its lock and says so.
  auto disabled = vm.run("disable");
  CHECK(disabled.exit_status == 0);
  CHECK_FALSE(vm.worker_running());
  status = vm.status();
  CHECK(test::status_shape_problems(status).empty());
  CHECK(body(status)["operation"] == "Disable");
  CHECK(body(status)["status"] == "success");
  CHECK_THAT(body(status)["formattedMessage"]["message"].get<std::string>(), Catch::Contains("stopped the running install"));
  CHECK_THAT(vm.log(), Catch::Contains("stopped while waiting for another ibdriver run"));
  CHECK(vm.run("disable").exit_status == 0);
  CHECK_THAT(body(vm.status())["formattedMessage"]["message"].get<std::string>(), Catch::Contains("nothing was running"));
}

TEST_CASE("the worker reports its final status with the exit code", "[extension]") {
  ExtensionVm vm;
  CHECK(vm.run("install").exit_status == 0);
  CHECK(vm.run("enable").exit_status == 0);
  auto status = vm.agent.wait_for_final_status(0, std::chrono::seconds(60));
  INFO(status.dump(2));
  CHECK(test::status_shape_problems(status).empty());
  // A fake root cannot take packages (the chroot test installs for real): the worker's error is final.
  CHECK(body(status)["status"] == "error");
  CHECK(body(status)["code"] == 1);
  CHECK_THAT(body(status)["formattedMessage"]["message"].get<std::string>(), Catch::Contains("needs the system root to be /"));
  CHECK_FALSE(fs::exists(vm.agent.folder() / "mrseq"));
}

TEST_CASE("enable's platform checks end with the upstream exit codes and an error status", "[extension]") {
  struct Case {
    const char* profile;
    const char* os;
    std::vector<std::string> imds;
    int code;
  };
  for (const auto& check : {Case{"no_vmbus", "ubuntu22.04", {}, 10}, Case{"d8s_v5", "ubuntu22.04", {}, 11},
                            Case{"hb120rs_v3", "ubuntu16.04", {}, 12},
                            Case{"hb120rs_v3", "ubuntu22.04", {"--vm-size", "Standard_D8s_v5"}, 13},
                            Case{"hb120rs_v3", "ubuntu22.04", {"--mode", "404"}, 13}}) {
    INFO(check.profile << " " << check.os << " " << check.code);
    ExtensionVm vm(check.profile, check.os, check.imds);
    auto result = vm.run("enable");
    CHECK(result.exit_status == check.code);
    auto status = vm.status();
    CHECK(test::status_shape_problems(status).empty());
    CHECK(body(status)["status"] == "error");
    CHECK(body(status)["code"] == check.code);
    CHECK(body(status)["substatus"][0]["name"] == "detect");
    CHECK(body(status)["substatus"][0]["status"] == "error");
    CHECK_FALSE(fs::exists(vm.agent.folder() / "worker.pid"));
  }
}

TEST_CASE("the skip switches in the settings reach the checks", "[extension]") {
  ExtensionVm vm("d8s_v5", "ubuntu22.04");
  vm.agent.write_settings(0, {{"skipDeviceCheck", true}, {"skipVmSizeCheck", true}});
  CHECK(vm.run("enable").exit_status == 0);
  CHECK(body(vm.agent.wait_for_final_status(0, std::chrono::seconds(60)))["code"] == 1);  // only the fake root stops it
}

TEST_CASE("bad settings are exit 1 with an error status naming the problem", "[extension]") {
  ExtensionVm vm;
  auto thumbprint = vm.agent.make_certificate();
  auto other = vm.agent.make_certificate();
  auto with_protected = [&](const std::string& protected_text, const std::string& named) {
    return nlohmann::json{{"runtimeSettings", {{{"handlerSettings", {{"publicSettings", nlohmann::json::object()},
                                                                      {"protectedSettings", protected_text},
                                                                      {"protectedSettingsCertThumbprint", named}}}}}}}
        .dump();
  };
  struct Case {
    const char* what;
    std::string settings;
    const char* message;
  };
  std::vector<Case> cases{
      {"corrupt JSON", R"({"runtimeSettings": [{"handlerSettings": )", "is not valid JSON"},
      {"unknown key", R"({"runtimeSettings": [{"handlerSettings": {"publicSettings": {"ipoibb": true}}}]})", "\"ipoibb\" is not known"},
      {"wrong type", R"({"runtimeSettings": [{"handlerSettings": {"publicSettings": {"skipOsCheck": "yes"}}}]})", "\"skipOsCheck\" must be true or false"},
      {"bad base64", with_protected("%%%not-base64%%%", thumbprint), "not base64"},
      {"wrong thumbprint", with_protected(vm.agent.encrypt(R"({"proxy": "http://p.example:3128"})", thumbprint), other), "cannot decrypt"},
      {"missing certificate", with_protected(vm.agent.encrypt("{}", thumbprint), "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"), "cannot read the certificate"},
      {"protected settings that are not JSON", with_protected(vm.agent.encrypt("proxy=1", thumbprint), thumbprint), "not JSON"},
      {"10 MB settings file", R"({"runtimeSettings": [{"handlerSettings": {"publicSettings": {"profile": ")" + std::string(10 << 20, 'p') + "\"}}}]}",
       "more than the"},
  };
  int sequence = 0;
  for (const auto& bad : cases) {
    INFO(bad.what);
    vm.agent.write_raw_settings(sequence, bad.settings);
    auto result = vm.run("enable", sequence);
    CHECK(result.exit_status == 1);
    CHECK_THAT(result.err, Catch::Contains(bad.message));
    auto status = vm.status(sequence);
    CHECK(test::status_shape_problems(status).empty());
    CHECK(body(status)["status"] == "error");
    CHECK(body(status)["code"] == 1);
    CHECK_THAT(body(status)["formattedMessage"]["message"].get<std::string>(), Catch::Contains(bad.message));
    ++sequence;
  }
  CHECK_FALSE(fs::exists(vm.agent.folder() / "worker.pid"));
  // Broken settings do not keep anyone from stopping or removing the extension.
  CHECK(vm.run("disable", 0).exit_status == 0);
  CHECK(vm.run("uninstall", 0).exit_status == 0);
}

TEST_CASE("protected settings never appear in a log, a status, stdout or stderr", "[extension]") {
  ExtensionVm vm("hb120rs_v3", "ubuntu22.04");
  auto thumbprint = vm.agent.make_certificate();
  const std::string path_secret = "SeCrEtPaTh-0042";
  const std::string sas_secret = "sig=S3cr3tS1gnature%3D";
  const std::string password = "hunter2-proxy-pass";
  nlohmann::json protected_settings{
      {"driverUrl", "https://127.0.0.1:9/" + path_secret + "/MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu22.04-x86_64.tgz"},
      {"sha256", std::string(64, 'a')},
      {"mirrorUrl", "https://mirror.example/ofed?sv=2024-01-01&" + sas_secret},
      {"proxy", "http://azureuser:" + password + "@proxy.example:3128"}};
  vm.agent.write_settings(0, {{"ipoib", true}}, protected_settings, thumbprint);
  auto enabled = vm.run("enable");
  CHECK(enabled.exit_status == 0);
  auto status = vm.agent.wait_for_final_status(0, std::chrono::seconds(60));
  INFO(status.dump(2));
  // The pinned URL from the protected settings was used (and its secret part masked in the log).
  CHECK(body(status)["substatus"][1]["formattedMessage"]["message"] == "MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu22.04-x86_64.tgz 24.10-1.1.4.0");
  CHECK_THAT(vm.log(), Catch::Contains("resolved MLNX_OFED_LINUX-24.10-1.1.4.0-ubuntu22.04-x86_64.tgz from ***"));
  CHECK(vm.run("disable").exit_status == 0);
  auto uninstalled = vm.agent.run("uninstall", 0, vm.environment);
  for (const auto& secret : {path_secret, sas_secret, password}) {
    INFO(secret);
    CHECK(test::files_containing(vm.dir.path(), secret).empty());
    for (const auto* output : {&enabled.out, &enabled.err, &uninstalled.out, &uninstalled.err}) CHECK(output->find(secret) == std::string::npos);
  }
}

TEST_CASE("a status folder that is not writable is exit 14", "[extension]") {
  ExtensionVm vm;
  auto folder = vm.agent.folder() / "status";
  bool mounted = false;
  if (::geteuid() == 0) {
    // root writes anywhere a mode allows nothing: a read-only bind mount is what stops it.
    mounted = ::mount(folder.c_str(), folder.c_str(), nullptr, MS_BIND, nullptr) == 0 &&
              ::mount(nullptr, folder.c_str(), nullptr, MS_BIND | MS_REMOUNT | MS_RDONLY, nullptr) == 0;
    if (!mounted) WARN("cannot make a read-only bind mount here: testing with a file in the folder's place");
  }
  if (!mounted) fs::permissions(folder, fs::perms(0555));  // not root: a mode stops us
  auto result = vm.run("enable");
  if (mounted) ::umount2(folder.c_str(), MNT_DETACH);
  CHECK(result.exit_status == 14);
  CHECK_THAT(result.err, Catch::Contains("writing the extension status"));
  CHECK_FALSE(fs::exists(vm.agent.folder() / "worker.pid"));
}

TEST_CASE("update carries the applied settings over and keeps the drivers", "[extension]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  test::populate_profile(machine, "hb120rs_v3");
  machine.os_release_fixture("debian12");
  test::AzureAgent old_version(dir.path(), "0.0.9.0");
  test::AzureAgent new_version(dir.path(), "0.1.0.0");
  write_file_atomically(old_version.folder() / "mrseq", "3\n");
  // Old disable, new update, old uninstall, new install, new enable.
  CHECK(old_version.run("disable", 3).exit_status == 0);
  auto updated = new_version.run("update", 3, {"AZURE_GUEST_AGENT_UPDATING_FROM_VERSION=0.0.9.0", "VERSION=0.1.0.0"});
  CHECK(updated.exit_status == 0);
  CHECK(read_file(new_version.folder() / "mrseq", 64) == "3\n");
  CHECK(body(*new_version.status(3))["operation"] == "Update");
  old_version.write_settings(3, {{"uninstallDrivers", true}});
  CHECK(old_version.run("uninstall", 3).exit_status == 0);
  CHECK_THAT(body(*old_version.status(3))["formattedMessage"]["message"].get<std::string>(), Catch::Contains("being updated"));
  CHECK_FALSE(fs::exists(dir.path() / "var/lib/ibdriver/extension-updating"));
  CHECK(new_version.run("install", 3).exit_status == 0);
  // Without an update under way, uninstall keeps the drivers unless told otherwise.
  CHECK(new_version.run("uninstall", 3).exit_status == 0);
  CHECK_THAT(body(*new_version.status(3))["formattedMessage"]["message"].get<std::string>(), Catch::Contains("stay installed"));
}

TEST_CASE("extension commands outside an extension folder are exit 1", "[extension]") {
  test::TempDir dir;
  ProcessOptions options;
  options.working_directory = dir.path().string();
  options.time_limit = std::chrono::seconds(30);
  auto result = run_process({IBDRIVER_BINARY, "extension", "enable"}, options);
  CHECK(result.exit_status == 1);
  CHECK_THAT(result.err, Catch::Contains("no HandlerEnvironment.json"));
}

namespace {
std::vector<nlohmann::json> events_of(const fs::path& log_folder) {
  std::vector<nlohmann::json> events;
  std::error_code error;
  for (fs::directory_iterator it(log_folder / "events", error), end; !error && it != end; it.increment(error)) {
    for (const auto& event : nlohmann::json::parse(read_file(it->path(), 1 << 20))) events.push_back(event);
  }
  return events;
}
}  // namespace

TEST_CASE("every stage that ends and every failure is a telemetry event in the eventsFolder", "[extension]") {
  ExtensionVm failing("d8s_v5", "ubuntu22.04");
  CHECK(failing.run("enable").exit_status == 11);
  auto events = events_of(failing.agent.log_folder());
  REQUIRE(events.size() == 1);
  CHECK(events[0]["TaskName"] == "Enable.detect");
  CHECK(events[0]["EventLevel"] == "Error");
  CHECK_THAT(events[0]["Message"].get<std::string>(), Catch::StartsWith("exit 11: "));
  CHECK(events[0]["Version"] == "0.1.0.0");  // AZURE_GUEST_AGENT_EXTENSION_VERSION

  ExtensionVm vm;
  CHECK(vm.run("enable").exit_status == 0);
  vm.agent.wait_for_final_status(0, std::chrono::seconds(60));  // the worker fails on the fake root
  std::set<std::string> tasks;
  for (const auto& event : events_of(vm.agent.log_folder())) tasks.insert(event["TaskName"].get<std::string>());
  CHECK(tasks.count("Enable.detect") == 1);
  CHECK(tasks.count("Enable.resolve") == 1);
}

TEST_CASE("bad HandlerEnvironment.json folders: exit 1, with a status where one can be written", "[extension]") {
  {
    ExtensionVm vm;
    fs::remove_all(vm.agent.folder() / "config");
    auto result = vm.run("enable");
    CHECK(result.exit_status == 1);
    auto status = vm.status();
    INFO(status.dump(2));
    CHECK(test::status_shape_problems(status).empty());
    CHECK(body(status)["status"] == "error");
    CHECK_THAT(body(status)["formattedMessage"]["message"].get<std::string>(), Catch::Contains("names configFolder"));
  }
  {
    ExtensionVm vm;
    fs::remove_all(vm.agent.folder() / "status");
    auto result = vm.run("enable");
    CHECK(result.exit_status == 1);
    CHECK_THAT(result.err, Catch::Contains("names statusFolder"));
    CHECK_THAT(result.err, Catch::Contains("does not exist"));
    CHECK_FALSE(fs::exists(vm.agent.folder() / "status"));  // not made up by us
  }
}

TEST_CASE("an oversized message is cut before the agent would: status 1 KB, event 6 KB", "[extension]") {
  ExtensionVm vm;
  // The catalog error quotes the path it could not read: a path of 3.5 KB.
  auto deep = vm.dir.path();
  for (int i = 0; i < 14; ++i) deep /= std::string(240, static_cast<char>('a' + i));
  fs::create_directories(deep);
  vm.environment.push_back("IBDRIVER_CATALOG=" + (deep / "missing.json").string());
  auto result = vm.run("enable");
  CHECK(result.exit_status != 0);
  auto status = vm.status();
  INFO(status.dump(2));
  CHECK(test::status_shape_problems(status).empty());
  auto message = body(status)["formattedMessage"]["message"].get<std::string>();
  CHECK(message.size() <= 1024);
  CHECK_THAT(message, Catch::EndsWith("..."));
  auto events = events_of(vm.agent.log_folder());
  REQUIRE_FALSE(events.empty());
  for (const auto& event : events) {
    std::size_t total = 0;
    for (const auto& [key, value] : event.items()) total += value.get<std::string>().size();
    CHECK(total <= 6144);
    CHECK(event["Message"].get<std::string>().size() <= 3072);
  }
}

TEST_CASE("no command writes config/HandlerState (the agent's file)", "[extension]") {
  ExtensionVm vm;
  vm.agent.write_settings(0, {{"validate", false}});
  for (const char* command : {"install", "enable", "disable", "update", "uninstall"}) CHECK(vm.run(command).exit_status == 0);
  for (const auto& entry : fs::directory_iterator(vm.agent.folder() / "config")) {
    CHECK(entry.path().filename() == "0.settings");
  }
}

namespace {
// The substatus named `name` (null when absent).
nlohmann::json substatus(const nlohmann::json& status, const std::string& name) {
  for (const auto& item : body(status)["substatus"]) {
    if (item["name"] == name) return item;
  }
  return nullptr;
}
std::string message_of(const nlohmann::json& item) { return item.is_null() ? std::string() : item["formattedMessage"]["message"].get<std::string>(); }
}  // namespace

// Issue 16 case 3: IMDS answers 410 early in boot. enable asks once and returns; the worker waits.
TEST_CASE("enable does not wait on an IMDS that answers 410: it starts the worker and returns", "[extension][issue16]") {
  ExtensionVm vm("hb120rs_v3", "ubuntu22.04", {"--vm-size", "Standard_HB120rs_v3", "--fail-first", "100000", "--fail-status", "410"});
  auto enabled = vm.run("enable");
  CHECK_FALSE(enabled.timed_out);  // the agent's deadline here is 30 s; IMDS's whole wait is 80 s
  CHECK(enabled.exit_status == 0);
  REQUIRE(wait_until([&] { return vm.worker_running(); }, std::chrono::seconds(10)));
  auto status = vm.status();
  INFO(status.dump(2));
  CHECK(body(status)["status"] == "transitioning");
  auto detect = substatus(status, "detect");
  CHECK(detect["status"] == "transitioning");
  // By now the worker may have replaced enable's words in the status with its own wait (both name the
  // 410: seen under ASan, where the worker wrote first); enable's are in the log.
  CHECK_THAT(message_of(detect), Catch::Contains("HTTP 410"));
  CHECK_THAT(vm.log(), Catch::Contains("HTTP 410") && Catch::Contains("the worker asks again"));
  // The worker is the one waiting, and says so.
  REQUIRE(wait_until([&] { return vm.log().find("waiting for IMDS: IMDS at") != std::string::npos; }, std::chrono::seconds(20)));
  CHECK(vm.run("disable").exit_status == 0);
  CHECK_FALSE(vm.worker_running());
}

TEST_CASE("the worker reports the wait for IMDS in its status, then the outcome", "[extension][issue16]") {
  // 410 to enable's one request and the worker's first three, then the document.
  ExtensionVm vm("hb120rs_v3", "ubuntu22.04", {"--vm-size", "Standard_HB120rs_v3", "--fail-first", "4", "--fail-status", "410"});
  CHECK(vm.run("enable").exit_status == 0);
  auto status = vm.agent.wait_for_final_status(0, std::chrono::seconds(90));
  INFO(status.dump(2));
  INFO(vm.log());
  CHECK(test::status_shape_problems(status).empty());
  // Past the wait: the platform checks passed (the fake root then stops the install, exit 1).
  CHECK(substatus(status, "detect")["status"] == "success");
  CHECK(body(status)["code"] == 1);
  auto log = vm.log();
  CHECK_THAT(log, Catch::Contains("the worker asks again"));                    // enable, once
  CHECK_THAT(log, Catch::Contains("waiting for IMDS: IMDS at") && Catch::Contains("answered HTTP 410; asking again in"));  // the worker
}

namespace {
// A publisher of a signed channel on the HTTPS test server, and a node the extension runs on.
struct ChannelPublisher {
  test::HttpsServer server;
  test::CatalogSigner signer;
  std::string publish(const std::string& name, const std::string& document) {
    signer.sign(server.file(name), document);
    return server.url("files", name);
  }
  std::string public_key() const { return read_file(signer.public_key(), 64 * 1024); }
};
const std::string debian_bundle = "MLNX_OFED_LINUX-24.10-1.1.4.0-debian12-x86_64.tgz";
}  // namespace

TEST_CASE("catalogUrl: the worker updates the signed channel before it plans, and uses its rows", "[extension][issue16]") {
  ChannelPublisher publisher;
  ExtensionVm vm("hb120rs_v3", "debian12");  // no built-in row for Debian 12: only the channel serves it
  vm.environment.push_back("IBDRIVER_CA_BUNDLE=" + publisher.server.ca_file().string());
  auto url = publisher.publish("catalog.json", test::channel_document(3, test::release_row(debian_bundle, std::string(64, 'b'))));
  vm.agent.write_settings(0, {{"catalogUrl", url}, {"catalogKey", publisher.public_key()}});
  auto enabled = vm.run("enable");
  INFO(enabled.err);
  CHECK(enabled.exit_status == 0);
  auto status = vm.agent.wait_for_final_status(0, std::chrono::seconds(60));
  INFO(status.dump(2));
  CHECK(test::status_shape_problems(status).empty());
  // The resolve substatus names the release from the channel and the update that brought it.
  CHECK(substatus(status, "resolve")["status"] == "success");
  CHECK_THAT(message_of(substatus(status, "resolve")), Catch::Contains(debian_bundle) && Catch::Contains("stored catalog serial 3"));
  CHECK(fs::exists(vm.dir.path() / "var/lib/ibdriver/catalog/channel.json"));
  CHECK(body(status)["code"] == 1);  // the fake root stops the install after the plan
}

TEST_CASE("catalogUrl: a failed update is a warning with the catalog error, and the built-in rows serve", "[extension][issue16]") {
  ChannelPublisher publisher;
  ExtensionVm vm("hb120rs_v3", "ubuntu22.04");
  vm.environment.push_back("IBDRIVER_CA_BUNDLE=" + publisher.server.ca_file().string());
  // Published without its signature: the update is refused (exit 14), nothing is stored.
  write_file_atomically(publisher.server.file("unsigned.json"), test::channel_document(4, test::release_row(debian_bundle, std::string(64, 'b'))));
  vm.agent.write_settings(0, {{"catalogUrl", publisher.server.url("files", "unsigned.json")}, {"catalogKey", publisher.public_key()}});
  CHECK(vm.run("enable").exit_status == 0);
  auto status = vm.agent.wait_for_final_status(0, std::chrono::seconds(60));
  INFO(status.dump(2));
  CHECK(test::status_shape_problems(status).empty());
  // resolve went on with the built-in Ubuntu 22.04 row, and stays a warning with the catalog error.
  auto resolve = substatus(status, "resolve");
  CHECK(resolve["status"] == "warning");
  CHECK(resolve["code"] == 14);
  CHECK_THAT(message_of(resolve), Catch::Contains("; the catalog update failed (exit 14)") && Catch::Contains("HTTP 404") &&
                                      Catch::Contains("going on with the built-in catalog"));
  CHECK_FALSE(fs::exists(vm.dir.path() / "var/lib/ibdriver/catalog/channel.json"));
  CHECK(body(status)["code"] == 1);  // the fake root, not the catalog, stops it
}

namespace {

// A machine whose driver is Azure Linux 3.0's own packages (a distro-packages row, pinned to the
// AlmaLinux root as in test_distro_packages.cpp): real dnf --installroot installs them into the fake
// root, which loads nothing, so every install ends with reboot_required.
struct RebootVm : ExtensionVm {
  RebootVm() : ExtensionVm("hb120rs_v3", "almalinux9") {
    machine.write("usr/sbin/ibdriver", "#!/bin/sh\n");  // the boot unit's program
    fs::permissions(machine.root() / "usr/sbin/ibdriver", fs::perms(0755));
    auto made = run_process({"python3", std::string(IBDRIVER_TEST_FIXTURES) + "/make_distro_repo.py", (dir.path() / "repo").string(),
                             "--kernel", "5.15.0-1073-azure", "--repo-file", (machine.root() / "etc/yum.repos.d/distro.repo").string()});
    INFO(made.err);
    REQUIRE(made.succeeded());
    auto overlay = dir.path() / "overlay.json";
    write_file_atomically(overlay, R"({"schema": 1, "releases": [{"kind": "distro-packages", "version": "azl-test",
      "os": {"id": "almalinux", "version": "9.4"}, "label": "azl3", "packages": ["mlnx-ofa_kernel", "mlnx-ofa_kernel-modules"],
      "min_generation": "connectx-4", "source": "test"}]})");
    environment.push_back("IBDRIVER_CATALOG=" + overlay.string());
    boot("boot-a");
  }
  // A reboot, as the worker sees it: a new boot id, and /run (a tmpfs) emptied.
  void boot(const std::string& id) const {
    machine.write("proc/sys/kernel/random/boot_id", id + "\n");
    std::error_code error;
    fs::remove(machine.root() / "run/reboot-required", error);
  }
  std::string message() const { return body(status())["formattedMessage"]["message"].get<std::string>(); }
  // enable, then the worker's end (its status may stay transitioning: a reboot is under way).
  void enable_and_wait() const {
    REQUIRE(run("enable").exit_status == 0);
    REQUIRE(wait_until([&] { return !worker_running() && body(status())["status"] != nullptr && !message().empty() &&
                                    message().find("in the background") == std::string::npos; },
                       std::chrono::seconds(120)));
  }
  nlohmann::json record() const {
    return nlohmann::json::parse(read_file_if_exists(machine.root() / "var/lib/ibdriver/extension-reboot.json", 4096).value_or("null"));
  }
};

}  // namespace

TEST_CASE("rebootIfRequired: one reboot for a sequence number, the enable after it reports, never a second", "[extension][reboot][dnf]") {
  RebootVm vm;
  REQUIRE(vm.run("install").exit_status == 0);
  SECTION("without it, success says a reboot is required") {
    vm.agent.write_settings(0, {{"validate", false}});
    vm.enable_and_wait();
    CHECK(body(vm.status())["status"] == "success");
    CHECK_THAT(vm.message(), Catch::Contains("reboot required: the installed driver runs after a reboot") &&
                                 Catch::Contains("rebootIfRequired: true reboots by itself"));
    CHECK(vm.record().is_null());
    CHECK(read_file(vm.agent.folder() / "mrseq", 64) == "0\n");
    // Each stage that ran says how long it took.
    CHECK_THAT(message_of(substatus(vm.status(), "packages")), Catch::Matches(R"(.* installed with dnf .*\(\d+\.\d s\))"));
  }
  SECTION("with it: the reboot is recorded with its boot, asked once, and the enable after it reports") {
    vm.agent.write_settings(0, {{"rebootIfRequired", true}, {"validate", false}});
    vm.enable_and_wait();
    INFO(vm.status().dump(2));
    CHECK(body(vm.status())["status"] == "transitioning");
    CHECK_THAT(vm.message(), Catch::Contains("rebooting now to load the installed driver (rebootIfRequired)"));
    CHECK(vm.record() == nlohmann::json{{"sequence", 0}, {"boot_id", "boot-a"}});
    CHECK_THAT(vm.log(), Catch::Contains("not rebooting: the system root is"));  // a fake root is never rebooted
    CHECK_FALSE(fs::exists(vm.agent.folder() / "mrseq"));  // so the enable after the reboot runs the worker

    // The agent runs enable again before the machine went down: nothing more is asked.
    vm.enable_and_wait();
    CHECK(body(vm.status())["status"] == "transitioning");
    CHECK_THAT(vm.message(), Catch::Contains("waiting for the reboot asked for settings 0"));

    vm.boot("boot-b");
    vm.enable_and_wait();
    CHECK(body(vm.status())["status"] == "success");
    CHECK_THAT(vm.message(), Catch::Contains("after the reboot for settings 0: validation skipped"));
    CHECK(read_file(vm.agent.folder() / "mrseq", 64) == "0\n");
  }
  SECTION("a sequence number that already rebooted once is never rebooted again") {
    vm.agent.write_settings(0, {{"rebootIfRequired", true}, {"validate", false}});
    vm.machine.write("var/lib/ibdriver/extension-reboot.json", R"({"sequence": 0, "boot_id": "boot-old"})");
    vm.enable_and_wait();
    CHECK(body(vm.status())["status"] == "error");
    CHECK(body(vm.status())["code"] == 14);
    CHECK_THAT(vm.message(), Catch::Contains("still does not run after the reboot made for settings 0 (boot boot-old)") &&
                                 Catch::Contains("not rebooting twice"));
    CHECK_THAT(vm.log(), !Catch::Contains("not rebooting: the system root is"));
  }
}
