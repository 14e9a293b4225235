#include <catch2/catch.hpp>

#include "platform/vm_size.hpp"

using ibdriver::platform::classify_vm_size;

TEST_CASE("InfiniBand sizes are the H- and N-series sizes with 'r'", "[vm-size]") {
  auto size = GENERATE(as<std::string>{}, "Standard_HB120rs_v3", "Standard_HB120-64rs_v3", "Standard_HB176rs_v4",
                       "Standard_HB176-96rs_v4", "Standard_HX176rs", "Standard_HX176-144rs", "Standard_HC44rs",
                       "Standard_HC44-16rs", "Standard_HC44-32rs", "Standard_HB60rs", "Standard_NC24rs_v3",
                       "Standard_ND40rs_v2", "Standard_ND96asr_v4", "Standard_ND96amsr_A100_v4",
                       "Standard_ND96isr_H100_v5", "Standard_ND96isr_H200_v5", "standard_hb120rs_v3",
                       // azure-images-2026.md: the 2024-2026 sizes and their constrained-core variants
                       "Standard_ND128isr_NDR_GB200_v6", "Standard_ND128isr_GB300_v6", "Standard_ND96isr_MI300X_v5",
                       "Standard_HB368rs_v5", "Standard_HB368-48rs_v5", "Standard_HB368-96rs_v5", "Standard_HB368-144rs_v5",
                       "Standard_HB368-192rs_v5", "Standard_HB368-240rs_v5", "Standard_HB368-288rs_v5",
                       "Standard_HB368-336rs_v5", "Standard_HB176-24rs_v4", "Standard_HB176-48rs_v4",
                       "Standard_HB176-144rs_v4", "Standard_HX176-24rs", "Standard_HX176-48rs", "Standard_HX176-96rs",
                       "Standard_HB120-16rs_v2", "Standard_HB120-32rs_v2", "Standard_HB120-64rs_v2", "Standard_HB120-96rs_v2",
                       "Standard_HB120-16rs_v3", "Standard_HB120-32rs_v3", "Standard_HB120-96rs_v3");
  INFO(size);
  auto verdict = classify_vm_size(size);
  CHECK(verdict.infiniband);
}

TEST_CASE("other sizes are not InfiniBand sizes, with the reason", "[vm-size]") {
  struct Case {
    const char* size;
    const char* reason;
  };
  auto item = GENERATE(values<Case>({
      {"Standard_D8s_v5", "D series"},
      {"Standard_E96ias_v5", "E series"},
      {"Standard_H16", "no 'r'"},
      {"Standard_H16m", "no 'r'"},
      {"Standard_NC24ads_A100_v4", "no 'r'"},
      {"Standard_NV36ads_A10_v5", "no 'r'"},
      {"Standard_HB120s_v3", "no 'r'"},
      {"", "empty"},
      {"garbage", "not an Azure VM size name"},
      {"Standard_", "not an Azure VM size name"},
      {"Standard_Fr", "not an Azure VM size name"},
      // azure-images-2026.md: not RDMA, must keep failing
      {"Standard_NC128lds_xl_RTXPRO6000BSE_v6", "no 'r'"},
      {"Standard_NC144lds_xl_RTXPRO6000BSE_v6", "no 'r'"},
      {"Standard_NC80adis_H100_v5", "no 'r'"},
      {"Standard_NC96ads_A100_v4", "no 'r'"},
      // RDMA without SR-IOV: Network Direct over VMBus
      {"Standard_NC24r", "Network Direct"},
      {"Standard_H16r", "Network Direct"},
      {"Standard_H16mr", "Network Direct"},
      {"Standard_A8", "Network Direct"},
      {"Standard_A9", "Network Direct"},
  }));
  INFO(item.size);
  auto verdict = classify_vm_size(item.size);
  CHECK_FALSE(verdict.infiniband);
  CHECK_THAT(verdict.reason, Catch::Contains(item.reason));
}

TEST_CASE("Network Direct sizes are told apart from sizes without RDMA", "[vm-size]") {
  CHECK(classify_vm_size("Standard_NC24r").network_direct);
  CHECK(classify_vm_size("standard_h16mr").network_direct);
  CHECK_FALSE(classify_vm_size("Standard_NC24rs_v3").network_direct);
  CHECK_FALSE(classify_vm_size("Standard_D8s_v5").network_direct);
}

TEST_CASE("per-size configuration follows Azure's images", "[vm-size]") {
  using ibdriver::platform::size_configuration;
  struct Case {
    const char* size;
    bool peermem;
  };
  auto item = GENERATE(values<Case>({
      {"Standard_ND96isr_H100_v5", true},
      {"Standard_ND96isr_H200_v5", true},
      {"Standard_ND96asr_v4", true},
      {"Standard_ND96amsr_A100_v4", true},
      {"Standard_ND40rs_v2", true},
      {"Standard_ND128isr_NDR_GB200_v6", true},
      {"Standard_ND128isr_GB300_v6", true},
      {"Standard_ND96isr_MI300X_v5", false},
      {"Standard_HB120rs_v3", false},
      {"Standard_HX176-24rs", false},
      {"Standard_NC24rs_v3", false},
  }));
  INFO(item.size);
  auto configuration = size_configuration(item.size);
  CHECK(configuration.nvidia_peermem == item.peermem);
  // Azure's images turn IPoIB off only on bare metal, never by VM size; OS.EnableRDMA goes with IPoIB.
  CHECK(configuration.ipoib);
  CHECK(configuration.enable_rdma == configuration.ipoib);
  CHECK_FALSE(configuration.family_note.empty());
}
