// The public keys the signed catalog channel is checked against. The same keys are kept as PEM files
// in packaging/catalog-keys/ (tests compare them); the private keys are never in the repository.
#include "catalog/signature.hpp"

namespace ibdriver::catalog {

const std::vector<TrustedKey>& built_in_catalog_keys() {
  static const std::vector<TrustedKey> keys{
      {"ibdriver catalog key 2026-1 (EC P-256)",
       "-----BEGIN PUBLIC KEY-----\n"
       "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEy8xZMkinp12mYEiNJWlhh7NwkiJx\n"
       "RR1Dh/i+Oz1Ais43KAB6At1PXprspYpswogT34kyePhORmKIJWIXmMhVlQ==\n"
       "-----END PUBLIC KEY-----\n"},
  };
  return keys;
}

}  // namespace ibdriver::catalog
