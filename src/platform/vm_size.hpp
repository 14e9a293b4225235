#pragma once
#include <string>
#include <string_view>

namespace ibdriver::platform {

struct VmSizeVerdict {
  bool infiniband = false;
  std::string family;    // "HB", "ND", ...
  std::string features;  // the lower-case feature letters after the vCPU count: "rs", "isr"
  std::string reason;    // why, in a sentence
};

// Whether a VM size is an SR-IOV InfiniBand size: the H- and N-series sizes whose feature letters
// include 'r' (RDMA), e.g. Standard_HB120rs_v3, Standard_ND96isr_H100_v5. Known sizes are listed as
// data; others are judged by the naming rule, which the message says.
VmSizeVerdict classify_vm_size(std::string_view vm_size);

}  // namespace ibdriver::platform
