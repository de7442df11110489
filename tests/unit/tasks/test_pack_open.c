/* test_pack_open.c — pack_open on archives written here with libarchive's write API: good packs in
 * every format, and hostile or broken ones, each refused with the expected code and a location
 * naming the pack, the entry and the line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness/util/buf.h"
#include "tasks/pack.h"
#include "tests/unit/testutil.h"

enum fmt { TAR, TGZ, TZST, ZIP };

/* One archive entry to write: a regular file with `data` (or `zeros` zero bytes), or another type. */
struct ent {
	const char *name;
	const char *data;
	size_t zeros;
	mode_t type;      /* 0: regular file */
	const char *link; /* symlink target, or hard link target when type == 0 */
};

static const char MANIFEST[] = "{\"name\":\"t\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\"}";
static const char ITEMS[] = "{\"id\":\"a\",\"question\":\"What is 1 + 1?\",\"answer\":\"2\"}\n"
			    "{\"id\":\"b\",\"prompt\":\"What is 2 * 3?\",\"answer\":\"6\",\"level\":3}\n"
			    "{\"id\":\"c\",\"question\":\"Café ∑ 日本\",\"answer\":\"x\"}\n";

static void write_archive(const char *path, enum fmt f, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	assert_non_null(a);
	assert_int_equal(f == ZIP ? archive_write_set_format_zip(a) : archive_write_set_format_pax_restricted(a),
			 ARCHIVE_OK);
	if (f == TGZ)
		assert_int_equal(archive_write_add_filter_gzip(a), ARCHIVE_OK);
	if (f == TZST)
		assert_int_equal(archive_write_add_filter_zstd(a), ARCHIVE_OK);
	assert_int_equal(archive_write_open_filename(a, path), ARCHIVE_OK);
	static char zero[1 << 20];
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *x = archive_entry_new();
		archive_entry_set_pathname(x, e[i].name);
		archive_entry_set_perm(x, 0644);
		size_t size = e[i].data ? strlen(e[i].data) : e[i].zeros;
		if (e[i].type == AE_IFLNK) {
			archive_entry_set_filetype(x, AE_IFLNK);
			archive_entry_set_symlink(x, e[i].link);
		} else if (e[i].type) {
			archive_entry_set_filetype(x, e[i].type);
		} else {
			archive_entry_set_filetype(x, AE_IFREG);
			if (e[i].link)
				archive_entry_set_hardlink(x, e[i].link);
			else
				archive_entry_set_size(x, (la_int64_t)size);
		}
		assert_int_equal(archive_write_header(a, x), ARCHIVE_OK);
		if (e[i].data && size)
			assert_int_equal(archive_write_data(a, e[i].data, size), (la_ssize_t)size);
		for (size_t left = e[i].zeros; left;) {
			size_t k = left < sizeof zero ? left : sizeof zero;
			assert_int_equal(archive_write_data(a, zero, k), (la_ssize_t)k);
			left -= k;
		}
		archive_entry_free(x);
	}
	assert_int_equal(archive_write_close(a), ARCHIVE_OK);
	archive_write_free(a);
}

/* A pack of the two files with the given contents, as a tar. */
static const char *tar_of(const char *name, const char *manifest, const char *items)
{
	const char *p = tu_path(name);
	struct ent e[] = {{.name = "pack.json", .data = manifest}, {.name = "items.jsonl", .data = items}};
	write_archive(p, TAR, e, 2);
	return p;
}

/* pack_open must fail with `code`, where == "<path>: <where_tail>" (or the path alone when NULL),
 * and a message containing msg_part; *out must be NULL. */
static void expect_fail(const char *path, int code, const char *where_tail, const char *msg_part)
{
	struct evh_err err = {0};
	struct pack *p = (struct pack *)0x1;
	int rc = pack_open(path, &p, &err);
	char want[512];
	if (where_tail)
		snprintf(want, sizeof want, "%s: %s", path, where_tail);
	else
		snprintf(want, sizeof want, "%s", path);
	if (rc != code || strcmp(err.where, want) != 0 || !strstr(err.msg, msg_part))
		print_error("got %s [%s] %s; want %s [%s] ...%s...\n", evh_code_name(rc), err.where, err.msg,
			    evh_code_name(code), want, msg_part);
	assert_int_equal(rc, code);
	assert_int_equal(err.code, code);
	assert_null(p);
	assert_string_equal(err.where, want);
	assert_non_null(strstr(err.msg, msg_part));
}

