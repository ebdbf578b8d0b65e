/* libFuzzer target: OpenPGP public key blocks (ef_pgp_keyring_load). The
 * input is binary packet data; it is armored here (with a correct CRC24)
 * so the fuzzer reaches the packet and key parsers directly. */
#include "../../core/trust/openpgp.h"

#include <sodium.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char begin[] = "-----BEGIN PGP PUBLIC KEY BLOCK-----\n\n";
	static const char end[] = "-----END PGP PUBLIC KEY BLOCK-----\n";
	ef_pgp_keyring *kr = NULL;
	size_t b64_len, cap;
	uint32_t crc;
	uint8_t crc_bytes[3];
	char *text, *p;

	if (size == 0 || size > 64 * 1024)
		return 0;
	b64_len = sodium_base64_encoded_len(size, sodium_base64_VARIANT_ORIGINAL);
	cap = sizeof(begin) + b64_len + 8 + sizeof(end);
	if (!(text = malloc(cap)))
		return 0;
	p = text;
	memcpy(p, begin, sizeof(begin) - 1);
	p += sizeof(begin) - 1;
	sodium_bin2base64(p, b64_len, data, size, sodium_base64_VARIANT_ORIGINAL);
	p += strlen(p);
	crc = ef_pgp_crc24(data, size);
	crc_bytes[0] = (uint8_t)(crc >> 16);
	crc_bytes[1] = (uint8_t)(crc >> 8);
	crc_bytes[2] = (uint8_t)crc;
	*p++ = '\n';
	*p++ = '=';
	sodium_bin2base64(p, 5, crc_bytes, 3, sodium_base64_VARIANT_ORIGINAL);
	p += 4;
	*p++ = '\n';
	memcpy(p, end, sizeof(end) - 1);
	p += sizeof(end) - 1;

	if (ef_pgp_keyring_load(&kr, text, (size_t)(p - text), "fuzz.asc") == 0) {
		if (ef_pgp_keyring_count(kr) == 0)
			abort();
	} else if (kr) {
		abort();
	}
	ef_pgp_keyring_free(kr);
	free(text);
	return 0;
}
