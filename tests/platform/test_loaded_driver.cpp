// Telling the OFED driver from the inbox one as the vendor's tools do, on fake sysfs trees shaped as
// the kernel lays them out (/sys/module/<m>/{initstate,srcversion,version}, class/infiniband links).
#include <catch2/catch.hpp>

#include "platform/loaded_driver.hpp"
#include "support/fake_machine.hpp"
#include "support/temp_dir.hpp"

using namespace ibdriver;
namespace fs = std::filesystem;

TEST_CASE("a loaded module shows its srcversion, and a version only when it is an OFED build", "[platform][driver]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.write("sys/module/mlx5_core/initstate", "live\n");
  machine.write("sys/module/mlx5_core/srcversion", "8C5A2F1F0D7B4A3C2E1D9F8\n");
  machine.write("sys/module/mlx5_core/version", "24.10-1.1.4\n");
  machine.write("sys/module/ib_core/initstate", "live\n");
  machine.write("sys/module/ib_core/srcversion", "ABCDEF0123456789ABCDEF0\n");
  machine.write("sys/module/mlx5_vfio_pci/initstate", "live\n");
  fs::create_directories(dir.path() / "sys/module/crc32c");  // built in: a folder without initstate
  SystemRoot root(dir.path());

  auto ofed = platform::loaded_module(root, "mlx5_core");
  CHECK(ofed.loaded);
  CHECK(ofed.srcversion == "8C5A2F1F0D7B4A3C2E1D9F8");
  CHECK(ofed.version == "24.10-1.1.4");
  auto inbox = platform::loaded_module(root, "ib_core");
  CHECK(inbox.loaded);
  CHECK(inbox.version.empty());
  CHECK(platform::loaded_module(root, "mlx5-vfio-pci").loaded);  // sysfs spells it with underscores
  CHECK_FALSE(platform::loaded_module(root, "crc32c").loaded);
  CHECK_FALSE(platform::loaded_module(root, "ib_iser").loaded);
}

TEST_CASE("each RDMA device names its driver module and whether it is OFED", "[platform][driver]") {
  test::TempDir dir;
  test::FakeMachine machine(dir.path());
  machine.write("sys/module/mlx5_core/initstate", "live\n");
  machine.write("sys/module/mlx5_core/version", "25.10-1.7.1\n");
  machine.write("sys/module/mlx4_core/initstate", "live\n");
  machine.write("sys/bus/pci/drivers/mlx5_core/.keep", "");
  machine.write("sys/bus/pci/drivers/mlx4_core/.keep", "");
  machine.write("sys/devices/pci0101:00/0101:00:00.0/.keep", "");
  machine.write("sys/devices/pci0102:00/0102:00:00.0/.keep", "");
  fs::create_directories(dir.path() / "sys/class/infiniband/mlx5_0");
  fs::create_directories(dir.path() / "sys/class/infiniband/mlx4_0");
  fs::create_directories(dir.path() / "sys/class/infiniband/rxe0");
  fs::create_directory_symlink("../../../module/mlx5_core", dir.path() / "sys/bus/pci/drivers/mlx5_core/module");
  fs::create_directory_symlink("../../../module/mlx4_core", dir.path() / "sys/bus/pci/drivers/mlx4_core/module");
  fs::create_directory_symlink("../../../bus/pci/drivers/mlx5_core", dir.path() / "sys/devices/pci0101:00/0101:00:00.0/driver");
  fs::create_directory_symlink("../../../bus/pci/drivers/mlx4_core", dir.path() / "sys/devices/pci0102:00/0102:00:00.0/driver");
  fs::create_directory_symlink("../../../devices/pci0101:00/0101:00:00.0", dir.path() / "sys/class/infiniband/mlx5_0/device");
  fs::create_directory_symlink("../../../devices/pci0102:00/0102:00:00.0", dir.path() / "sys/class/infiniband/mlx4_0/device");

  auto drivers = platform::rdma_device_drivers(SystemRoot(dir.path()));
  REQUIRE(drivers.size() == 3);
  CHECK(drivers[0].describe() == "mlx4_0: mlx4_core (inbox)");
  CHECK(drivers[1].describe() == "mlx5_0: mlx5_core OFED 25.10-1.7.1");
  CHECK(drivers[1].ofed());
  CHECK(drivers[2].describe() == "rxe0: a software device of the running kernel");

  // Soft-RoCE: no parent device, rxe's own `parent` attribute; the bundle's rdma_rxe carries a version.
  machine.write("sys/class/infiniband/rxe0/parent", "eth0\n");
  machine.write("sys/module/rdma_rxe/initstate", "live\n");
  CHECK(platform::rdma_device_drivers(SystemRoot(dir.path()))[2].describe() == "rxe0: rdma_rxe (inbox)");
  machine.write("sys/module/rdma_rxe/version", "24.10.OFED.24.10.1.1.4.1\n");
  CHECK(platform::rdma_device_drivers(SystemRoot(dir.path()))[2].describe() == "rxe0: rdma_rxe OFED 24.10.OFED.24.10.1.1.4.1");
  // A simulated platform (--sysfs-root) is not where libibverbs finds devices: the root's own /sys is.
  CHECK(platform::rdma_device_drivers(SystemRoot(dir.path(), dir.path() / "elsewhere")).size() == 3);
}
