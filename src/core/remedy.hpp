#pragma once
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace ibdriver {

// A setting a person can change to get past an error. The library names the knob and its value; the
// front end words it: cli/ as a flag (`--skip-vmbus-check`), extension/ as a setting
// (`"skipVmbusCheck": true`). No library message names a flag itself.
enum class Knob {
  skip_vmbus_check,
  skip_device_check,
  skip_os_check,
  skip_vm_size_check,
  imds_url,           // a test IMDS
  driver_url,         // a bundle URL with its SHA-256 (value: the URL, when known)
  driver_version,     // a catalog release (value: the version)
  catalog_file,       // extra catalog rows
  ca_bundle,          // a private CA file
  lock_wait,          // seconds to wait for another package manager or ibdriver run (value: seconds)
  kernel,             // the kernel to act on (value: the release)
  mok_key_pair,       // an existing MOK key and certificate
  generate_mok_key,   // have a MOK key pair made
  expect_link_layer,  // the link layer validation accepts (value: infiniband, ethernet or any)
  validate_wait,      // seconds validation waits for an ACTIVE port (value: seconds)
  skip_validation,    // install without validating
  os_spec,            // resolve for another machine (value: ID:VERSION)
  bundle_sha256,      // the SHA-256 of an offline bundle
  install_headers,    // let install bring the missing kernel headers with the package manager
  reload,             // restart the driver now instead of at the next boot
  catalog_key,        // a publisher's public key trusted for the signed catalog channel
  catalog_url,        // where the signed catalog channel is fetched from (value: the URL)
};

struct Remedy {
  Knob knob;
  std::string value;  // empty for a switch
};
using Remedies = std::vector<Remedy>;

// A stable identifier for JSON output ("skip_vmbus_check").
std::string_view knob_id(Knob knob);

// {"knob": "skip_vmbus_check", "value": ""}
void to_json(nlohmann::json& out, const Remedy& remedy);

}  // namespace ibdriver
