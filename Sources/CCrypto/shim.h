// libcrypto (OpenSSL), for SHA-256: the EVP digest interface.
#include <openssl/evp.h>
