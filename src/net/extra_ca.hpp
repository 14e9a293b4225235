#pragma once
#include <filesystem>

#include "net/curl_handle.hpp"

namespace ibdriver::net {

// Trusts the CA certificates of a PEM file in addition to the system store (not instead of it, as
// CURLOPT_CAINFO would): a mirror with a private CA, or the tests' own CA. Throws Error (usage) when
// the file holds no certificate. The handle keeps a pointer to `pem_file`: it must outlive transfers.
void trust_extra_ca(CurlHandle& curl, const std::filesystem::path& pem_file);

// Checks that a PEM file holds at least one certificate; the error names the file.
void check_ca_file(const std::filesystem::path& pem_file);

}  // namespace ibdriver::net
