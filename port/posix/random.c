#include "edgeflip/sys/random.h"
#include "edgeflip/error.h"
#include "edgeflip/features.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>
#ifdef EF_HAVE_GETRANDOM
#include <sys/random.h>
#endif

int ef_random_bytes(void *out, size_t n)
{
	unsigned char *p = out;
	int fd = -1, error = EF_ERROR;

#ifdef EF_HAVE_GETRANDOM
	while (n > 0) {
		ssize_t got = getrandom(p, n, 0);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			break; /* ENOSYS on an old kernel: try the device */
		p += got;
		n -= (size_t)got;
	}
	if (n == 0)
		return 0;
#endif
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	while (n > 0) {
		ssize_t got = read(fd, p, n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			goto out;
		p += got;
		n -= (size_t)got;
	}
	error = 0;
out:
	if (error)
		ef_error_set("no randomness from the kernel: %s", strerror(errno));
	if (fd >= 0)
		close(fd);
	return error;
}