static struct pack *expect_open(const char *path)
{
	struct evh_err err = {0};
	struct pack *p = NULL;
	int rc = pack_open(path, &p, &err);
	if (rc)
		print_error("%s: %s\n", err.where, err.msg);
	assert_int_equal(rc, EVH_OK);
	assert_non_null(p);
	return p;
}

/* ---------------------------------------------------------------- good packs */

static void check_items(const struct pack *p)
{
	assert_string_equal(pack_manifest(p)->name, "t");
	assert_string_equal(pack_manifest(p)->domain, "math");
	assert_null(pack_manifest(p)->prompt_template);
	assert_int_equal(pack_count(p), 3);
	const struct pack_item *b = pack_item_at(p, 1);
	assert_string_equal(b->id, "b");
	assert_string_equal(b->question, "What is 2 * 3?"); /* "prompt" is taken as the question */
	assert_string_equal(b->answer, "6");
	assert_int_equal(b->line, 2);
	assert_null(b->choices);
	assert_null(b->tests);
	assert_non_null(strstr(b->json, "\"level\":3")); /* extra fields kept for scorers */
	assert_string_equal(pack_item_at(p, 2)->question, "Café ∑ 日本");
	assert_null(pack_item_at(p, 3));
}

static void opens_every_format(void **state)
{
	(void)state;
	const char *names[] = {"good.tar", "good.tar.gz", "good.tar.zst", "good.zip"};
	const char *digest = NULL;
	struct pack *first = NULL;
	for (enum fmt f = TAR; f <= ZIP; f++) {
		/* "./" prefixes, the root directory entry and a README, as `tar -C dir -cf x .` writes */
		struct ent e[] = {{.name = "./", .type = AE_IFDIR},
				  {.name = "./README.md", .data = "about\n"},
				  {.name = "./items.jsonl", .data = ITEMS},
				  {.name = "./pack.json", .data = MANIFEST},
				  {.name = "LICENSE", .data = "CC0\n"}};
		write_archive(tu_path(names[f]), f, e, 5);
		struct pack *p = expect_open(tu_path(names[f]));
		check_items(p);
		assert_int_equal(strlen(pack_digest(p)), 64);
		/* same content, same digest, whatever the container */
		if (digest)
			assert_string_equal(pack_digest(p), digest);
		else {
			digest = pack_digest(p);
			first = p;
		}
		if (p != first)
			pack_close(p);
	}
	pack_close(first);
	pack_close(NULL);
}

static void bom_crlf_and_blank_lines(void **state)
{
	(void)state;
	const char *items = "\xEF\xBB\xBF{\"id\":\"a\",\"question\":\"q1\",\"answer\":\"1\"}\r\n"
			    "\r\n"
			    "   \n"
			    "{\"id\":\"b\",\"question\":\"q2\",\"answer\":\"2\"}\r\n";
	struct pack *p = expect_open(tar_of("crlf.tar", "\xEF\xBB\xBF{\"name\":\"t\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\"}\r\n", items));
	assert_int_equal(pack_count(p), 2);
	assert_string_equal(pack_item_at(p, 0)->answer, "1");
	assert_int_equal(pack_item_at(p, 1)->line, 4); /* blank lines still count */
	pack_close(p);
	/* ... and an error after them is located on the right line */
	expect_fail(tar_of("crlf-bad.tar", MANIFEST, "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"1\"}\r\n\r\n{\"id\":\"b\"\r\n"),
		    EVH_EFORMAT, "items.jsonl:3", "invalid JSON");
}

/* `tar -czf arith.tar.gz arith/`: everything in one folder is fine, anything beside it is not. */
static void one_folder(void **state)
{
	(void)state;
	struct ent ok[] = {{.name = "arith/", .type = AE_IFDIR},
			   {.name = "arith/pack.json", .data = MANIFEST},
			   {.name = "arith/items.jsonl", .data = ITEMS}};
	write_archive(tu_path("folder.tar.gz"), TGZ, ok, 3);
	struct pack *p = expect_open(tu_path("folder.tar.gz"));
	check_items(p);
	pack_close(p);
	write_archive(tu_path("folder.zip"), ZIP, ok + 1, 2); /* zip tools often omit the directory entry */
	p = expect_open(tu_path("folder.zip"));
	check_items(p);
	pack_close(p);
	struct ent two[] = {{.name = "arith/pack.json", .data = MANIFEST}, {.name = "other/items.jsonl", .data = ITEMS}};
	write_archive(tu_path("two.tar"), TAR, two, 2);
	expect_fail(tu_path("two.tar"), EVH_EFORMAT, "other/items.jsonl", "outside the folder");
	struct ent mixed[] = {{.name = "arith/pack.json", .data = MANIFEST}, {.name = "items.jsonl", .data = ITEMS}};
	write_archive(tu_path("mixed.tar"), TAR, mixed, 2);
	expect_fail(tu_path("mixed.tar"), EVH_EFORMAT, "items.jsonl", "outside the folder \"arith/\"");
	struct ent deep[] = {{.name = "arith/pack.json", .data = MANIFEST}, {.name = "arith/x/items.jsonl", .data = ITEMS}};
	write_archive(tu_path("deep.tar"), TAR, deep, 2);
	expect_fail(tu_path("deep.tar"), EVH_EFORMAT, "arith/x/items.jsonl", "unexpected entry");
}

