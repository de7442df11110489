/* fetch.h — `evalh pack fetch NAME`: downloads a known benchmark from its publisher with libcurl,
 * checks its SHA-256 against the digest pinned here, and imports it (tasks/import.h). */
#ifndef PACK_FETCH_H
#define PACK_FETCH_H

#include <stddef.h>

#include "harness/util/err.h"

struct pack_known {
	const char *name;        /* what `evalh pack fetch` takes, and the pack's name */
	const char *format;      /* pack_import format */
	const char *url;         /* the publisher's file */
	const char *sha256;      /* pinned hex digest of that file; NULL where none is pinned yet */
	const char *member;      /* entry inside a zip, or NULL */
	const char *password;    /* published zip password (GPQA's, against crawlers), or NULL */
	const char *license;
	const char *description;
};

size_t pack_known_count(void);
const struct pack_known *pack_known_at(size_t i);
const struct pack_known *pack_known_find(const char *name); /* NULL when unknown */

struct pack_fetch_opts {
	const char *url;    /* the whole URL instead of the table's */
	const char *base;   /* replaces the table URL's folder (file name kept); NULL: $EVALH_FETCH_BASE */
	const char *sha256; /* the digest to expect instead of (or where there is no) pinned one */
	const char *name;   /* pack name; NULL: the known name */
	long timeout_s;     /* whole transfer; 0: 600 */
};

/* Downloads `name`'s file into a temporary folder, verifies its SHA-256 (nettle) and imports it
 * into out_path. A network error (EVH_ENET, EVH_ETIMEOUT), an HTTP error (EVH_EHTTP), a digest
 * mismatch or a missing pin (EVH_EFORMAT, the digest found in the message) or an import error
 * leaves nothing at out_path and no temporary file. `o` may be NULL. */
int pack_fetch(const char *name, const char *out_path, const struct pack_fetch_opts *o, struct evh_err *err);

#endif
