/* pack_archive.c — the archive side of packs, both ways, with libarchive: pack_open reads a tar,
 * tar.gz, tar.zst or zip in one streaming pass with the hostile-input policy below (nothing is
 * ever written to disk); pack_build writes one. Parsing the two files is pack.c. */
#include "tasks/pack.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "harness/util/buf.h"
#include "harness/util/str.h"

/* ---------------------------------------------------------------- entry policy
 * Accepted entries, at the top level only, each at most once:
 *   pack.json, items.jsonl            the pack
 *   README*, LICENSE* (see doc_name)  documents shipped with the data; read (to count them against
 *                                     the limits) and dropped
 *   the root directory ("./", ".")    what `tar -C dir -cf x.tar .` writes
 * An optional "./" prefix is allowed, and so is one folder holding all of the above (strip_folder). Everything else is refused, and first of all absolute paths,
 * ".." components, links and devices, which could only be there to attack an extractor. */

enum entry_kind { ENTRY_ROOT, ENTRY_MANIFEST, ENTRY_ITEMS, ENTRY_DOC };

/* README or LICENSE, then optionally one of ".-_" and [A-Za-z0-9._-]* ("README.md", "LICENSE-data"). */
static bool doc_name(const char *s)
{
	const char *rest = NULL;
	if (strncmp(s, "README", 6) == 0)
		rest = s + 6;
	else if (strncmp(s, "LICENSE", 7) == 0)
		rest = s + 7;
	if (!rest)
		return false;
	if (!*rest)
		return true;
	if (*rest != '.' && *rest != '-' && *rest != '_')
		return false;
	for (const char *c = rest; *c; c++)
		if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
		      *c == '-' || *c == '_'))
			return false;
	return true;
}

/* Copies an entry name for error messages with control characters replaced: the name comes from the
 * archive and must not be able to forge log lines. */
