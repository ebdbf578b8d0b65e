/* Shared between the files of core/source; not a public interface. */
#ifndef EDGEFLIP_SOURCE_INTERNAL_H
#define EDGEFLIP_SOURCE_INTERNAL_H

#include "edgeflip/source.h"

#include <git2.h>

git_repository *ef_source__repo(ef_source *s);

#endif
