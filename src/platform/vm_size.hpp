#pragma once
#include <string>
#include <string_view>

namespace ibdriver::platform {

struct VmSizeVerdict {
  bool infiniband = false;
  // An RDMA size without SR-IOV (Standard_NC24r, H16r, H16mr, A8, A9): RDMA is Network Direct over
  // VMBus, with no Mellanox PCI function, which OFED does not drive.
  bool network_direct = false;
  std::string family;    // "HB", "ND", ...
  std::string features;  // the lower-case feature letters after the vCPU count: "rs", "isr"
  std::string reason;    // why, in a sentence
};

// Whether a VM size is an SR-IOV InfiniBand size: the H- and N-series sizes whose feature letters
// include 'r' (RDMA), e.g. Standard_HB120rs_v3, Standard_ND96isr_H100_v5. Known sizes are listed as
// data (reference: azure-images-2026.md, "VM sizes": the 2024-2026 InfiniBand sizes and their
// constrained-core variants; the Network Direct sizes); others are judged by the naming rule, which
// the message says.
VmSizeVerdict classify_vm_size(std::string_view vm_size);

// What Azure's HPC images configure for a size (Azure/azhpc-images):
//  - IPoIB: their DOCA install (components/install_doca.sh) writes IPOIB_LOAD=no only when the node
//    is bare metal (NODE_TYPE=baremetal), never by VM size, so every InfiniBand VM size keeps IPoIB
//    and OS.EnableRDMA=y (the agent brings ib0 up only with IPoIB).
//  - nvidia-peermem (GPUDirect RDMA) on the NVIDIA ND GPU sizes: their sku-customizations service
//    (components/setup_sku_customizations.sh @1547be73) runs customizations/ndv2.sh (@56444177),
//    ndv4.sh (@165013b0), ndv5.sh or ndv6.sh (@5d346380), each `modprobe nvidia-peermem`, for
//    standard_nd40rs_v2, standard_nd*v4,
//    standard_nd96is*_h[1-2]00_v5 and standard_nd128is*_gb[2-3]00_v6; AMD's MI300X size gets ROCm
//    customizations without it.
struct SizeConfiguration {
  bool ipoib = true;           // IPOIB_LOAD=yes and ib_ipoib loaded at boot
  bool enable_rdma = true;     // OS.EnableRDMA=y in waagent.conf (only with IPoIB)
  bool nvidia_peermem = false; // load nvidia-peermem after openibd when that module exists
  std::string family_note;     // the size family, in words ("NDv5 (H100/H200)")
};
SizeConfiguration size_configuration(std::string_view vm_size);

}  // namespace ibdriver::platform
