/* `edgeflip pin DIR` and `edgeflip promote SRC_DIR DST_DIR`: image references
 * of an environment directory pinned to digests, and promoted from one
 * environment to another, editing only the bytes of each image value. */
#include "cli.h"
#include "edgeflip/error.h"
#include "edgeflip/imagesig.h"
#include "edgeflip/manifest.h"
#include "edgeflip/pin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *const compose_names[] = {"compose.yaml",
                                            "compose.yml",
                                            "docker-compose.yaml",
                                            "docker-compose.yml",
                                            "compose.json",
                                            "compose.override.yaml",
                                            "compose.override.yml",
                                            "compose.override.json",
                                            "docker-compose.override.yaml",
                                            "docker-compose.override.yml",
                                            "docker-compose.override.json",
                                            NULL};

#define MAX_FILE (4u << 20)

/* Temp file beside `path`, same mode, fsync, rename. */
static int write_keep_mode(const char *path, const char *data, size_t len)
{
	char tmp[4200];
	struct stat st;
	int fd, error = EF_ERROR;

	if (stat(path, &st) < 0 ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= sizeof(tmp)) {
		ef_error_set("cannot write %s: %s", path, strerror(errno));
		return EF_ERROR;
	}
	if ((fd = mkstemp(tmp)) < 0) {
		ef_error_set("cannot write beside %s: %s", path, strerror(errno));
		return EF_ERROR;
	}
	for (size_t off = 0; off < len;) {
		ssize_t n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto out_unlink;
		off += (size_t)n;
	}
	if (fchmod(fd, st.st_mode & 07777) < 0 || fsync(fd) < 0)
		goto out_unlink;
	if (close(fd) < 0) {
		fd = -1;
		goto out_unlink;
	}
	fd = -1;
	if (rename(tmp, path) < 0)
		goto out_unlink;
	return 0;
out_unlink:
	ef_error_set("cannot write %s: %s", path, strerror(errno));
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return error;
}

typedef struct {
	char path[4200];
	ef_buf text;
	ef_pin_images imgs;
	char **values; /* new value per image or NULL */
} file_t;

static void files_free(file_t *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ef_buf_dispose(&f[i].text);
		for (size_t k = 0; k < f[i].imgs.n; k++)
			free(f[i].values[k]);
		free(f[i].values);
		ef_pin_images_dispose(&f[i].imgs);
	}
	free(f);
}

/* The compose files of `dir`, read and scanned. EF_EXIT_* on failure. */
static int read_dir(file_t **out, size_t *nout, const char *dir)
{
	file_t *f = calloc(sizeof(compose_names) / sizeof(compose_names[0]), sizeof(*f));
	size_t n = 0;

	*out = f;
	*nout = 0;
	if (!f)
		return EF_EXIT_ERROR;
	for (size_t i = 0; compose_names[i]; i++) {
		file_t *c = &f[n];
		snprintf(c->path, sizeof(c->path), "%s/%s", dir, compose_names[i]);
		if (access(c->path, F_OK) < 0)
			continue;
		if (ef_read_file(&c->text, c->path, MAX_FILE) < 0 ||
		    ef_pin_scan(&c->imgs, c->text.ptr ? c->text.ptr : "", c->text.len, c->path) <
		            0) {
			fprintf(stderr, "edgeflip: %s\n", ef_error_last());
			ef_buf_dispose(&c->text);
			*nout = n;
			return EF_EXIT_REJECTED;
		}
		n++;
		if (!(c->values = calloc(c->imgs.n + 1, sizeof(char *))))
			return EF_EXIT_ERROR;
	}
	*nout = n;
	if (n == 0) {
		fprintf(stderr,
		        "edgeflip: %s: no compose file (compose.yaml, docker-compose.yml, "
		        "compose.json ...)\n",
		        dir);
		return EF_EXIT_USAGE;
	}
	return 0;
}

static int write_changed(file_t *f, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		ef_buf b;
		bool any = false;
		for (size_t k = 0; k < f[i].imgs.n; k++)
			any = any || f[i].values[k];
		if (!any)
			continue;
		if (ef_pin_edit(&b, f[i].text.ptr ? f[i].text.ptr : "", f[i].text.len, f[i].path,
		                &f[i].imgs, f[i].values) < 0) {
			fprintf(stderr, "edgeflip: %s\n", ef_error_last());
			return EF_EXIT_ERROR;
		}
		if (write_keep_mode(f[i].path, b.ptr ? b.ptr : "", b.len) < 0) {
			fprintf(stderr, "edgeflip: %s\n", ef_error_last());
			ef_buf_dispose(&b);
			return EF_EXIT_ERROR;
		}
		ef_buf_dispose(&b);
	}
	return 0;
}

static int resolve(char **out, const ef_registry_opts *o, const char *image)
{
	char *reg = NULL, *repo = NULL, *tag = NULL, digest[72];
	int error;

	*out = NULL;
	if ((error = ef_image_ref_split(image, &reg, &repo, &tag, NULL)) < 0)
		goto out;
	if ((error = ef_image_resolve(digest, o, reg, repo, tag ? tag : "latest")) < 0) {
		char why[512];
		snprintf(why, sizeof(why), "%s", ef_error_last()); /* not the buffer being set */
		ef_error_set("registry %s: cannot resolve %s: %s", reg, image, why);
		goto out;
	}
	if (!(*out = malloc(strlen(image) + strlen(digest) + 2)))
		error = EF_ENOMEM;
	else
		sprintf(*out, "%s@%s", image, digest);
out:
	free(reg);
	free(repo);
	free(tag);
	return error;
}

