#ifndef RACKPLANE_CLIBCRYPTO_SHIM_H
#define RACKPLANE_CLIBCRYPTO_SHIM_H
// OpenSSL's libcrypto: AES-256-GCM over power parameters, and SHA-256 for table snapshots and
// boot images (it uses the CPU's SHA extensions: 1+ GB/s here against 160 MB/s for portable
// code). libpq links it already, so nothing gains a new shared library.
//
// SHA256_Init/Update/Final are deprecated in OpenSSL 3 in favour of EVP, but their context is
// a plain struct, so a hasher stays a value type without a heap object to free; the
// deprecation attributes are turned off for them.
#define OPENSSL_SUPPRESS_DEPRECATED 1
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#endif
