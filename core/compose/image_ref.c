/* Image references: registry, repository, tag and digest. */
#include "edgeflip/manifest.h"
#include "edgeflip/buf.h"
#include "edgeflip/error.h"

#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "manifest_internal.h"

static bool valid_registry(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0)
		return false;
	if (s[0] == '[') { /* [IPv6]:port */
		while (i < n && s[i] != ']')
			i++;
		if (i == n || i < 2)
			return false;
		for (size_t k = 1; k < i; k++)
			if (!(mf_is_alnum(s[k]) || s[k] == ':' || s[k] == '.' || s[k] == '%'))
				return false;
		i++;
	} else {
		while (i < n && s[i] != ':') {
			if (!(mf_is_alnum(s[i]) || s[i] == '.' || s[i] == '-'))
				return false;
			i++;
		}
		if (i == 0 || s[0] == '.' || s[0] == '-' || s[i - 1] == '.' || s[i - 1] == '-')
			return false;
	}
	if (i < n) {
		char port[8];
		uint64_t v;
		if (s[i] != ':' || n - i - 1 == 0 || n - i - 1 >= sizeof(port))
			return false;
		memcpy(port, s + i + 1, n - i - 1);
		port[n - i - 1] = '\0';
		if (!mf_digits_number(port, 1, 65535, &v))
			return false;
	}
	return true;
}

/* Path components: lowercase alphanumerics separated by '.', '_' or '-' runs. */
static bool valid_repo(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 255)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '/')
			continue;
		if (i == start || !mf_is_lower_alnum(s[start]) || !mf_is_lower_alnum(s[i - 1]))
			return false;
		for (size_t k = start; k < i; k++)
			if (!(mf_is_lower_alnum(s[k]) || s[k] == '.' || s[k] == '_' || s[k] == '-'))
				return false;
		start = i + 1;
	}
	return true;
}

static bool valid_tag(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128 || !(mf_is_alnum(s[0]) || s[0] == '_'))
		return false;
	for (size_t i = 1; i < n; i++)
		if (!(mf_is_alnum(s[i]) || s[i] == '_' || s[i] == '.' || s[i] == '-'))
			return false;
	return true;
}

static bool valid_digest(const char *s)
{
	static const struct {
		const char *algo;
		size_t hexlen;
	} algos[] = {{"sha256:", 64}, {"sha384:", 96}, {"sha512:", 128}};

	for (size_t i = 0; i < sizeof(algos) / sizeof(algos[0]); i++) {
		size_t n = strlen(algos[i].algo);
		if (strncmp(s, algos[i].algo, n) != 0)
			continue;
		s += n;
		if (strlen(s) != algos[i].hexlen)
			return false;
		for (; *s; s++)
			if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
				return false;
		return true;
	}
	return false;
}

int ef_image_ref_split(const char *ref, char **registry, char **repo, char **tag, char **digest)
{
	char *name = NULL, *r_reg = NULL, *r_repo = NULL, *r_tag = NULL, *r_dig = NULL;
	const char *why = NULL;
	char *at, *slash, *colon;
	int error = EF_EINVALID;

	if (registry)
		*registry = NULL;
	if (repo)
		*repo = NULL;
	if (tag)
		*tag = NULL;
	if (digest)
		*digest = NULL;
	if (!ref || !*ref) {
		ef_error_set("the image reference is empty");
		return EF_EINVALID;
	}
	if (strlen(ref) > MAX_IMAGE_REF) {
		ef_error_set("the image reference is longer than %d characters", MAX_IMAGE_REF);
		return EF_EINVALID;
	}
	if (!(name = strdup(ref)))
		goto oom;
	if ((at = strchr(name, '@'))) {
		*at = '\0';
		if (!valid_digest(at + 1)) {
			why = "the digest must be sha256: and 64 lowercase hex digits";
			goto out;
		}
		if (!(r_dig = strdup(at + 1)))
			goto oom;
	}
	slash = strrchr(name, '/');
	colon = strrchr(name, ':');
	if (colon && (!slash || colon > slash)) {
		*colon = '\0';
		if (!valid_tag(colon + 1)) {
			why = "the tag must be 1-128 letters, digits, '_', '.' or '-'";
			goto out;
		}
		if (!(r_tag = strdup(colon + 1)))
			goto oom;
	}
	slash = strchr(name, '/');
	if (slash) {
		size_t n = (size_t)(slash - name);
		bool domain = memchr(name, '.', n) || memchr(name, ':', n) ||
		              (n == 9 && strncmp(name, "localhost", 9) == 0);
		for (size_t i = 0; i < n && !domain; i++)
			domain = name[i] >= 'A' && name[i] <= 'Z';
		if (domain) {
			if (!valid_registry(name, n)) {
				why = "the registry must be host[:port]";
				goto out;
			}
			r_reg = strndup(name, n);
			r_repo = strdup(slash + 1);
		}
	}
	if (!r_repo) {
		r_reg = strdup("docker.io");
		r_repo = strdup(name);
	}
	if (!r_reg || !r_repo)
		goto oom;
	if (!valid_repo(r_repo, strlen(r_repo))) {
		why = "the repository must be lowercase letters, digits and '/', '.', '_', '-' "
		      "between them";
		goto out;
	}
	error = 0;
	if (registry) {
		*registry = r_reg;
		r_reg = NULL;
	}
	if (repo) {
		*repo = r_repo;
		r_repo = NULL;
	}
	if (tag) {
		*tag = r_tag;
		r_tag = NULL;
	}
	if (digest) {
		*digest = r_dig;
		r_dig = NULL;
	}
	goto out;
oom:
	why = NULL;
	error = EF_ENOMEM;
	ef_error_set("out of memory");
out:
	if (why)
		ef_error_set("'%s' is not a valid image reference: %s", ref, why);
	free(name);
	free(r_reg);
	free(r_repo);
	free(r_tag);
	free(r_dig);
	return error;
}
