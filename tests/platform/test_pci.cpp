#include <catch2/catch.hpp>

#include "platform/pci.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
using platform::LinkKind;

TEST_CASE("a Standard_HB120rs_v3 has one ConnectX-6 VF for InfiniBand besides its Ethernet VF", "[pci]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  test::populate_profile(machine, "hb120rs_v3");
  auto scan = platform::scan_pci(SystemRoot(dir.path()));
  REQUIRE(scan.mellanox.size() == 2);
  auto infiniband = scan.infiniband();
  REQUIRE(infiniband.size() == 1);
  CHECK(infiniband[0]->address == "0101:00:00.0");
  REQUIRE(infiniband[0]->model.has_value());
  CHECK(infiniband[0]->model->generation == platform::ConnectXGeneration::connectx6);
  CHECK(infiniband[0]->virtual_function);
  const auto& ethernet = scan.mellanox[1];
  CHECK(ethernet.address == "c3a5:00:02.0");
  CHECK(ethernet.link == LinkKind::ethernet);
  CHECK(ethernet.model->generation == platform::ConnectXGeneration::connectx4_lx);
}

TEST_CASE("a Standard_ND96isr_H100_v5 has eight InfiniBand VFs", "[pci]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  test::populate_profile(machine, "nd96isr_h100_v5");
  auto scan = platform::scan_pci(SystemRoot(dir.path()));
  CHECK(scan.infiniband().size() == 8);
  CHECK(scan.mellanox.size() == 9);
}

TEST_CASE("an Accelerated Networking VF alone is not InfiniBand", "[pci]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  test::populate_profile(machine, "d8s_v5");
  auto scan = platform::scan_pci(SystemRoot(dir.path()));
  CHECK(scan.mellanox.size() == 1);
  CHECK(scan.infiniband().empty());
}

TEST_CASE("a loaded driver's link_layer decides over the PCI class", "[pci]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.pci_device("0001:00:00.0", 0x15b3, 0x101c, 0x020700, "Ethernet");  // a RoCE port
  machine.pci_device("0002:00:00.0", 0x15b3, 0x1018, 0x020000, "InfiniBand");
  auto scan = platform::scan_pci(SystemRoot(dir.path()));
  REQUIRE(scan.mellanox.size() == 2);
  CHECK(scan.mellanox[0].link == LinkKind::ethernet);
  CHECK(scan.mellanox[1].link == LinkKind::infiniband);
  CHECK_THAT(scan.mellanox[1].link_evidence, Catch::Contains("link_layer is InfiniBand"));
}

TEST_CASE("a --sysfs-root replaces the root's sys", "[pci]") {
  test::TempDir root;
  test::TempDir sysfs;
  test::FakeMachine machine(sysfs.path());
  machine.pci_device("0101:00:00.0", 0x15b3, 0x101c, 0x020700);
  std::filesystem::rename(sysfs.path() / "sys", sysfs.path() / "fake-sys");
  auto scan = platform::scan_pci(SystemRoot(root.path(), sysfs.path() / "fake-sys"));
  CHECK(scan.infiniband().size() == 1);
}

TEST_CASE("empty or garbage sysfs entries are ignored, never a crash", "[pci]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.pci_device("0101:00:00.0", 0x15b3, 0x101c, 0x020700);
  SECTION("empty vendor") { machine.write("sys/devices/pci0101:00/0101:00:00.0/vendor", ""); }
  SECTION("garbage device") { machine.write("sys/devices/pci0101:00/0101:00:00.0/device", "\xff\xfe garbage\n"); }
  SECTION("missing class") { std::filesystem::remove(dir.path() / "sys/devices/pci0101:00/0101:00:00.0/class"); }
  SECTION("oversized vendor") { machine.write("sys/devices/pci0101:00/0101:00:00.0/vendor", std::string(100000, '1')); }
  SECTION("device id out of range") { machine.write("sys/devices/pci0101:00/0101:00:00.0/device", "0x1234567\n"); }
  SECTION("dangling link") {
    std::filesystem::remove_all(dir.path() / "sys/devices/pci0101:00");
  }
  auto scan = platform::scan_pci(SystemRoot(dir.path()));
  CHECK(scan.infiniband().empty());
  CHECK(scan.ignored.size() == 1);
}

TEST_CASE("an unknown Mellanox device id is reported without a model", "[pci]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.pci_device("0101:00:00.0", 0x15b3, 0xa2dc, 0x020700);  // a BlueField-3
  auto scan = platform::scan_pci(SystemRoot(dir.path()));
  REQUIRE(scan.mellanox.size() == 1);
  CHECK_FALSE(scan.mellanox[0].model.has_value());
  CHECK(scan.mellanox[0].link == LinkKind::infiniband);
}

TEST_CASE("a ConnectX-3 VF of class 0x0280 (Network controller) is InfiniBand, as on NCv3/NDv2", "[pci]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.pci_device("0002:00:02.0", 0x15b3, 0x1004, 0x028000);  // ConnectX-3 VF
  machine.pci_device("0003:00:02.0", 0x15b3, 0x1007, 0x028000);  // ConnectX-3 Pro
  machine.pci_device("0004:00:02.0", 0x15b3, 0x1016, 0x028000);  // a ConnectX-4 Lx VF of that class is not
  auto scan = platform::scan_pci(SystemRoot(dir.path()));
  REQUIRE(scan.mellanox.size() == 3);
  CHECK(scan.mellanox[0].link == platform::LinkKind::infiniband);
  CHECK_THAT(scan.mellanox[0].link_evidence, Catch::Contains("0x028000") && Catch::Contains("Network controller"));
  CHECK(scan.mellanox[1].link == platform::LinkKind::infiniband);
  CHECK(scan.mellanox[2].link == platform::LinkKind::unknown);
  CHECK(scan.infiniband().size() == 2);
}
