/* libFuzzer target: compose.json parsing, then the policy check and image
 * reference splitting on whatever parsed; and the same document tree through
 * ef_manifest_parse_doc() with positions and findings, under two profile sets.
 * The two paths must agree. */
#include "edgeflip/buf.h"
#include "edgeflip/compose.h"
#include "edgeflip/config.h"
#include "edgeflip/error.h"
#include "edgeflip/manifest.h"
#include "edgeflip/policy.h"

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Gives every node a position, as the YAML reader would. */
static void add_positions(ef_compose_pos *pos, const cJSON *node, unsigned *line)
{
	for (const cJSON *e = node->child; e; e = e->next) {
		if ((*line)++ % 3 != 0) /* some nodes have none: the nearest ancestor's is used */
			ef_compose_pos_add(pos, e, "fuzz.yaml", *line, 1 + (*line % 7));
		add_positions(pos, e, line);
	}
}

static void check_findings(const ef_findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const ef_finding *e = &f->v[i];
		if (!e->path || e->path[0] != '$' || !e->message || !e->message[0])
			abort();
		for (const char *p = e->message; *p; p++)
			if ((unsigned char)*p < 0x20 || *p == 0x7f)
				abort(); /* never a raw control character */
	}
}

/* A normalised relative path: no leading '/', no ".." component. */
static bool inside(const char *p)
{
	if (p[0] == '/')
		return false;
	for (const char *c = p; *c;) {
		size_t n = strcspn(c, "/");
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return false;
		c += n;
		if (*c == '/')
			c++;
	}
	return true;
}

static void use(const ef_manifest *m)
{
	static char *const registries[] = {"registry.example.com", NULL};
	static char *const caps[] = {"NET_ADMIN", NULL};
	static char *const binds[] = {"/data", "/srv/", NULL};
	static char *const all[] = {"ALL", NULL};
	ef_policy strict = {0}, open = {0};
	char **findings = NULL;

	strict.registries = (char **)registries;
	strict.allowed_capabilities = (char **)caps;
	strict.bind_mounts = (char **)binds;
	open.allow_tags = open.allow_privileged = open.allow_host_namespaces = true;
	open.allow_devices = true;
	open.allowed_capabilities = (char **)all;
	ef_policy_check(&findings, &strict, m);
	ef_strv_free(findings);
	ef_policy_check(&findings, &open, m);
	ef_strv_free(findings);
	for (size_t i = 0; i < m->nservices; i++) {
		const ef_service *s = &m->services[i];
		char *reg, *repo, *tag, *dig;
		if (ef_manifest_find(m, s->name) != s || strlen(s->spec_hash) != 64)
			abort();
		if (ef_image_ref_split(s->image, &reg, &repo, &tag, &dig) != 0)
			abort(); /* the parser accepted it */
		free(reg);
		free(repo);
		free(tag);
		free(dig);
		for (size_t k = 0; k < s->nnetworks; k++)
			if (!ef_manifest_network(m, s->networks[k].network))
				abort();
		for (size_t k = 0; k < s->nvolumes; k++)
			if (s->volumes[k].relative && s->volumes[k].source &&
			    !inside(s->volumes[k].source))
				abort(); /* a relative source never leaves the directory */
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *const profiles[] = {"dev", "*", NULL};
	ef_manifest *m = NULL, *d = NULL;
	ef_compose_pos *pos = NULL;
	ef_findings f;
	cJSON *doc;
	unsigned line = 1;
	int rc;

	rc = ef_manifest_parse(&m, (const char *)data, size, "fuzz.json");
	if (rc == 0)
		use(m);
	doc = cJSON_ParseWithLength((const char *)data, size);
	if (!doc || ef_compose_pos_new(&pos) != 0)
		goto out;
	add_positions(pos, doc, &line);
	ef_findings_init(&f);
	if ((rc = ef_manifest_parse_doc(&d, doc, "fuzz.yaml", pos, &f)) == 0) {
		if (f.n)
			abort(); /* success means no finding */
		use(d);
		/* the text and the tree give the same model (when the text had no NUL) */
		if (m && m->nservices != d->nservices)
			abort();
		for (size_t i = 0; m && i < m->nservices; i++)
			if (strcmp(m->services[i].spec_hash, d->services[i].spec_hash))
				abort();
	} else if (f.n == 0 && rc != EF_ENOMEM) {
		abort(); /* a refusal always says why */
	}
	check_findings(&f);
	ef_findings_dispose(&f);
	ef_manifest_free(d);
	d = NULL;
	ef_findings_init(&f);
	if (ef_manifest_parse_doc_profiles(&d, doc, "fuzz.yaml", NULL, &f,
	                                   (char *const *)profiles) == 0)
		use(d);
	check_findings(&f);
	ef_findings_dispose(&f);
out:
	ef_manifest_free(d);
	ef_compose_pos_free(pos);
	cJSON_Delete(doc);
	ef_manifest_free(m);
	return 0;
}
