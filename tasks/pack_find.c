/* pack_find.c — resolving a pack name to an archive path: a file as given, else NAME.<ext> in the
 * directories of $EVALH_PACKS, then in the built-in directory. */
#include "tasks/pack.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "harness/util/buf.h"

/* The extensions pack_open reads, in the order they are preferred when several exist. */
static const char *const exts[] = {".tar.gz", ".tar.zst", ".tar", ".zip"};

static bool is_file(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* Tries dir/name<ext> for each extension; records the place in `looked` for the error. */
static int try_dir(const char *dir, size_t dlen, const char *name, char **out, struct evh_buf *looked)
{
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
		char p[4096];
		int n = snprintf(p, sizeof p, "%.*s/%s%s", (int)dlen, dir, name, exts[i]);
		if (n < 0 || (size_t)n >= sizeof p)
			continue;
		if (is_file(p)) {
			*out = strdup(p);
			return *out ? 1 : -1;
		}
	}
	evh_buf_printf(looked, ", %.*s/%s.{tar.gz,tar.zst,tar,zip}", (int)dlen, dir, name); /* best effort */
	return 0;
}

int pack_find(const char *name, const char *builtin_dir, char **path_out, struct evh_err *err)
{
	*path_out = NULL;
	if (!name || !name[0])
		return evh_err_fail(err, EVH_EMISUSE, NULL, "empty pack name");
	if (is_file(name)) {
		*path_out = strdup(name);
		return *path_out ? EVH_OK : evh_err_fail(err, EVH_ENOMEM, name, "out of memory");
	}
	struct evh_buf looked;
	evh_buf_init(&looked, 4096);
	evh_buf_printf(&looked, "%s", name);
	int found = 0;
	/* A name with a slash is a path that does not exist: searching directories for it would only
	 * let "../x" wander out of them. */
	if (!strchr(name, '/')) {
		const char *env = getenv("EVALH_PACKS");
		for (const char *s = env; s && *s && !found;) {
			const char *colon = strchr(s, ':');
			size_t n = colon ? (size_t)(colon - s) : strlen(s);
			if (n) /* an empty component is skipped, not taken as "." */
				found = try_dir(s, n, name, path_out, &looked);
			s = colon ? colon + 1 : s + n;
		}
		if (!found && builtin_dir && builtin_dir[0])
			found = try_dir(builtin_dir, strlen(builtin_dir), name, path_out, &looked);
	}
	int rc = EVH_OK;
	if (found < 0)
		rc = evh_err_fail(err, EVH_ENOMEM, name, "out of memory");
	else if (!found)
		rc = evh_err_fail(err, EVH_ENOTFOUND, name, "no such pack; looked at %s%s", evh_buf_str(&looked),
				  getenv("EVALH_PACKS") ? "" : " ($EVALH_PACKS is not set)");
	evh_buf_free(&looked);
	return rc;
}