/* ---------------------------------------------------------------- hostile entries */

static void refuses_absolute_path(void **state)
{
	(void)state;
	struct ent e[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "/etc/items.jsonl", .data = ITEMS}};
	write_archive(tu_path("abs.tar"), TAR, e, 2);
	expect_fail(tu_path("abs.tar"), EVH_EFORMAT, "/etc/items.jsonl", "absolute path");
}

static void refuses_dotdot(void **state)
{
	(void)state;
	struct ent e[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "../items.jsonl", .data = ITEMS}};
	write_archive(tu_path("dotdot.tar.gz"), TGZ, e, 2);
	expect_fail(tu_path("dotdot.tar.gz"), EVH_EFORMAT, "../items.jsonl", "'..'");
	struct ent z[] = {{.name = "a/b/../../../items.jsonl", .data = ITEMS}};
	write_archive(tu_path("dotdot.zip"), ZIP, z, 1);
	expect_fail(tu_path("dotdot.zip"), EVH_EFORMAT, "a/b/../../../items.jsonl", "'..'");
}

static void refuses_links_and_devices(void **state)
{
	(void)state;
	struct ent sym[] = {{.name = "pack.json", .type = AE_IFLNK, .link = "/etc/passwd"}};
	write_archive(tu_path("sym.tar"), TAR, sym, 1);
	expect_fail(tu_path("sym.tar"), EVH_EFORMAT, "pack.json", "symbolic link");
	struct ent hard[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "items.jsonl", .link = "pack.json"}};
	write_archive(tu_path("hard.tar"), TAR, hard, 2);
	expect_fail(tu_path("hard.tar"), EVH_EFORMAT, "items.jsonl", "hard link");
	struct ent dev[] = {{.name = "items.jsonl", .type = AE_IFCHR}};
	write_archive(tu_path("dev.tar"), TAR, dev, 1);
	expect_fail(tu_path("dev.tar"), EVH_EFORMAT, "items.jsonl", "device");
	struct ent dir[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "sub/", .type = AE_IFDIR}};
	write_archive(tu_path("dir.tar"), TAR, dir, 2);
	expect_fail(tu_path("dir.tar"), EVH_EFORMAT, "sub/", "unexpected directory");
}

static void refuses_unknown_and_duplicate_entries(void **state)
{
	(void)state;
	struct ent unk[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "run.sh", .data = "rm -rf /"}};
	write_archive(tu_path("unk.tar"), TAR, unk, 2);
	expect_fail(tu_path("unk.tar"), EVH_EFORMAT, "run.sh", "unexpected entry");
	/* a second items.jsonl would silently replace the first in an extractor */
	struct ent dup[] = {{.name = "pack.json", .data = MANIFEST},
			    {.name = "items.jsonl", .data = ITEMS},
			    {.name = "./items.jsonl", .data = ITEMS}};
	write_archive(tu_path("dup.tar"), TAR, dup, 3);
	expect_fail(tu_path("dup.tar"), EVH_EFORMAT, "./items.jsonl", "duplicate entry");
	struct ent none[] = {{.name = "pack.json", .data = MANIFEST}};
	write_archive(tu_path("noitems.tar"), TAR, none, 1);
	expect_fail(tu_path("noitems.tar"), EVH_EFORMAT, NULL, "no items.jsonl");
}

/* A gzip of zeros: the archive is tiny, the entry unpacks past EVH_LIMIT_ENTRY. */
static void refuses_bomb(void **state)
{
	(void)state;
	struct ent e[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "items.jsonl", .zeros = EVH_LIMIT_ENTRY + 1}};
	write_archive(tu_path("bomb.tar.gz"), TGZ, e, 2);
	struct stat st;
	assert_int_equal(stat(tu_path("bomb.tar.gz"), &st), 0);
	assert_true(st.st_size < 1 << 20);
	expect_fail(tu_path("bomb.tar.gz"), EVH_ELIMIT, "items.jsonl", "more than 64 MiB");
}