static void printable(char *dst, size_t n, const char *src)
{
	size_t i = 0;
	for (; src[i] && i + 1 < n; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? '?' : src[i];
	dst[i] = '\0';
}

static int entry_fail(struct evh_err *err, int code, const char *path, const char *entry, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static int entry_fail(struct evh_err *err, int code, const char *path, const char *entry, const char *fmt, ...)
{
	char where[EVH_ERR_WHERE], name[EVH_ERR_WHERE];
	printable(name, sizeof name, entry);
	snprintf(where, sizeof where, "%s: %s", path, name);
	va_list ap;
	va_start(ap, fmt);
	evh_err_failv(err, code, where, fmt, ap);
	va_end(ap);
	return code;
}

struct reader {
	const char *path;
	struct archive *a;
	char **seen; /* names of the entries so far, to refuse duplicates */
	size_t n_seen;
	unsigned long long total; /* unpacked bytes of all entries so far */
	char *chunk;
	struct evh_buf manifest, items;
	bool have_manifest, have_items;
	/* the one folder all entries sit in, when the pack was archived as a folder (see strip_folder) */
	char folder[256];
	bool top_files; /* a file was seen at the top level: no folder then */
};

/* Packs archived as a folder (`tar -czf arith.tar.gz arith/`, GitHub release tarballs) hold
 * everything under one top-level folder: accepted when every entry is in the same one (fixed by the
 * first entry), refused when mixed with top-level files. Strips the folder from *name. */
static int strip_folder(struct reader *r, const char *raw, const char **name, bool is_dir, struct evh_err *err)
{
	const char *n = *name, *slash = strchr(n, '/');
	size_t len = slash ? (size_t)(slash - n) : strlen(n);
	if (!slash && !is_dir) { /* a top-level file */
		if (r->folder[0])
			return entry_fail(err, EVH_EFORMAT, r->path, raw, "file outside the folder \"%s/\" that holds the pack",
					  r->folder);
		r->top_files = true;
		return EVH_OK;
	}
	if (!r->folder[0] && !r->top_files && len < sizeof r->folder) {
		memcpy(r->folder, n, len);
		r->folder[len] = '\0';
	}
	if (!r->folder[0] || strlen(r->folder) != len || strncmp(r->folder, n, len) != 0)
		return entry_fail(err, EVH_EFORMAT, r->path, raw,
				  is_dir ? "unexpected directory (a pack is flat, or all in one folder)"
					 : "entry outside the folder that holds the pack");
	*name = slash ? slash + 1 : "";
	return EVH_OK;
}

/* Classifies one entry header or refuses it. *out_name is the name without its "./" prefix. */
static int classify(struct archive_entry *e, struct reader *r, enum entry_kind *kind, const char **out_name,
		    struct evh_err *err)
{
	const char *path = r->path;
	const char *raw = archive_entry_pathname(e);
	if (!raw || !raw[0])
		return entry_fail(err, EVH_EFORMAT, path, "(no name)", "entry without a name");
	if (raw[0] == '/')
		return entry_fail(err, EVH_EFORMAT, path, raw, "absolute path in archive");
	if (strchr(raw, '\\'))
		return entry_fail(err, EVH_EFORMAT, path, raw, "backslash in entry name");
	for (const char *c = raw; c;) {
		const char *slash = strchr(c, '/');
		size_t n = slash ? (size_t)(slash - c) : strlen(c);
		if (n == 2 && c[0] == '.' && c[1] == '.')
			return entry_fail(err, EVH_EFORMAT, path, raw, "'..' component in entry name");
		c = slash ? slash + 1 : NULL;
	}
	const mode_t type = archive_entry_filetype(e);
	if (archive_entry_hardlink(e))
		return entry_fail(err, EVH_EFORMAT, path, raw, "hard link in archive");
	if (type == AE_IFLNK || archive_entry_symlink(e))
		return entry_fail(err, EVH_EFORMAT, path, raw, "symbolic link in archive");
	if (type != AE_IFREG && type != AE_IFDIR)
		return entry_fail(err, EVH_EFORMAT, path, raw, "device or special file in archive");
	if (archive_entry_is_encrypted(e))
		return entry_fail(err, EVH_EUNSUPPORTED, path, raw, "encrypted entry");
	const char *name = raw;
	while (name[0] == '.' && name[1] == '/')
		name += 2;
	if (name[0] && strcmp(name, ".") != 0) {
		int rc = strip_folder(r, raw, &name, type == AE_IFDIR, err);
		if (rc)
			return rc;
	}
	if (type == AE_IFDIR) {
		if (!name[0] || strcmp(name, ".") == 0)
			*kind = ENTRY_ROOT;
		else
			return entry_fail(err, EVH_EFORMAT, path, raw, "unexpected directory (a pack is flat, or all in one folder)");
	} else if (strcmp(name, "pack.json") == 0) {
		*kind = ENTRY_MANIFEST;
	} else if (strcmp(name, "items.jsonl") == 0) {
		*kind = ENTRY_ITEMS;
	} else if (doc_name(name)) {
		*kind = ENTRY_DOC;
	} else {
		return entry_fail(err, EVH_EFORMAT, path, raw,
				  "unexpected entry (a pack holds pack.json, items.jsonl and README*/LICENSE* only)");
	}
	*out_name = name;
	return EVH_OK;
}

/* ---------------------------------------------------------------- reading */

#define CHUNK (64u << 10)

/* Reads the entry's data through, counting the bytes actually unpacked (a header's size may lie,
 * and a few kilobytes of gzip can unpack to gigabytes), into `into` or nowhere. */
static int read_entry(struct reader *r, const char *raw, struct evh_buf *into, struct evh_err *err)
{
	unsigned long long n_entry = 0;
	for (;;) {
		la_ssize_t n = archive_read_data(r->a, r->chunk, CHUNK);
		if (n == 0)
			return EVH_OK;
		if (n < 0)
			return entry_fail(err, EVH_EFORMAT, r->path, raw, "broken or truncated archive: %s",
					  archive_error_string(r->a) ? archive_error_string(r->a) : "read error");
		n_entry += (size_t)n;
		r->total += (size_t)n;
		if (n_entry > EVH_LIMIT_ENTRY)
			return entry_fail(err, EVH_ELIMIT, r->path, raw, "entry unpacks to more than %u MiB",
					  (unsigned)(EVH_LIMIT_ENTRY >> 20));
		if (r->total > EVH_LIMIT_PACK_TOTAL)
			return entry_fail(err, EVH_ELIMIT, r->path, raw, "pack unpacks to more than %u MiB in all",
					  (unsigned)(EVH_LIMIT_PACK_TOTAL >> 20));
		if (into) {
			int rc = evh_buf_add(into, r->chunk, (size_t)n);
			if (rc)
				return entry_fail(err, rc, r->path, raw, "%s", evh_strerror(rc));
		}
	}
}

static int remember(struct reader *r, const char *raw, const char *name, struct evh_err *err)
{
	for (size_t i = 0; i < r->n_seen; i++)
		if (strcmp(r->seen[i], name) == 0)
			return entry_fail(err, EVH_EFORMAT, r->path, raw, "duplicate entry (\"%s\" appears twice)", name);
	char **ns = realloc(r->seen, (r->n_seen + 1) * sizeof *ns);
	if (!ns)
		return evh_err_fail(err, EVH_ENOMEM, r->path, "out of memory");
	r->seen = ns;
	if (!(r->seen[r->n_seen] = strdup(name)))
		return evh_err_fail(err, EVH_ENOMEM, r->path, "out of memory");
	r->n_seen++;
	return EVH_OK;
}

/* Decompression filters libarchive can do in-process. archive_read_support_filter_all would also
 * enable lrzip, lzop and grzip, which run an external program on the attacker's bytes. */
static int support_filters(struct archive *a)
{
	int (*const f[])(struct archive *) = {
		archive_read_support_filter_gzip, archive_read_support_filter_bzip2, archive_read_support_filter_xz,
		archive_read_support_filter_lzma, archive_read_support_filter_zstd, archive_read_support_filter_lz4,
	};
	for (size_t i = 0; i < sizeof f / sizeof f[0]; i++)
		if (f[i](a) < ARCHIVE_WARN) /* WARN: done through an external program where not built in */
			return -1;
	return 0;
}

static int read_all(struct reader *r, struct evh_err *err)
{
	const char *last = NULL; /* the previous entry, to locate a failure between headers */
	char last_name[EVH_ERR_WHERE] = "";
	for (size_t n_entries = 0;; n_entries++) {
		struct archive_entry *e;
		int ar = archive_read_next_header(r->a, &e);
		if (ar == ARCHIVE_EOF)
			return EVH_OK;
		if (ar != ARCHIVE_OK) {
			const char *why = archive_error_string(r->a) ? archive_error_string(r->a) : "unreadable header";
			if (n_entries == 0)
				return evh_err_fail(err, EVH_EFORMAT, r->path, "not a readable tar or zip pack archive: %s", why);
			return entry_fail(err, EVH_EFORMAT, r->path, last ? last_name : "(start)",
					  "broken or truncated archive after this entry: %s", why);
		}
		const char *raw = archive_entry_pathname(e) ? archive_entry_pathname(e) : "";
		if (n_entries >= EVH_LIMIT_ENTRIES)
			return entry_fail(err, EVH_ELIMIT, r->path, raw, "more than %d entries in the archive",
					  EVH_LIMIT_ENTRIES);
		enum entry_kind kind = ENTRY_ROOT;
		const char *name = raw;
		int rc = classify(e, r, &kind, &name, err);
		if (!rc && kind != ENTRY_ROOT)
			rc = remember(r, raw, name, err);
		if (rc)
			return rc;
		struct evh_buf *into = kind == ENTRY_MANIFEST ? &r->manifest : kind == ENTRY_ITEMS ? &r->items : NULL;
		if ((rc = read_entry(r, raw, into, err)))
			return rc;
		r->have_manifest |= kind == ENTRY_MANIFEST;
		r->have_items |= kind == ENTRY_ITEMS;
		snprintf(last_name, sizeof last_name, "%s", raw);
		last = last_name;
	}
}

int pack_open(const char *path, struct pack **out, struct evh_err *err)
{
	*out = NULL;
	struct stat st;
	if (stat(path, &st) != 0)
		return evh_err_fail(err, errno == ENOENT ? EVH_ENOTFOUND : EVH_EIO, path, "cannot open pack: %s",
				    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return evh_err_fail(err, EVH_EFORMAT, path, "not a pack archive (not a regular file)");
	struct reader r = {.path = path};
	evh_buf_init(&r.manifest, EVH_LIMIT_ENTRY);
	evh_buf_init(&r.items, EVH_LIMIT_ENTRY);
	int rc = EVH_OK;
	r.a = archive_read_new();
	r.chunk = malloc(CHUNK);
	if (!r.a || !r.chunk) {
		rc = evh_err_fail(err, EVH_ENOMEM, path, "out of memory");
		goto out;
	}
	if (support_filters(r.a) || archive_read_support_format_tar(r.a) != ARCHIVE_OK ||
	    archive_read_support_format_zip(r.a) != ARCHIVE_OK) {
		rc = evh_err_fail(err, EVH_EUNSUPPORTED, path, "libarchive: %s", archive_error_string(r.a));
		goto out;
	}
	if (archive_read_open_filename(r.a, path, CHUNK) != ARCHIVE_OK) {
		/* The file exists (stat above): libarchive fails here when the first block does not
		 * decompress, e.g. a small gzip cut short. */
		rc = evh_err_fail(err, archive_errno(r.a) == EIO || archive_errno(r.a) == EACCES ? EVH_EIO : EVH_EFORMAT, path,
				  "not a readable tar or zip pack archive: %s", archive_error_string(r.a));
		goto out;
	}
	if ((rc = read_all(&r, err)))
		goto out;
	if (!r.have_manifest || !r.have_items) {
		rc = evh_err_fail(err, EVH_EFORMAT, path, "no %s in the archive", r.have_manifest ? "items.jsonl" : "pack.json");
		goto out;
	}
	rc = pack_open_mem(path, evh_buf_str(&r.manifest), r.manifest.len, evh_buf_str(&r.items), r.items.len, out, err);
out:
	archive_read_free(r.a);
	for (size_t i = 0; i < r.n_seen; i++)
		free(r.seen[i]);
	free(r.seen);
	free(r.chunk);
	evh_buf_free(&r.manifest);
	evh_buf_free(&r.items);
	return rc;
}

/* ---------------------------------------------------------------- writing */

enum out_kind { OUT_TAR, OUT_TGZ, OUT_TZST, OUT_ZIP };

static int out_kind_of(const char *path, enum out_kind *k)
{
	if (evh_str_ends_with(path, ".tar.gz") || evh_str_ends_with(path, ".tgz"))
		*k = OUT_TGZ;
	else if (evh_str_ends_with(path, ".tar.zst"))
		*k = OUT_TZST;
	else if (evh_str_ends_with(path, ".tar"))
		*k = OUT_TAR;
	else if (evh_str_ends_with(path, ".zip"))
		*k = OUT_ZIP;
	else
		return -1;
	return 0;
}

static int read_file(const char *dir, const char *name, struct evh_buf *b, struct evh_err *err)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "rb");
	if (!f)
		return evh_err_fail(err, errno == ENOENT ? EVH_ENOTFOUND : EVH_EIO, path, "cannot read: %s", strerror(errno));
	char chunk[CHUNK / 4];
	int rc = EVH_OK;
	size_t n;
	while (!rc && (n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if ((rc = evh_buf_add(b, chunk, n)))
			rc = evh_err_fail(err, rc, path, "%s (limit %u MiB)", evh_strerror(rc), (unsigned)(EVH_LIMIT_ENTRY >> 20));
	if (!rc && ferror(f))
		rc = evh_err_fail(err, EVH_EIO, path, "read error");
	fclose(f);
	return rc;
}

/* Fixed owner and time so that the same pack builds to the same bytes (for tar; gzip's own
 * timestamp is switched off too). */
static int write_entry(struct archive *a, const char *name, const struct evh_buf *b, const char *apath,
		       struct evh_err *err)
{
	struct archive_entry *e = archive_entry_new();
	if (!e)
		return evh_err_fail(err, EVH_ENOMEM, apath, "out of memory");
	archive_entry_set_pathname(e, name);
	archive_entry_set_filetype(e, AE_IFREG);
	archive_entry_set_perm(e, 0644);
	archive_entry_set_size(e, (la_int64_t)b->len);
	archive_entry_set_mtime(e, 946684800, 0); /* 2000-01-01: zip cannot store 1970 */
	int rc = EVH_OK;
	if (archive_write_header(a, e) != ARCHIVE_OK ||
	    (b->len && archive_write_data(a, b->data, b->len) != (la_ssize_t)b->len))
		rc = evh_err_fail(err, EVH_EIO, apath, "writing %s: %s", name, archive_error_string(a));
	archive_entry_free(e);
	return rc;
}

static int set_writer(struct archive *a, enum out_kind k)
{
	int r = k == OUT_ZIP ? archive_write_set_format_zip(a) : archive_write_set_format_pax_restricted(a);
	if (r != ARCHIVE_OK)
		return -1;
	if (k == OUT_TGZ) {
		if (archive_write_add_filter_gzip(a) != ARCHIVE_OK)
			return -1;
		archive_write_set_filter_option(a, "gzip", "timestamp", NULL); /* optional: reproducible bytes */
	} else if (k == OUT_TZST) {
		if (archive_write_add_filter_zstd(a) != ARCHIVE_OK)
			return -1;
	}
	return 0;
}

/* The documents found in dir that pack_open accepts (README*, LICENSE*), sorted for stable output. */
static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int list_docs(const char *dir, char ***names, size_t *n, struct evh_err *err)
{
	*names = NULL;
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return evh_err_fail(err, errno == ENOENT ? EVH_ENOTFOUND : EVH_EIO, dir, "cannot list: %s", strerror(errno));
	int rc = EVH_OK;
	struct dirent *de;
	while (!rc && (de = readdir(d))) {
		if (!doc_name(de->d_name))
			continue;
		char p[4096];
		struct stat st;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (stat(p, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		char **nn = realloc(*names, (*n + 1) * sizeof *nn);
		if (!nn || !(nn[*n] = strdup(de->d_name))) {
			if (nn)
				*names = nn;
			rc = evh_err_fail(err, EVH_ENOMEM, dir, "out of memory");
			break;
		}
		*names = nn;
		(*n)++;
	}
	closedir(d);
	if (*n)
		qsort(*names, *n, sizeof **names, cmp_str);
	return rc;
}

int pack_build(const char *dir, const char *archive_path, struct evh_err *err)
{
	enum out_kind kind;
	if (out_kind_of(archive_path, &kind))
		return evh_err_fail(err, EVH_EUNSUPPORTED, archive_path,
				    "unknown archive extension (use .tar, .tar.gz, .tgz, .tar.zst or .zip)");
	struct evh_buf manifest, items, doc;
	evh_buf_init(&manifest, EVH_LIMIT_ENTRY);
	evh_buf_init(&items, EVH_LIMIT_ENTRY);
	evh_buf_init(&doc, EVH_LIMIT_ENTRY);
	char **docs = NULL;
	size_t n_docs = 0;
	struct archive *a = NULL;
	struct pack *p = NULL;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp%ld", archive_path, (long)getpid());
	bool tmp_made = false;

	int rc = read_file(dir, "pack.json", &manifest, err);
	if (!rc)
		rc = read_file(dir, "items.jsonl", &items, err);
	if (!rc)
		rc = pack_open_mem(dir, evh_buf_str(&manifest), manifest.len, evh_buf_str(&items), items.len, &p, err);
	pack_close(p);
	p = NULL;
	if (!rc)
		rc = list_docs(dir, &docs, &n_docs, err);
	if (rc)
		goto out;

	if (!(a = archive_write_new()) || set_writer(a, kind)) {
		rc = evh_err_fail(err, EVH_EUNSUPPORTED, archive_path, "libarchive cannot write this format: %s",
				  a ? archive_error_string(a) : "out of memory");
		goto out;
	}
	/* Written beside the target and renamed at the end, so a failure leaves no half archive. */
	tmp_made = true;
	if (archive_write_open_filename(a, tmp) != ARCHIVE_OK) {
		rc = evh_err_fail(err, EVH_EIO, archive_path, "cannot create: %s", archive_error_string(a));
		goto out;
	}
	rc = write_entry(a, "pack.json", &manifest, archive_path, err);
	if (!rc)
		rc = write_entry(a, "items.jsonl", &items, archive_path, err);
	for (size_t i = 0; !rc && i < n_docs; i++) {
		evh_buf_reset(&doc);
		rc = read_file(dir, docs[i], &doc, err);
		if (!rc)
			rc = write_entry(a, docs[i], &doc, archive_path, err);
	}
	if (!rc && archive_write_close(a) != ARCHIVE_OK)
		rc = evh_err_fail(err, EVH_EIO, archive_path, "writing: %s", archive_error_string(a));
	/* Read back what was written, so a pack that builds is a pack that opens. */
	if (!rc && (rc = pack_open(tmp, &p, err)))
		evh_err_prefix(err, "reading back the written archive: ");
	pack_close(p);
	if (!rc && rename(tmp, archive_path) != 0)
		rc = evh_err_fail(err, EVH_EIO, archive_path, "cannot rename into place: %s", strerror(errno));
	else if (!rc)
		tmp_made = false;
out:
	archive_write_free(a);
	if (tmp_made)
		unlink(tmp);
	for (size_t i = 0; i < n_docs; i++)
		free(docs[i]);
	free(docs);
	evh_buf_free(&manifest);
	evh_buf_free(&items);
	evh_buf_free(&doc);
	return rc;
}
