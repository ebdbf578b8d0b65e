/* Top-level commit verification: parse the raw commit, pick the signature
 * format from the armor's first line, check it against the trusted keys.
 * See docs/verification.md. */
#include "edgeflip/verify.h"

#include "allowed_signers.h"
#include "commit.h"
#include "openpgp.h"
#include "sshsig.h"

#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Largest armored OpenPGP key file accepted. */
#define OPENPGP_KEYS_MAX_BYTES (4u * 1024 * 1024)

struct ef_trust {
	ef_allowed_signers *ssh;
	ef_pgp_keyring *pgp;
};

int ef_trust_load(ef_trust **out, const char *allowed_signers, const char *openpgp_keys)
{
	ef_trust *t;
	ef_buf text;
	int error;

	*out = NULL;
	if (!allowed_signers && !openpgp_keys) {
		ef_error_set("no trusted keys: set allowed_signers and/or openpgp_keys");
		return EF_EINVALID;
	}
	if (sodium_init() < 0) {
		ef_error_set("libsodium failed to initialise");
		return EF_ERROR;
	}
	if (!(t = calloc(1, sizeof(*t)))) {
		ef_error_set("out of memory");
		return EF_ENOMEM;
	}
	if (allowed_signers) {
		if ((error = ef_read_file(&text, allowed_signers, EF_ALLOWED_SIGNERS_MAX_BYTES)) <
		    0)
			goto out;
		error = ef_allowed_signers_parse(&t->ssh, text.ptr, text.len, allowed_signers);
		ef_buf_dispose(&text);
		if (error < 0)
			goto out;
	}
	if (openpgp_keys) {
		if ((error = ef_read_file(&text, openpgp_keys, OPENPGP_KEYS_MAX_BYTES)) < 0)
			goto out;
		error = ef_pgp_keyring_load(&t->pgp, text.ptr, text.len, openpgp_keys);
		ef_buf_dispose(&text);
		if (error < 0)
			goto out;
	}
	*out = t;
	t = NULL; /* now owned by the caller */
	error = 0;
out:
	ef_trust_free(t);
	return error;
}

void ef_trust_free(ef_trust *t)
{
	if (!t)
		return;
	ef_allowed_signers_free(t->ssh);
	ef_pgp_keyring_free(t->pgp);
	free(t);
}

static int reject(ef_verify_result *out, int code, const char *reason)
{
	out->verdict = EF_EREJECTED;
	snprintf(out->reason, sizeof(out->reason), "%s", reason);
	ef_error_set("%s", out->reason);
	return code;
}

static int verify_ssh(ef_verify_result *out, const ef_trust *t, const ef_commit_info *c,
                      int64_t now)
{
	const ef_allowed_signer *who;
	ef_sshsig sig;
	int error = EF_EREJECTED;

	snprintf(out->format, sizeof(out->format), "ssh");
	if (ef_sshsig_parse(&sig, c->signature, c->signature_len) < 0)
		goto out_reject;
	ef_sshkey_fingerprint(out->key, sig.pubkey, sig.pubkey_len);
	if (ef_sshsig_check(&sig) < 0)
		goto out_reject;
	if (!t->ssh) {
		ef_error_set("commit is signed with SSH key %s but no allowed_signers file is "
		             "configured",
		             out->key);
		goto out_reject;
	}
	if (ef_allowed_signers_match(&who, t->ssh, sig.pubkey, sig.pubkey_len, out->key,
	                             c->committer_time, now) < 0)
		goto out_reject;
	if (ef_sshsig_verify(&sig, c->payload, c->payload_len) < 0)
		goto out_reject;
	snprintf(out->signer, sizeof(out->signer), "%s", who->principals);
	snprintf(out->reason, sizeof(out->reason), "good signature");
	out->verdict = 0;
	error = 0;
	goto out;
out_reject:
	reject(out, error, ef_error_last());
out:
	ef_sshsig_dispose(&sig);
	return error;
}

static int verify_openpgp(ef_verify_result *out, const ef_trust *t, const ef_commit_info *c,
                          int64_t now)
{
	int error;

	snprintf(out->format, sizeof(out->format), "openpgp");
	if (!t->pgp)
		return reject(out, EF_EREJECTED,
		              "commit is signed with OpenPGP but no openpgp_keys file is "
		              "configured");
	error = ef_pgp_verify(out, t->pgp, c->payload, c->payload_len, c->signature,
	                      c->signature_len, now);
	if (error < 0) {
		out->verdict = EF_EREJECTED;
		out->signer[0] = '\0';
		if (!out->reason[0])
			snprintf(out->reason, sizeof(out->reason), "%s", ef_error_last());
		return EF_EREJECTED;
	}
	out->verdict = 0;
	return 0;
}

static bool first_line_is(const ef_commit_info *c, const char *line)
{
	size_t n = strlen(line);

	return c->signature_len > n && memcmp(c->signature, line, n) == 0 &&
	       c->signature[n] == '\n';
}

int ef_verify_commit(ef_verify_result *out, const ef_trust *t, const char *raw, size_t len,
                     int64_t now)
{
	ef_commit_info c;
	int error;

	memset(out, 0, sizeof(*out));
	out->verdict = EF_EREJECTED;
	if ((error = ef_commit_parse(&c, raw, len)) < 0) {
		error = reject(out, error == EF_ENOMEM ? EF_ENOMEM : EF_EINVALID, ef_error_last());
		goto out;
	}
	if (!c.signature) {
		error = reject(out, EF_EREJECTED, "unsigned commit");
		goto out;
	}
	if (!t) {
		error = reject(out, EF_EREJECTED, "no trusted keys are configured");
		goto out;
	}
	if (first_line_is(&c, "-----BEGIN SSH SIGNATURE-----")) {
		error = verify_ssh(out, t, &c, now);
	} else if (first_line_is(&c, "-----BEGIN PGP SIGNATURE-----")) {
		error = verify_openpgp(out, t, &c, now);
	} else if (first_line_is(&c, "-----BEGIN SIGNED MESSAGE-----")) {
		snprintf(out->format, sizeof(out->format), "x509");
		error = reject(out, EF_EREJECTED,
		               "X.509 (gpgsm) signatures are unsupported; sign with an SSH or "
		               "OpenPGP key");
	} else {
		char first[64];
		size_t n = strcspn(c.signature, "\n");

		snprintf(first, sizeof(first), "%.*s", (int)(n > 60 ? 60 : n), c.signature);
		for (char *p = first; *p; p++)
			if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
				*p = '?';
		error = reject(out, EF_EREJECTED, "");
		snprintf(out->reason, sizeof(out->reason),
		         "unknown signature format (first line '%s')", first);
		ef_error_set("%s", out->reason);
	}
out:
	ef_commit_info_dispose(&c);
	return error;
}
