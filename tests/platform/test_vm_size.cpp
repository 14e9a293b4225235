#include <catch2/catch.hpp>

#include "platform/vm_size.hpp"

using ibdriver::platform::classify_vm_size;

TEST_CASE("InfiniBand sizes are the H- and N-series sizes with 'r'", "[vm-size]") {
  auto size = GENERATE(as<std::string>{}, "Standard_HB120rs_v3", "Standard_HB120-64rs_v3", "Standard_HB176rs_v4",
                       "Standard_HB176-96rs_v4", "Standard_HX176rs", "Standard_HX176-144rs", "Standard_HC44rs",
                       "Standard_HC44-16rs", "Standard_HB60rs", "Standard_H16r", "Standard_H16mr", "Standard_NC24rs_v3",
                       "Standard_NC24r", "Standard_ND40rs_v2", "Standard_ND96asr_v4", "Standard_ND96amsr_A100_v4",
                       "Standard_ND96isr_H100_v5", "Standard_ND96isr_H200_v5", "standard_hb120rs_v3");
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
  }));
  INFO(item.size);
  auto verdict = classify_vm_size(item.size);
  CHECK_FALSE(verdict.infiniband);
  CHECK_THAT(verdict.reason, Catch::Contains(item.reason));
}
