#pragma once
#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "core/remedy.hpp"

#include "verbs/verbs_library.hpp"

namespace ibdriver::verbs {

enum class LinkLayer { infiniband, ethernet, any };
std::optional<LinkLayer> parse_link_layer(std::string_view text);  // infiniband, ethernet, any
std::string link_layer_name(LinkLayer layer);                       // as the option spells it: "infiniband", "ethernet" or "any"

struct ValidationOptions {
  LinkLayer expect = LinkLayer::infiniband;
  std::chrono::seconds wait{0};         // poll this long for ports still coming up
  std::string library = "libibverbs.so.1";
};

struct ValidationReport {
  LinkLayer expect = LinkLayer::infiniband;  // what an ACTIVE port had to be (JSON: expect_link_layer)
  std::vector<DeviceInfo> devices;
  bool passed = false;
  std::string message;  // which port passed, or why none did
  std::string hint;
  Remedies remedies;
};
void to_json(nlohmann::json& json, const ValidationReport& report);

// The verdict on what libibverbs shows: passed when at least one port is ACTIVE with the expected
// link layer; otherwise says what is wrong (no device, ports DOWN/INIT/ARMED, the wrong link layer).
ValidationReport judge(const std::vector<DeviceInfo>& devices, LinkLayer expect);

// Loads libibverbs (Error 14 when it is missing), then judges, again and again until it passes or
// `wait` is over (ports of a freshly loaded driver take seconds to become ACTIVE).
ValidationReport validate(const ValidationOptions& options);

// Error (operation_failed) carrying the report's message and hint, when it did not pass.
void require_passed(const ValidationReport& report);

}  // namespace ibdriver::verbs