/* The same bomb in a zip whose headers lie: both the local and the central header claim 100 bytes,
 * so only counting what actually comes out catches it. */
static void refuses_bomb_with_lying_header(void **state)
{
	(void)state;
	const char *path = tu_path("liar.zip");
	/* 8 MiB over, so the limit trips before libarchive reaches the end and notices the lie itself */
	struct ent e[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "items.jsonl", .zeros = EVH_LIMIT_ENTRY + (8 << 20)}};
	write_archive(path, ZIP, e, 2);
	FILE *f = fopen(path, "r+b");
	assert_non_null(f);
	static unsigned char b[1 << 20];
	size_t n = fread(b, 1, sizeof b, f);
	assert_true(n > 0 && n < sizeof b);
	int patched = 0;
	const uint32_t lie = 100;
	for (size_t i = 0; i + 46 < n; i++) {
		/* central directory header: uncompressed size at +24, name length at +28, name at +46 */
		if (memcmp(b + i, "PK\1\2", 4) == 0 && memcmp(b + i + 46, "items.jsonl", 11) == 0) {
			memcpy(b + i + 24, &lie, 4);
			patched++;
		}
		/* local header: uncompressed size at +22 (0 when a data descriptor follows) */
		if (memcmp(b + i, "PK\3\4", 4) == 0 && memcmp(b + i + 30, "items.jsonl", 11) == 0) {
			memcpy(b + i + 22, &lie, 4);
			patched++;
		}
	}
	assert_int_equal(patched, 2);
	rewind(f);
	assert_int_equal(fwrite(b, 1, n, f), n);
	fclose(f);
	/* libarchive itself reports the lie (size 100) in the header */
	struct archive *a = archive_read_new();
	archive_read_support_format_zip(a);
	assert_int_equal(archive_read_open_filename(a, path, 65536), ARCHIVE_OK);
	struct archive_entry *x;
	assert_int_equal(archive_read_next_header(a, &x), ARCHIVE_OK);
	assert_int_equal(archive_read_next_header(a, &x), ARCHIVE_OK);
	assert_string_equal(archive_entry_pathname(x), "items.jsonl");
	assert_int_equal(archive_entry_size(x), 100);
	archive_read_free(a);
	expect_fail(path, EVH_ELIMIT, "items.jsonl", "more than 64 MiB");
}

static void refuses_too_many_entries(void **state)
{
	(void)state;
	enum { N = 5000 };
	static struct ent e[N];
	static char names[N][16];
	for (int i = 0; i < N; i++) {
		snprintf(names[i], sizeof names[i], "LICENSE-%04d", i);
		e[i] = (struct ent){.name = names[i], .data = ""};
	}
	write_archive(tu_path("many.tar"), TAR, e, N);
	/* the 4097th entry is the first one over */
	expect_fail(tu_path("many.tar"), EVH_ELIMIT, "LICENSE-4096", "more than 4096 entries");
}

static void refuses_truncated_and_garbage(void **state)
{
	(void)state;
	/* items long enough that the cut falls inside the compressed data */
	struct evh_buf big;
	evh_buf_init(&big, 4 << 20);
	for (int i = 0; i < 20000; i++)
		assert_int_equal(evh_buf_printf(&big, "{\"id\":\"i%d\",\"question\":\"%d?\",\"answer\":\"%d\"}\n", i, i * 7919, i),
				 EVH_OK);
	struct ent e[] = {{.name = "pack.json", .data = MANIFEST}, {.name = "items.jsonl", .data = big.data}};
	const char *path = tu_path("trunc.tar.gz");
	write_archive(path, TGZ, e, 2);
	evh_buf_free(&big);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(truncate(path, st.st_size / 2), 0);
	expect_fail(path, EVH_EFORMAT, "items.jsonl", "truncated");
	/* cut inside the first block: libarchive refuses it when opening, before any entry */
	assert_int_equal(truncate(path, 100), 0);
	expect_fail(path, EVH_EFORMAT, NULL, "truncated");

	const char *g = tu_path("garbage.tar.gz");
	FILE *f = fopen(g, "wb");
	assert_non_null(f);
	for (int i = 0; i < 4000; i++)
		fputc((i * 7 + 3) % 251, f);
	fclose(f);
	expect_fail(g, EVH_EFORMAT, NULL, "not a readable tar or zip");
	f = fopen(tu_path("empty.tar"), "wb");
	fclose(f);
	expect_fail(tu_path("empty.tar"), EVH_EFORMAT, NULL, "");
	expect_fail(tu_path("missing.tar"), EVH_ENOTFOUND, NULL, "cannot open");
}

