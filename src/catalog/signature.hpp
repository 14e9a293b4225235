#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace ibdriver::catalog {

// A public key trusted to sign the catalog channel.
struct TrustedKey {
  std::string name;  // "ibdriver catalog key 2026-1", or the file it was read from
  std::string pem;   // "-----BEGIN PUBLIC KEY-----..." (SubjectPublicKeyInfo): EC P-256, RSA or Ed25519
};

// The keys built into this binary. Several may be trusted at once: a publisher rotating keys ships a
// binary trusting the old and the new key, signs with the new one, and drops the old key a release
// later (README, "Catalog channel").
const std::vector<TrustedKey>& built_in_catalog_keys();

// Reads a PEM public key file a publisher gives (exit 1 when it holds no usable public key).
TrustedKey read_trusted_key(const std::string& path);
// The same for PEM text given directly (the extension's "catalogKey" setting); `name` names it in
// messages and in the stored channel's "key". Exit 1 when it is no usable public key.
TrustedKey trusted_key_from_pem(const std::string& pem, const std::string& name);

// Checks a detached signature over `document` (as `openssl dgst -sha256 -sign KEY` makes it: a DER
// ECDSA or PKCS#1 v1.5 RSA signature of the SHA-256; for Ed25519 the raw signature of the bytes)
// against each key in turn. Returns the name of the key that verified it, or "" when none did.
// Keys that OpenSSL cannot read count as not verifying; nothing here throws for bad input.
std::string verifying_key(std::string_view document, std::string_view signature, const std::vector<TrustedKey>& keys);

}  // namespace ibdriver::catalog
