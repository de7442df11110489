/* fetch.c — pack_fetch: one download with libcurl into a temporary file, hashed while it arrives
 * (nettle's SHA-256), compared with the pinned digest, then pack_import. Nothing is written at the
 * destination until the import's own atomic pack_build. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <curl/curl.h>
#include <nettle/sha2.h>

#include "tasks/fetch.h"
#include "tasks/import.h"

/* Digests are pinned only where they could be checked against the publisher's own record: for
 * MATH-500 the git-lfs object id (the SHA-256 of the content) in openai/prm800k. The others are
 * fetched with --sha256 HEX until a digest is pinned here (the error gives the one downloaded). */
static const struct pack_known known[] = {
	{"gsm8k", "gsm8k", "https://raw.githubusercontent.com/openai/grade-school-math/master/grade_school_math/data/test.jsonl",
	 NULL, NULL, NULL, "MIT", "GSM8K test split (1319 problems)"},
	{"math-500", "math", "https://media.githubusercontent.com/media/openai/prm800k/main/prm800k/math_splits/test.jsonl",
	 "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132", NULL, NULL, "MIT",
	 "MATH-500 (PRM800K's test split of MATH)"},
	{"humaneval", "humaneval", "https://github.com/openai/human-eval/raw/master/data/HumanEval.jsonl.gz", NULL, NULL,
	 NULL, "MIT", "HumanEval (164 Python problems)"},
	{"mbpp", "mbpp", "https://raw.githubusercontent.com/google-research/google-research/master/mbpp/mbpp.jsonl", NULL,
	 NULL, NULL, "CC-BY-4.0", "MBPP (all 974 problems; the test split is task ids 11-510)"},
	{"gpqa-diamond", "gpqa", "https://github.com/idavidrein/gpqa/raw/main/dataset.zip", NULL, "gpqa_diamond.csv",
	 "deserted-untouched-panther", "CC-BY-4.0", "GPQA Diamond (198 questions)"},
	{"livecodebench", "livecodebench",
	 "https://huggingface.co/datasets/livecodebench/code_generation_lite/resolve/main/test.jsonl", NULL, NULL, NULL,
	 "see the dataset card", "LiveCodeBench code generation, release v1"},
};

size_t pack_known_count(void)
{
	return sizeof known / sizeof known[0];
}

const struct pack_known *pack_known_at(size_t i)
{
	return i < pack_known_count() ? &known[i] : NULL;
}

const struct pack_known *pack_known_find(const char *name)
{
	for (size_t i = 0; name && i < pack_known_count(); i++)
		if (strcmp(known[i].name, name) == 0)
			return &known[i];
	return NULL;
}

#define FETCH_LIMIT (4ll << 30) /* largest download */

struct sink {
	FILE *f;
	struct sha256_ctx sha;
	int write_failed;
};

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;
	size_t len = size * n;
	if (fwrite(p, 1, len, s->f) != len) {
		s->write_failed = 1;
		return 0;
	}
	sha256_update(&s->sha, len, (const uint8_t *)p);
	return len;
}

static int valid_hex(const char *h)
{
	if (!h || strlen(h) != 64)
		return 0;
	for (const char *p = h; *p; p++)
		if (!strchr("0123456789abcdefABCDEF", *p))
			return 0;
	return 1;
}