int cmd_pin(const cli *c)
{
	const char *dir = NULL, *http[17] = {0};
	ef_registry_opts o = {.timeout_ms = 30000, .http_registries = http};
	bool check = false;
	size_t nhttp = 0, n = 0, unpinned = 0;
	file_t *f = NULL;
	int rc;

	for (int i = 0; i < c->argc; i++) {
		if (!strcmp(c->argv[i], "--check")) {
			check = true;
		} else if (!strcmp(c->argv[i], "--ca-file") && i + 1 < c->argc) {
			o.ca_file = c->argv[++i];
		} else if (!strcmp(c->argv[i], "--http-registry") && i + 1 < c->argc &&
		           nhttp < 16) {
			http[nhttp++] = c->argv[++i];
		} else if (c->argv[i][0] != '-' && !dir) {
			dir = c->argv[i];
		} else {
			fprintf(stderr, "usage: edgeflip pin DIR [--check] [--ca-file F] "
			                "[--http-registry HOST:PORT]...\n");
			return EF_EXIT_USAGE;
		}
	}
	if (!dir) {
		fprintf(stderr, "usage: edgeflip pin DIR [--check] [--ca-file F] "
		                "[--http-registry HOST:PORT]...\n");
		return EF_EXIT_USAGE;
	}
	if ((rc = read_dir(&f, &n, dir)) != 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < f[i].imgs.n; k++) {
			const ef_pin_image *im = &f[i].imgs.v[k];
			if (im->pinned)
				continue;
			if (check || im->why_not[0]) {
				printf("%s:%u:%u: service %s: image %s is not pinned to a digest "
				       "(image tags "
				       "must be immutable SHA-based)%s%s\n",
				       f[i].path, im->line, im->col, im->service, im->image,
				       im->why_not[0] ? "; " : "", im->why_not);
				unpinned++;
				continue;
			}
			if ((rc = resolve(&f[i].values[k], &o, im->image)) < 0) {
				fprintf(stderr, "edgeflip: %s:%u:%u: service %s: %s\n", f[i].path,
				        im->line, im->col, im->service, ef_error_last());
				/* Unreachable or slow: 5; the registry's answer (no such tag): 3.
				 */
				rc = rc == EF_EUNREACHABLE || rc == EF_ETIMEOUT || rc == EF_EAGAIN
				             ? EF_EXIT_UNREACHABLE
				             : EF_EXIT_REJECTED;
				goto out;
			}
			printf("%s:%u:%u: %s: %s -> %s\n", f[i].path, im->line, im->col,
			       im->service, im->image, f[i].values[k]);
		}
	}
	if (!check && (rc = write_changed(f, n)) != 0)
		goto out;
	rc = unpinned ? EF_EXIT_REJECTED : 0;
out:
	files_free(f, n);
	return rc;
}

/* The image a service gets in `dir` (the last file naming it wins). */
static const ef_pin_image *effective(file_t *f, size_t n, const char *service, size_t *fi,
                                     size_t *ki)
{
	const ef_pin_image *found = NULL;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < f[i].imgs.n; k++)
			if (!strcmp(f[i].imgs.v[k].service, service))
				found = &f[i].imgs.v[k], *fi = i, *ki = k;
	return found;
}

int cmd_promote(const cli *c)
{
	file_t *src = NULL, *dst = NULL;
	size_t ns = 0, nd = 0, changed = 0;
	int rc;

	if (c->argc != 2) {
		fprintf(stderr, "usage: edgeflip promote SRC_DIR DST_DIR\n");
		return EF_EXIT_USAGE;
	}
	if ((rc = read_dir(&src, &ns, c->argv[0])) != 0 ||
	    (rc = read_dir(&dst, &nd, c->argv[1])) != 0)
		goto out;
	for (size_t i = 0; i < nd; i++) {
		for (size_t k = 0; k < dst[i].imgs.n; k++) {
			const ef_pin_image *d = &dst[i].imgs.v[k], *s;
			size_t si, sk, di, dk;
			if (effective(dst, nd, d->service, &di, &dk) != d)
				continue; /* an override file sets it */
			if (!(s = effective(src, ns, d->service, &si, &sk)))
				continue;
			if (!s->pinned || s->why_not[0]) {
				fprintf(stderr,
				        "edgeflip: %s:%u:%u: service %s: image %s is not pinned to "
				        "a digest; "
				        "promote only immutable references (run edgeflip pin %s "
				        "first)\n",
				        src[si].path, s->line, s->col, s->service, s->image,
				        c->argv[0]);
				rc = EF_EXIT_REJECTED;
				goto out;
			}
			if (!strcmp(s->image, d->image))
				continue;
			if (!(dst[i].values[k] = strdup(s->image))) {
				rc = EF_EXIT_ERROR;
				goto out;
			}
			printf("%s: %s -> %s\n", d->service, d->image, s->image);
			changed++;
		}
	}
	rc = write_changed(dst, nd);
	if (rc == 0 && !changed)
		printf("nothing to promote: %s already runs %s's images\n", c->argv[1], c->argv[0]);
out:
	files_free(src, ns);
	files_free(dst, nd);
	return rc;
}
