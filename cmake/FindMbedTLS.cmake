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

# mbedTLS 3.x needs psa_crypto_init() before use in some configurations.
macro(check_include_file_exists_psa)
	include(CheckIncludeFile)
	check_include_file(psa/crypto.h EF_HAVE_PSA_CRYPTO)
	check_c_source_compiles("
#include <mbedtls/version.h>
#if MBEDTLS_VERSION_MAJOR < 3
#error old
#endif
int main(void) { return 0; }" EF_HAVE_MBEDTLS3)
endmacro()