/* ---------------------------------------------------------------- bad content */

static void refuses_bad_json_on_line(void **state)
{
	(void)state;
	const char *items = "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"1\"}\n"
			    "{\"id\":\"b\",\"question\":\"q\",\"answer\":\"2\"}\n"
			    "{\"id\":\"c\",\"question\":\"q\",\"answer\":3,}\n";
	expect_fail(tar_of("badjson.tar", MANIFEST, items), EVH_EFORMAT, "items.jsonl:3", "invalid JSON");
	expect_fail(tar_of("trailing.tar", MANIFEST, "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"1\"} x\n"),
		    EVH_EFORMAT, "items.jsonl:1", "invalid JSON");
	expect_fail(tar_of("notobj.tar", MANIFEST, "[1,2]\n"), EVH_EFORMAT, "items.jsonl:1", "must be a JSON object");
	expect_fail(tar_of("badutf8.tar", MANIFEST, "{\"id\":\"a\",\"question\":\"\xC3\x28\",\"answer\":\"1\"}\n"),
		    EVH_EFORMAT, "items.jsonl:1", "invalid UTF-8");
	expect_fail(tar_of("badman.tar", "{\"name\":\"t\",\n\"version\":\"1\",\n\"domain\" \"math\"}", ITEMS), EVH_EFORMAT,
		    "pack.json:3", "invalid JSON");
}

static void refuses_missing_and_mistyped_fields(void **state)
{
	(void)state;
	const char *l1 = "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"1\"}\n";
	char items[512];
	snprintf(items, sizeof items, "%s{\"id\":\"b\",\"question\":\"q\"}\n", l1);
	expect_fail(tar_of("noanswer.tar", MANIFEST, items), EVH_EFORMAT, "items.jsonl:2", "\"answer\"");
	snprintf(items, sizeof items, "%s%s{\"question\":\"q\",\"answer\":\"1\"}\n", l1, "\n");
	expect_fail(tar_of("noid.tar", MANIFEST, items), EVH_EFORMAT, "items.jsonl:3", "missing required field \"id\"");
	expect_fail(tar_of("noq.tar", MANIFEST, "{\"id\":\"a\",\"answer\":\"1\"}\n"), EVH_EFORMAT, "items.jsonl:1",
		    "\"question\" (or \"prompt\")");
	expect_fail(tar_of("intid.tar", MANIFEST, "{\"id\":7,\"question\":\"q\",\"answer\":\"1\"}\n"), EVH_EFORMAT,
		    "items.jsonl:1", "field \"id\" must be a string, got a number");
	expect_fail(tar_of("numans.tar", MANIFEST, "{\"id\":\"a\",\"question\":\"q\",\"answer\":42}\n"), EVH_EFORMAT,
		    "items.jsonl:1", "field \"answer\" must be a string, got a number");
	expect_fail(tar_of("empty.tar2.tar", MANIFEST, "\n\n"), EVH_EFORMAT, "items.jsonl", "no items");
	/* manifest */
	expect_fail(tar_of("nodomain.tar", "{\"name\":\"t\",\"version\":\"1\",\"scorer\":\"math\"}", ITEMS), EVH_EFORMAT,
		    "pack.json", "missing required field \"domain\"");
	expect_fail(tar_of("baddomain.tar", "{\"name\":\"t\",\"version\":\"1\",\"domain\":\"art\",\"scorer\":\"math\"}", ITEMS),
		    EVH_EFORMAT, "pack.json", "\"domain\" must be");
	expect_fail(tar_of("badname.tar", "{\"name\":\"a b\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\"}", ITEMS),
		    EVH_EFORMAT, "pack.json", "[A-Za-z0-9_.-]+");
	expect_fail(tar_of("typo.tar",
			   "{\"name\":\"t\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\",\"prompt_tempalte\":\"x\"}",
			   ITEMS),
		    EVH_EFORMAT, "pack.json", "unknown field \"prompt_tempalte\"");
	expect_fail(tar_of("vernum.tar", "{\"name\":\"t\",\"version\":1,\"domain\":\"math\",\"scorer\":\"math\"}", ITEMS),
		    EVH_EFORMAT, "pack.json", "field \"version\" must be a string, got a number");
	expect_fail(tar_of("noqtpl.tar",
			   "{\"name\":\"t\",\"version\":\"1\",\"domain\":\"math\",\"scorer\":\"math\",\"prompt_template\":\"Solve.\"}",
			   ITEMS),
		    EVH_EFORMAT, "pack.json", "no {question}");
}

