/*
 * kiln-init, the static guest init (src/init/), embedded in libkiln: the VMM serves it to the
 * guest as /init.krun. Generated at build time by src/init/embed.py; a -Dfuzz=true build embeds
 * an empty blob (kiln_init_blob_len == 0).
 */
#ifndef KILN_INIT_BLOB_H
#define KILN_INIT_BLOB_H

#include <stddef.h>

extern const unsigned char kiln_init_blob[] __attribute__((visibility("hidden")));
extern const size_t kiln_init_blob_len __attribute__((visibility("hidden")));

#endif
