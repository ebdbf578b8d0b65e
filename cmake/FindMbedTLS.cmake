# mbedTLS ships no pkg-config file on Debian 12: find the libraries directly.
find_path(MBEDTLS_INCLUDE_DIR mbedtls/version.h)
find_library(MBEDTLS_LIBRARY mbedtls)
find_library(MBEDX509_LIBRARY mbedx509)
find_library(MBEDCRYPTO_LIBRARY mbedcrypto)
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(MbedTLS DEFAULT_MSG MBEDTLS_INCLUDE_DIR MBEDTLS_LIBRARY
	MBEDX509_LIBRARY MBEDCRYPTO_LIBRARY)
set(MBEDTLS_INCLUDE_DIRS ${MBEDTLS_INCLUDE_DIR})
foreach(lib mbedcrypto mbedx509 mbedtls)
	string(TOUPPER ${lib} LIBVAR)
	if(NOT TARGET MbedTLS::${lib})
		add_library(MbedTLS::${lib} UNKNOWN IMPORTED)
		set_target_properties(MbedTLS::${lib} PROPERTIES IMPORTED_LOCATION "${${LIBVAR}_LIBRARY}"
			INTERFACE_INCLUDE_DIRECTORIES "${MBEDTLS_INCLUDE_DIR}")
	endif()
endforeach()
set_property(TARGET MbedTLS::mbedx509 APPEND PROPERTY INTERFACE_LINK_LIBRARIES MbedTLS::mbedcrypto)
set_property(TARGET MbedTLS::mbedtls APPEND PROPERTY INTERFACE_LINK_LIBRARIES MbedTLS::mbedx509)

# Feature checks, not version numbers (mbedTLS 2.28 on Debian 12, 3.6 in
# firmware builds: boards/common/build-firmware-deps.sh).
# EF_HAVE_PSA_CRYPTO: psa_crypto_init() links. mbedTLS 3.6's TLS 1.3 runs on
# PSA crypto and libgit2 (1.9) does not initialise it: the source does.
# EF_HAVE_MBEDTLS3: the mbedTLS 3 RSA API (mbedtls_rsa_init() takes the
# context only, pkcs1_verify() no RNG or mode).
macro(check_include_file_exists_psa)
	include(CheckIncludeFile)
	include(CheckCSourceCompiles)
	set(CMAKE_REQUIRED_LIBRARIES ${MBEDCRYPTO_LIBRARY})
	check_c_source_compiles("
#include <psa/crypto.h>
int main(void) { return psa_crypto_init() == PSA_SUCCESS ? 0 : 1; }" EF_HAVE_PSA_CRYPTO)
	check_c_source_compiles("
#include <mbedtls/rsa.h>
int main(void)
{
	mbedtls_rsa_context rsa;
	mbedtls_rsa_init(&rsa);
	return mbedtls_rsa_pkcs1_verify(&rsa, MBEDTLS_MD_SHA256, 32, (const unsigned char *)\"\",
	                                (const unsigned char *)\"\");
}" EF_HAVE_MBEDTLS3)
	unset(CMAKE_REQUIRED_LIBRARIES)
endmacro()
