#ifndef RACKPLANE_CLIBCRYPTO_SHIM_H
#define RACKPLANE_CLIBCRYPTO_SHIM_H
// OpenSSL's libcrypto, for AES-256-GCM over power parameters. libpq links it already, so the
// region gains no new shared library (and no BoringSSL to compile).
#include <openssl/evp.h>
#include <openssl/rand.h>
#endif