static int download(const char *url, const char *path, long timeout_s, char hex[65], struct evh_err *err)
{
	struct sink s = {.f = fopen(path, "wb")};
	if (!s.f)
		return evh_err_fail(err, EVH_EIO, path, "cannot create: %s", strerror(errno));
	sha256_init(&s.sha);
	CURL *h = curl_easy_init();
	if (!h) {
		fclose(s.f);
		return evh_err_fail(err, EVH_ENOMEM, url, "curl_easy_init failed");
	}
	char cerr[CURL_ERROR_SIZE] = "";
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 1L); /* GitHub's raw links redirect to their CDN */
	curl_easy_setopt(h, CURLOPT_MAXREDIRS, 10L);
	curl_easy_setopt(h, CURLOPT_FAILONERROR, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, timeout_s > 0 ? timeout_s : 600L);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)FETCH_LIMIT);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "evalh-pack-fetch");
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &s);
	CURLcode cr = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_cleanup(h);
	int closed_bad = fclose(s.f) != 0;
	if (cr == CURLE_HTTP_RETURNED_ERROR)
		return evh_err_fail(err, EVH_EHTTP, url, "HTTP %ld", status);
	if (cr == CURLE_OPERATION_TIMEDOUT)
		return evh_err_fail(err, EVH_ETIMEOUT, url, "%s", cerr[0] ? cerr : curl_easy_strerror(cr));
	if (s.write_failed || closed_bad)
		return evh_err_fail(err, EVH_EIO, path, "cannot write the download: %s", strerror(errno));
	if (cr == CURLE_FILESIZE_EXCEEDED)
		return evh_err_fail(err, EVH_ELIMIT, url, "larger than %lld GiB", FETCH_LIMIT >> 30);
	if (cr != CURLE_OK)
		return evh_err_fail(err, EVH_ENET, url, "%s", cerr[0] ? cerr : curl_easy_strerror(cr));
	uint8_t d[SHA256_DIGEST_SIZE];
	sha256_digest(&s.sha, sizeof d, d);
	for (size_t i = 0; i < sizeof d; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	return 0;
}

int pack_fetch(const char *name, const char *out_path, const struct pack_fetch_opts *o, struct evh_err *err)
{
	static const struct pack_fetch_opts none;
	if (!o)
		o = &none;
	const struct pack_known *k = pack_known_find(name);
	if (!k) {
		char names[512] = "";
		for (size_t i = 0; i < pack_known_count(); i++) {
			size_t l = strlen(names);
			snprintf(names + l, sizeof names - l, "%s%s", l ? ", " : "", known[i].name);
		}
		return evh_err_fail(err, EVH_ENOTFOUND, name, "no such known benchmark (known: %s)", names);
	}
	if (o->sha256 && !valid_hex(o->sha256))
		return evh_err_fail(err, EVH_EMISUSE, "--sha256", "64 hexadecimal digits are expected");
	const char *want = o->sha256 ? o->sha256 : k->sha256;
	const char *file = strrchr(k->url, '/') + 1;
	const char *base = o->base ? o->base : getenv("EVALH_FETCH_BASE");
	char url[2048];
	if (o->url)
		snprintf(url, sizeof url, "%s", o->url);
	else if (base && base[0])
		snprintf(url, sizeof url, "%s%s%s", base, base[strlen(base) - 1] == '/' ? "" : "/", file);
	else
		snprintf(url, sizeof url, "%s", k->url);

	const char *tmpdir = getenv("TMPDIR");
	char dir[4096], path[4200];
	snprintf(dir, sizeof dir, "%s/evalh-fetch-XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp");
	if (!mkdtemp(dir))
		return evh_err_fail(err, EVH_EIO, dir, "cannot make a temporary folder: %s", strerror(errno));
	snprintf(path, sizeof path, "%s/%s", dir, file);
	char hex[65] = "";
	int rc = download(url, path, o->timeout_s, hex, err);
	if (!rc && !want)
		rc = evh_err_fail(err, EVH_EFORMAT, url, "no sha256 is pinned for %s; the file downloaded has sha256 %s: "
				  "check it against the publisher's and rerun with --sha256 %s", k->name, hex, hex);
	if (!rc && strcasecmp(hex, want) != 0)
		rc = evh_err_fail(err, EVH_EFORMAT, url, "sha256 mismatch: expected %s, got %s (a changed or "
				  "corrupted file: no pack written)", want, hex);
	if (!rc) {
		char source[2300];
		snprintf(source, sizeof source, "%s (sha256 %s)", url, hex);
		struct pack_import_opts io = {.name = o->name ? o->name : k->name, .password = k->password,
					      .member = k->member, .source = source, .license = k->license};
		const char *files[1] = {path};
		rc = pack_import(k->format, files, 1, &io, out_path, err);
	}
	unlink(path);
	rmdir(dir);
	return rc;
}
