// make-fake-vm PROFILE OS DIR: a fake system root (os-release, sysfs, kernels) for the simulated VM
// and the tests. PROFILE: hb120rs_v3, nd96isr_h100_v5, nd128isr_gb200_v6, nd128isr_gb300_v6, d8s_v5,
// no_vmbus; OS: a file name in
// tests/fixtures/os-release (ubuntu22.04, almalinux9, ...).
#include <cstdio>
#include <exception>

#include "support/fake_machine.hpp"

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: make-fake-vm PROFILE OS DIR\n");
    return 1;
  }
  try {
    ibdriver::test::FakeMachine machine(argv[3]);
    ibdriver::test::populate_profile(machine, argv[1]);
    machine.os_release_fixture(argv[2]);
    std::printf("%s\n", ibdriver::test::profile_vm_size(argv[1]).c_str());
  } catch (const std::exception& error) {
    std::fprintf(stderr, "make-fake-vm: %s\n", error.what());
    return 1;
  }
  return 0;
}
