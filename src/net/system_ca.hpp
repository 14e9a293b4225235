#pragma once
// Where the portable binary finds the distro's CA certificates. Its OpenSSL is Debian 11's, built
// static, whose default store is Debian's (/usr/lib/ssl); the published .rpm runs it on RHEL-family
// and SUSE systems, whose stores are elsewhere.
#include <array>
#include <functional>
#include <optional>
#include <string>

namespace ibdriver::net {

/// The distros' CA bundles, first match wins: Debian/Ubuntu (ca-certificates), RHEL/CentOS/AlmaLinux/
/// Rocky/Azure Linux (ca-certificates' /etc/pki/tls/certs/ca-bundle.crt), SUSE (/etc/ssl/ca-bundle.pem),
/// and p11-kit's extracted bundle (update-ca-trust) where the others are missing.
inline constexpr std::array<const char*, 4> distro_ca_bundles{
    "/etc/ssl/certs/ca-certificates.crt", "/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/ca-bundle.pem",
    "/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem"};

/// The CA bundle file the portable build gives libcurl (CURLOPT_CAINFO): nullopt when the environment
/// names a store for OpenSSL (SSL_CERT_FILE or SSL_CERT_DIR, non-empty: OpenSSL's default paths read
/// them), else the first of distro_ca_bundles that `readable` accepts, else nullopt (OpenSSL's
/// defaults, and verification then fails with curl's message naming the missing store).
/// `readable` defaults to access(R_OK).
std::optional<std::string> system_ca_bundle(const std::function<bool(const std::string&)>& readable = {});

}  // namespace ibdriver::net
