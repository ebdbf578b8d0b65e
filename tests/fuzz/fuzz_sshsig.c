/* libFuzzer target: SSHSIG parsing, policy checks and verification
 * (core/trust/sshsig.c). The input is the binary signature blob; the target
 * armors it, so the fuzzer explores the structure rather than base64. The
 * same bytes are also tried as armored text and as a public key blob. */
#include "../../core/trust/sshsig.h"

#include <sodium.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t payload[] = "tree 4cf9f177c4c015836fca6a31f9c3917e89ae29ec\n"
                                 "author A <a@example.com> 1748779200 +0000\n"
                                 "committer C <c@example.com> 1748779200 +0000\n\ndeploy\n";

static void try_armored(const char *text, size_t len)
{
	char fp[EF_SSH_FINGERPRINT_LEN];
	ef_sshsig s;

	if (ef_sshsig_parse(&s, text, len) == 0) {
		ef_sshkey_fingerprint(fp, s.pubkey, s.pubkey_len);
		if (ef_sshsig_check(&s) == 0)
			(void)ef_sshsig_verify(&s, payload, sizeof(payload) - 1);
	}
	ef_sshsig_dispose(&s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char begin[] = "-----BEGIN SSH SIGNATURE-----\n";
	static const char end[] = "\n-----END SSH SIGNATURE-----\n";
	size_t b64_len, n;
	char *text;

	if (size > 16384)
		return 0;
	if (sodium_init() < 0)
		abort();
	(void)ef_sshkey_check(data, size, NULL);
	try_armored((const char *)data, size);

	b64_len = sodium_base64_ENCODED_LEN(size, sodium_base64_VARIANT_ORIGINAL);
	text = malloc(sizeof(begin) + b64_len + sizeof(end));
	if (!text)
		return 0;
	memcpy(text, begin, sizeof(begin) - 1);
	n = sizeof(begin) - 1;
	sodium_bin2base64(text + n, b64_len, data, size, sodium_base64_VARIANT_ORIGINAL);
	n += strlen(text + n);
	memcpy(text + n, end, sizeof(end) - 1);
	n += sizeof(end) - 1;
	try_armored(text, n);
	free(text);
	return 0;
}
