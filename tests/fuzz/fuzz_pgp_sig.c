/* libFuzzer target: OpenPGP commit signatures (ef_pgp_verify) against the
 * GnuPG fixture keyring. Input: be16 payload length, the payload, then the
 * binary signature packet(s), which are armored here with a correct CRC24.
 * The keyring is tests/unit/data/verify/pgp/trusted.asc (or $EF_FUZZ_PGP_KEYS). */
#include "../../core/trust/openpgp.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <sodium.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ef_pgp_keyring *keyring(void)
{
	static ef_pgp_keyring *kr;
	char path[4096];
	const char *env = getenv("EF_FUZZ_PGP_KEYS");
	ef_buf b = EF_BUF_INIT(1 << 20);

	if (kr)
		return kr;
	if (env) {
		snprintf(path, sizeof(path), "%s", env);
	} else {
		/* __FILE__ is this source file: find the fixtures beside it. */
		const char *slash = strrchr(__FILE__, '/');
		int dir = slash ? (int)(slash - __FILE__) : 0;

		snprintf(path, sizeof(path), "%.*s/../unit/data/verify/pgp/trusted.asc", dir,
		         __FILE__);
	}
	if (ef_read_file(&b, path, 1 << 20) < 0 ||
	    ef_pgp_keyring_load(&kr, b.ptr, b.len, path) < 0) {
		fprintf(stderr, "fuzz_pgp_sig: cannot load %s: %s\n", path, ef_error_last());
		abort();
	}
	ef_buf_dispose(&b);
	return kr;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char begin[] = "-----BEGIN PGP SIGNATURE-----\n\n";
	static const char end[] = "-----END PGP SIGNATURE-----\n";
	const ef_pgp_keyring *kr = keyring();
	ef_verify_result res;
	size_t payload_len, sig_len, b64_len;
	const uint8_t *sig;
	uint32_t crc;
	uint8_t crc_bytes[3];
	char *text, *p;
	int rc;

	if (size < 2)
		return 0;
	payload_len = (size_t)data[0] << 8 | data[1];
	if (payload_len > size - 2)
		return 0;
	sig = data + 2 + payload_len;
	sig_len = size - 2 - payload_len;
	if (sig_len == 0 || sig_len > 16 * 1024)
		return 0;
	b64_len = sodium_base64_encoded_len(sig_len, sodium_base64_VARIANT_ORIGINAL);
	if (!(text = malloc(sizeof(begin) + b64_len + 8 + sizeof(end))))
		return 0;
	p = text;
	memcpy(p, begin, sizeof(begin) - 1);
	p += sizeof(begin) - 1;
	sodium_bin2base64(p, b64_len, sig, sig_len, sodium_base64_VARIANT_ORIGINAL);
	p += strlen(p);
	crc = ef_pgp_crc24(sig, sig_len);
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

	rc = ef_pgp_verify(&res, kr, data + 2, payload_len, text, (size_t)(p - text),
	                   1751328000 /* 2025-07-01 */);
	if ((rc == 0) != (res.verdict == 0) || res.reason[0] == '\0' ||
	    strcmp(res.format, "openpgp") != 0)
		abort();
	if (rc == 0 && (strlen(res.signer) != 40 || strlen(res.key) != 40))
		abort();
	free(text);
	return 0;
}
