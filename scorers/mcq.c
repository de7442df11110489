/* mcq.c — multiple-choice letter extraction (see mcq.h). Rules, first that fires: an "answer is" /
 * "Answer:" phrase followed by a letter (the GPQA and MMLU-Pro prompts ask for "Answer: X" / "The
 * answer is (X)"), \boxed{X}, a reply that is only a letter, an option's own text on the last line,
 * then the last marked letter "**X**" / "(X)". */
#include "scorers/mcq.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/extract.h"
#include "scorers/rx.h"

enum { RX_PHRASE, RX_BARE, RX_MARKED, RX_N };
static const char *const rx_src[RX_N] = {
	/* "Answer: C", "The correct answer is (C)", "answer is option **C**", "Answer: \boxed{C}" */
	[RX_PHRASE] = "(?i:answer|option|choice)\\s*(?i:is|:|=)?\\s*(?i:option|choice|letter)?[\\s:]*"
		      "[*(\\[{$]*\\s*(?:\\\\(?:boxed|text|textbf)\\{)?\\(?([A-J])(?![A-Za-z0-9])",
	[RX_BARE] = "\\A[\\s*]*\\(?([A-J])(?:[).:*]|\\s*\\z)",
	[RX_MARKED] = "\\*\\*\\(?([A-J])\\)?\\*\\*|\\(([A-J])\\)",
};
static pcre2_code *rx[RX_N];
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;
static int rx_failed;

static void rx_compile(void)
{
	static const uint32_t opt[RX_N] = {PCRE2_UTF, PCRE2_UTF, PCRE2_UTF};
	rx_failed = scr_rx_compile(rx_src, opt, RX_N, rx) != 0;
}

/* Letter of the last match of rule k, -1 when none. */
static int last_letter(int k, const char *s, size_t n, pcre2_match_data *md, int max)
{
	int best = -1;
	PCRE2_SIZE off = 0;
	/* UTF-8 checked by the first call only (PCRE2 checks the whole subject on each call) */
	while (off <= n && pcre2_match(rx[k], (PCRE2_SPTR)s, n, off, off ? PCRE2_NO_UTF_CHECK : 0, md, NULL) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		uint32_t pairs = pcre2_get_ovector_count(md);
		for (uint32_t g = 1; g < pairs; g++)
			if (ov[2 * g] != PCRE2_UNSET) {
				int l = s[ov[2 * g]] - 'A';
				if (l < max)
					best = l;
				break;
			}
		off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	return best;
}

/* Compares option text loosely: case-free, punctuation and spaces ignored. */
static int loose_eq(const char *a, size_t an, const char *b)
{
	size_t i = 0;
	for (;;) {
		while (i < an && !isalnum((unsigned char)a[i]))
			i++;
		while (*b && !isalnum((unsigned char)*b))
			b++;
		if (i == an || !*b)
			return i == an && !*b;
		if (tolower((unsigned char)a[i]) != tolower((unsigned char)*b))
			return 0;
		i++;
		b++;
	}
}

int scr_mcq_gold(const char *answer, const char *const *choices, size_t n_choices)
{
	if (!answer)
		return -1;
	size_t max = n_choices ? n_choices : SCR_MCQ_MAX;
	const char *p = answer;
	while (isspace((unsigned char)*p) || *p == '(')
		p++;
	int l = toupper((unsigned char)*p) - 'A';
	const char *q = *p ? p + 1 : p; /* "" or "(": no letter, and nothing to read past the end */
	while (*q == ')' || *q == '.' || isspace((unsigned char)*q))
		q++;
	if (l >= 0 && (size_t)l < max && !*q && isalpha((unsigned char)*p))
		return l;
	for (size_t k = 0; k < n_choices; k++)
		if (choices[k] && loose_eq(answer, strlen(answer), choices[k]))
			return (int)k;
	return -1;
}

int scr_mcq_letter(const char *text, const char *const *choices, size_t n_choices, int *letter,
		   const char **rule, struct evh_err *err)
{
	*letter = -1;
	*rule = NULL;
	pthread_once(&rx_once, rx_compile);
	if (rx_failed)
		return evh_err_fail(err, EVH_EINTERNAL, "scorers/mcq", "letter patterns failed to compile");
	size_t n;
	const char *s = scr_strip_think(text, &n);
	int max = n_choices && n_choices < SCR_MCQ_MAX ? (int)n_choices : SCR_MCQ_MAX;
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	if (!md)
		return evh_err_fail(err, EVH_ENOMEM, "scorers/mcq", "out of memory");
	int l = last_letter(RX_PHRASE, s, n, md, max);
	if (l >= 0) {
		*rule = "answer_letter";
		goto done;
	}
	size_t bl;
	const char *b = scr_extract_boxed(s, n, &bl);
	if (b) {
		/* \boxed{C}, \boxed{(C)}, \boxed{\text{C}} */
		size_t i = 0, e = bl;
		while (i < e && (b[i] == '(' || b[i] == ' ' || b[i] == '{'))
			i++;
		if (e - i >= 5 && memcmp(b + i, "\\text", 5) == 0)
			for (i += 5; i < e && (b[i] == '{' || b[i] == '(' || b[i] == ' ');)
				i++;
		while (e > i && (b[e - 1] == ')' || b[e - 1] == ' ' || b[e - 1] == '}' || b[e - 1] == '.'))
			e--;
		if (e == i + 1 && b[i] >= 'A' && b[i] - 'A' < max) {
			l = b[i] - 'A';
			*rule = "boxed";
			goto done;
		}
	}
	l = last_letter(RX_BARE, s, n, md, max);
	if (l >= 0) {
		*rule = "bare_letter";
		goto done;
	}
	if (choices && n_choices) {
		/* the last non-empty line is one option's text */
		size_t e = n;
		while (e > 0 && isspace((unsigned char)s[e - 1]))
			e--;
		size_t a = e;
		while (a > 0 && s[a - 1] != '\n')
			a--;
		int hit = -1, hits = 0;
		for (size_t k = 0; k < n_choices && (int)k < max; k++)
			if (choices[k] && loose_eq(s + a, e - a, choices[k]))
				hit = (int)k, hits++;
		if (hits == 1) {
			l = hit;
			*rule = "option_text";
			goto done;
		}
	}
	l = last_letter(RX_MARKED, s, n, md, max);
	if (l >= 0)
		*rule = "marked_letter";
done:
	pcre2_match_data_free(md);
	*letter = l;
	return EVH_OK;
}

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

void scr_mcq_shuffle(uint64_t seed, size_t n, int *perm)
{
	for (size_t i = 0; i < n; i++)
		perm[i] = (int)i;
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)(splitmix64(&seed) % i);
		int t = perm[i - 1];
		perm[i - 1] = perm[j];
		perm[j] = t;
	}
}