static void refuses_duplicate_ids(void **state)
{
	(void)state;
	const char *items = "{\"id\":\"a\",\"question\":\"q\",\"answer\":\"1\"}\n"
			    "{\"id\":\"dup\",\"question\":\"q\",\"answer\":\"1\"}\n"
			    "{\"id\":\"b\",\"question\":\"q\",\"answer\":\"1\"}\n"
			    "{\"id\":\"c\",\"question\":\"q\",\"answer\":\"1\"}\n"
			    "{\"id\":\"dup\",\"question\":\"q\",\"answer\":\"1\"}\n"
			    "{\"id\":\"dup\",\"question\":\"q\",\"answer\":\"1\"}\n";
	expect_fail(tar_of("dupid.tar", MANIFEST, items), EVH_EFORMAT, "items.jsonl:5",
		    "duplicate id \"dup\" (first on line 2)");
}

static void checks_choices_and_code(void **state)
{
	(void)state;
	const char *mcq = "{\"name\":\"s\",\"version\":\"1\",\"domain\":\"science\",\"scorer\":\"mcq\","
			  "\"prompt_template\":\"{question}\\n{choices}\"}";
	struct pack *p = expect_open(tar_of("mcq.tar", mcq, "{\"id\":\"a\",\"question\":\"q\",\"choices\":[\"x\",\"y\",\"z\"],\"answer\":\"C\"}\n"));
	assert_int_equal(pack_item_at(p, 0)->n_choices, 3);
	assert_string_equal(pack_item_at(p, 0)->choices[2], "z");
	pack_close(p);
	expect_fail(tar_of("mcq-d.tar", mcq, "{\"id\":\"a\",\"question\":\"q\",\"choices\":[\"x\",\"y\",\"z\"],\"answer\":\"D\"}\n"),
		    EVH_EFORMAT, "items.jsonl:1", "letter A-C");
	expect_fail(tar_of("mcq-1.tar", mcq, "{\"id\":\"a\",\"question\":\"q\",\"choices\":[\"x\"],\"answer\":\"A\"}\n"),
		    EVH_EFORMAT, "items.jsonl:1", "2 to 26");
	expect_fail(tar_of("mcq-tpl.tar", MANIFEST, "{\"id\":\"a\",\"question\":\"q\",\"choices\":[\"x\",\"y\"],\"answer\":\"A\"}\n"),
		    EVH_EFORMAT, "items.jsonl:1", "no {choices}");
	const char *code = "{\"name\":\"c\",\"version\":\"1\",\"domain\":\"code\",\"scorer\":\"code\"}";
	p = expect_open(tar_of("code.tar", code, "{\"id\":\"a\",\"prompt\":\"def f():\",\"tests\":[\"assert f() == 1\"]}\n"));
	assert_null(pack_item_at(p, 0)->answer);
	assert_string_equal(pack_item_at(p, 0)->tests, "[\"assert f() == 1\"]");
	pack_close(p);
	expect_fail(tar_of("code-nt.tar", code, "{\"id\":\"a\",\"prompt\":\"def f():\"}\n"), EVH_EFORMAT, "items.jsonl:1",
		    "\"tests\"");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(opens_every_format),
		cmocka_unit_test(bom_crlf_and_blank_lines),
		cmocka_unit_test(one_folder),
		cmocka_unit_test(refuses_absolute_path),
		cmocka_unit_test(refuses_dotdot),
		cmocka_unit_test(refuses_links_and_devices),
		cmocka_unit_test(refuses_unknown_and_duplicate_entries),
		cmocka_unit_test(refuses_bomb),
		cmocka_unit_test(refuses_bomb_with_lying_header),
		cmocka_unit_test(refuses_too_many_entries),
		cmocka_unit_test(refuses_truncated_and_garbage),
		cmocka_unit_test(refuses_bad_json_on_line),
		cmocka_unit_test(refuses_missing_and_mistyped_fields),
		cmocka_unit_test(refuses_duplicate_ids),
		cmocka_unit_test(checks_choices_and_code),
	};
	return cmocka_run_group_tests(tests, tu_scratch_setup, tu_scratch_teardown);
}
