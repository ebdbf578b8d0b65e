/* Shared between the files of core/source; not a public interface. */
#ifndef EDGEFLIP_SOURCE_INTERNAL_H
#define EDGEFLIP_SOURCE_INTERNAL_H

#include "edgeflip/source.h"

#include <git2.h>

git_repository *ef_source__repo(ef_source *s);
/* "refs/heads/BRANCH" of the configured branch. */
const char *ef_source__ref_name(const ef_source *s);
/* [source] max_fetch_size: also the cap of an imported pack. */
uint64_t ef_source__max_fetch(const ef_source *s);

#endif
