/* extract.c — answer extraction from a model response (see extract.h). Rules in the order of issue
 * 3: last \boxed{} (MATH / Qwen2.5-Math convention), "final answer is" (Minerva's "Final Answer: The
 * final answer is $X$. I hope it is correct."), "The answer is", GSM8K's "#### N", "Answer: X",
 * and the last number (the lm-evaluation-harness "flexible-extract" fallback). */
#include "scorers/extract.h"

#include <ctype.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "harness/util/buf.h"
#include "scorers/latex.h"
#include "scorers/rx.h"

const char *scr_strip_think(const char *text, size_t *len)
{
	const char *close = NULL;
	for (const char *p = strstr(text, "</think>"); p; p = strstr(p + 1, "</think>"))
		close = p;
	if (close) {
		close += strlen("</think>");
		*len = strlen(close);
		return close;
	}
	/* An unclosed <think> means the model never left its reasoning: nothing after it is an answer. */
	const char *open = strstr(text, "<think>");
	*len = open ? (size_t)(open - text) : strlen(text);
	return text;
}

/* ---- \boxed{} ---------------------------------------------------------------------------- */

/* A complete box: its content s[start, start + len) and the end of the whole box. */
struct box {
	size_t at, start, len, end;
};

/* Length of "\boxed" / "\fbox" at s[i], 0 when neither. */
static size_t box_cmd(const char *s, size_t n, size_t i)
{
	if (n - i >= 6 && memcmp(s + i, "\\boxed", 6) == 0)
		return 6;
	if (n - i >= 5 && memcmp(s + i, "\\fbox", 5) == 0)
		return 5;
	return 0;
}

/* Every complete box of s[0..n), in the order their commands appear, in one pass: the braces are
 * matched with a stack (escaped \{ \} are literal, as scr_latex_match_brace has it) instead of a
 * scan to the closing brace per box, which made "\boxed{" repeated quadratic (2.7 s for 200 KB).
 * "\boxed 5" (no brace) runs to the next space or math delimiter. Returns the count, or -1 when
 * out of memory. *out is malloc'd. */
static long all_boxes(const char *s, size_t n, struct box **out)
{
	size_t cap = 16, nb = 0, depth = 0, scap = 16;
	struct box *bx = malloc(cap * sizeof *bx);
	long *stack = malloc(scap * sizeof *stack); /* per open brace: its box's index, or -1 */
	if (!bx || !stack)
		goto oom;
	for (size_t i = 0; i < n; i++) {
		long opens = -1;
		if (s[i] == '\\') {
			/* "\\boxed": a box after a line break; any other backslash pair is an escape */
			size_t cl = box_cmd(s, n, i);
			if (!cl && i + 1 < n && s[i + 1] == '\\' && (cl = box_cmd(s, n, i + 1)))
				i++;
			if (!cl) {
				i++;
				continue;
			}
			size_t j = i + cl;
			while (j < n && (s[j] == ' ' || s[j] == '\t'))
				j++;
			int brace = j < n && s[j] == '{';
			size_t k = j;
			if (!brace && j > i + cl) /* "\boxed 5": to the next space or math delimiter */
				while (k < n && s[k] != '$' && s[k] != ' ' && s[k] != '\n' && s[k] != '\\')
					k++;
			if (!brace && k == j)
				continue; /* "\boxedx" is another command, "\boxed $" holds nothing */
			if (nb == cap) {
				struct box *t = realloc(bx, (cap *= 2) * sizeof *bx);
				if (!t)
					goto oom;
				bx = t;
			}
			if (!brace) { /* its text is scanned on for braces, as a brace match would */
				bx[nb++] = (struct box){.at = i, .start = j, .len = k - j, .end = k};
				continue;
			}
			opens = (long)nb; /* complete when its brace closes */
			bx[nb++] = (struct box){.at = i, .start = j + 1, .len = (size_t)-1};
			i = j; /* the brace itself is pushed below */
		}
		if (s[i] == '{') {
			if (depth == scap) {
				long *t = realloc(stack, (scap *= 2) * sizeof *stack);
				if (!t)
					goto oom;
				stack = t;
			}
			stack[depth++] = opens;
		} else if (s[i] == '}' && depth > 0) {
			long k = stack[--depth];
			if (k >= 0) {
				bx[k].len = i - bx[k].start;
				bx[k].end = i + 1;
			}
		}
	}
	/* drop the boxes whose brace never closed */
	size_t w = 0;
	for (size_t k = 0; k < nb; k++)
		if (bx[k].len != (size_t)-1)
			bx[w++] = bx[k];
	free(stack);
	*out = bx;
	return (long)w;
oom:
	free(bx);
	free(stack);
	*out = NULL;
	return -1;
}

const char *scr_extract_boxed(const char *s, size_t n, size_t *blen)
{
	struct box *bx;
	long nb = all_boxes(s, n, &bx);
	const char *best = NULL;
	size_t from = 0;
	/* the last box, not counting boxes inside a box already taken */
	for (long k = 0; k < nb; k++) {
		if (bx[k].at < from)
			continue;
		best = s + bx[k].start;
		*blen = bx[k].len;
		from = bx[k].end;
	}
	free(bx);
	return best;
}

/* All boxes on the last boxed line joined by ", " when they are separated by short connecting text
 * ("x = \boxed{2} or x = \boxed{3}"): a model that boxes each root gives one multi-answer. */
static int boxed_answer(const char *s, size_t n, struct evh_buf *out)
{
	struct box *bx;
	long nb = all_boxes(s, n, &bx);
	if (nb < 0)
		return EVH_ENOMEM;
	size_t from = 0, k = 0, last_end = 0; /* idx[0..k): the run of joined boxes */
	long idx[64];
	for (long b = 0; b < nb; b++) {
		if (bx[b].at < from)
			continue;
		int joined = k > 0 && k < 64 && bx[b].at - last_end <= 24 &&
			     !memchr(s + last_end, '\n', bx[b].at - last_end);
		if (!joined)
			k = 0;
		if (k < 64)
			idx[k++] = b;
		last_end = from = bx[b].end;
	}
	int rc = EVH_OK;
	for (size_t i = 0; i < k && !rc; i++) {
		rc = evh_buf_add(out, s + bx[idx[i]].start, bx[idx[i]].len);
		if (!rc && i + 1 < k)
			rc = evh_buf_adds(out, ", ");
	}
	free(bx);
	return rc;
}

/* ---- phrase rules (PCRE2) -------------------------------------------------------------- */

enum { RX_FINAL, RX_ANSWER_IS, RX_GSM8K, RX_ANSWER_COLON, RX_NUMBER, RX_N };

static const char *const rx_src[RX_N] = {
	[RX_FINAL] = "\\bfinal\\s+answer\\s*(?:is\\b|:|=)[\\s:]*",
	[RX_ANSWER_IS] = "\\banswer\\s+is\\b[\\s:]*",
	[RX_GSM8K] = "####\\s*",
	[RX_ANSWER_COLON] = "\\banswer\\s*:\\s*",
	/* not glued to a word before it ("AZYUK2A" holds no answer; "5cm" after a number is fine);
	 * ".4" is a number */
	[RX_NUMBER] = "(?<![A-Za-z])-?(?:\\d+ \\d+/\\d+|\\d+(?:,\\d{3})*(?:\\.\\d+)?|\\.\\d+)(?:/\\d+)?"
		       "(?:\\s*(?:\\\\?%|percentage\\b|percent\\b|pct\\b))?", /* the percent is the number's */
};
static pcre2_code *rx[RX_N];
static pthread_once_t rx_once = PTHREAD_ONCE_INIT;
static int rx_failed;

static void rx_compile(void)
{
	static const uint32_t opt[RX_N] = {
		[RX_FINAL] = PCRE2_CASELESS | PCRE2_UTF,
		[RX_ANSWER_IS] = PCRE2_CASELESS | PCRE2_UTF,
		[RX_GSM8K] = PCRE2_CASELESS | PCRE2_UTF,
		[RX_ANSWER_COLON] = PCRE2_CASELESS | PCRE2_UTF,
		[RX_NUMBER] = PCRE2_CASELESS,
	};
	rx_failed = scr_rx_compile(rx_src, opt, RX_N, rx) != 0;
}

/* The answer text after a trigger phrase at s[i]: a $...$ / \(...\) / \[...\] span when it opens
 * with one, else up to the end of the line or of the sentence (a '.' followed by a space or the
 * end, which a decimal point never is). Trimmed; *len 0 when empty. */
static const char *take_span(const char *s, size_t n, size_t i, size_t *len)
{
	while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '*' || s[i] == ':'))
		i++;
	static const char *const delim[][2] = {{"$$", "$$"}, {"$", "$"}, {"\\(", "\\)"}, {"\\[", "\\]"}};
	for (size_t d = 0; d < 4; d++) {
		size_t ol = strlen(delim[d][0]);
		if (n - i >= ol && memcmp(s + i, delim[d][0], ol) == 0) {
			const char *e = memmem(s + i + ol, n - i - ol, delim[d][1], strlen(delim[d][1]));
			if (e) {
				*len = (size_t)(e - (s + i + ol));
				return s + i + ol;
			}
			break;
		}
	}
	size_t j = i;
	while (j < n && s[j] != '\n') {
		if (s[j] == '.' && (j + 1 == n || s[j + 1] == ' ' || s[j + 1] == '\n' || s[j + 1] == '\t'))
			break;
		j++;
	}
	while (j > i && (s[j - 1] == ' ' || s[j - 1] == '\t' || s[j - 1] == '\r' || s[j - 1] == '*' ||
			 s[j - 1] == '.' || s[j - 1] == '$'))
		j--;
	*len = j - i;
	return s + i;
}

/* Last match of pattern `k` whose following span is non-empty; NULL when none. The spans are
 * taken from the last match backwards, because a span runs to the end of its line and taking one
 * per match made "answer: x answer: x ..." on one line quadratic (4 s for 200 KB); the last 256
 * matches are kept, and a response whose last 256 all end at once holds no answer there. */
static const char *last_phrase(int k, const char *s, size_t n, pcre2_match_data *md, size_t *len)
{
	enum { KEEP = 256 };
	size_t ends[KEEP], count = 0;
	PCRE2_SIZE off = 0;
	/* The subject's UTF-8 is checked by the first call only: PCRE2 checks it all on every call,
	 * which over a loop of matches is quadratic. */
	while (off <= n && pcre2_match(rx[k], (PCRE2_SPTR)s, n, off, off ? PCRE2_NO_UTF_CHECK : 0, md, NULL) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		ends[count++ % KEEP] = ov[1];
		off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
	}
	for (size_t m = 0; m < count && m < KEEP; m++) {
		size_t l;
		const char *p = take_span(s, n, ends[(count - 1 - m) % KEEP], &l);
		if (l > 0) {
			*len = l;
			return p;
		}
	}
	return NULL;
}

/* The content of the last complete math span: $$...$$, \[...\], \(...\), or $...$ on one line
 * whose closing '$' is not followed by a digit ("costs $5 and $10" is money, not math; pandoc's
 * rule). An escaped \$ is no delimiter. Trimmed; NULL when none holds anything. A response that
 * ends "... so $x = \frac{1}{3}$." states its answer there, and the last number ("3") is not it. */
static const char *last_latex(const char *s, size_t n, size_t *len)
{
	const char *best = NULL;
	/* A closer not found after one opener is not after any later one either: each kind is
	 * searched for to the end at most once, so hostile text cannot make this quadratic. */
	int none_paren = 0, none_bracket = 0, none_dollars = 0;
	for (size_t i = 0; i < n;) {
		const char *close = NULL;
		size_t ol = 0, cl = 0;
		if (s[i] == '\\' && i + 1 < n && (s[i + 1] == '(' || s[i + 1] == '[')) {
			int *none = s[i + 1] == '(' ? &none_paren : &none_bracket;
			ol = cl = 2;
			if (!*none && !(close = memmem(s + i + 2, n - i - 2, s[i + 1] == '(' ? "\\)" : "\\]", 2)))
				*none = 1;
		} else if (s[i] == '\\') {
			i += 2; /* \$ and any other escape */
			continue;
		} else if (s[i] == '$' && i + 1 < n && s[i + 1] == '$') {
			ol = cl = 2;
			if (!none_dollars && !(close = memmem(s + i + 2, n - i - 2, "$$", 2)))
				none_dollars = 1;
		} else if (s[i] == '$') {
			ol = cl = 1;
			for (size_t j = i + 1; j < n && s[j] != '\n'; j++) {
				if (s[j] == '\\') {
					j++;
					continue;
				}
				if (s[j] == '$') {
					if (j + 1 < n && isdigit((unsigned char)s[j + 1]))
						break;
					close = s + j;
					break;
				}
			}
		} else {
			i++;
			continue;
		}
		if (!close) {
			i += ol;
			continue;
		}
		const char *a = s + i + ol, *e = close;
		while (a < e && isspace((unsigned char)*a))
			a++;
		while (e > a && isspace((unsigned char)e[-1]))
			e--;
		/* one closing '.' or ',' of the sentence, never the "..." of a sequence */
		if (e > a && (e[-1] == ',' || (e[-1] == '.' && (e - a < 2 || e[-2] != '.'))))
			e--;
		while (e > a && isspace((unsigned char)e[-1]))
			e--;
		if (e > a) {
			best = a;
			*len = (size_t)(e - a);
		}
		i = (size_t)(close - s) + cl;
	}
	return best;
}

static const char *last_number(const char *s, size_t n, pcre2_match_data *md, size_t *len)
{
	const char *best = NULL;
	PCRE2_SIZE off = 0;
	while (off <= n && pcre2_match(rx[RX_NUMBER], (PCRE2_SPTR)s, n, off, 0, md, NULL) >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		size_t a = ov[0];
		/* "5-3": the '-' is an operator, not a sign. */
		if (s[a] == '-' && a > 0 && (s[a - 1] == ')' || isalnum((unsigned char)s[a - 1])))
			a++;
		best = s + a;
		*len = ov[1] - a;
		off = ov[1];
	}
	return best;
}

/* Two plain words in a row ("The largest $n$ is 34"): a sentence, not an answer. */
static int sentence_like(const char *s, size_t n)
{
	int run = 0;
	for (size_t i = 0; i < n;) {
		while (i < n && isspace((unsigned char)s[i]))
			i++;
		size_t a = i;
		while (i < n && !isspace((unsigned char)s[i]))
			i++;
		/* a word, once brackets and punctuation around it are off ("seven}." is one; a
		 * command "\text{We" is none) */
		size_t e = i;
		while (a < e && strchr("{([\"'", s[a]))
			a++;
		while (e > a && strchr("})]\"'.,;:!?", s[e - 1]))
			e--;
		int alpha = e - a >= 2;
		for (size_t k = a; k < e && alpha; k++)
			alpha = isalpha((unsigned char)s[k]) != 0;
		run = alpha ? run + 1 : 0;
		if (run >= 2)
			return 1;
	}
	return 0;
}

/* The last math span of s[0..n), or a number stated after it ("... $d = \frac{90}{n}$ ... so
 * there are 12 sequences": the later statement; Math-Verify also takes the last match by
 * position) when `numbers`; *is_num says which. NULL when s holds no span. */
static const char *span_or_later_number(const char *s, size_t n, int numbers, pcre2_match_data *md, size_t *len,
					int *is_num)
{
	size_t nl;
	const char *l = last_latex(s, n, len), *num = l && numbers ? last_number(s, n, md, &nl) : NULL;
	*is_num = num && num > l + *len;
	if (*is_num) {
		*len = nl;
		return num;
	}
	return l;
}

/* A phrase rule's span that is a sentence gives the answer it states: its last math span or a
 * number after that, else its last number ("Final Answer: The largest $n$ is 34." is 34). Keeps
 * the span when it holds neither. */
static void reduce_sentence(const char **p, size_t *len, const char *end, pcre2_match_data *md)
{
	if (!sentence_like(*p, *len))
		return;
	size_t l, w = *len;
	int is_num;
	while (*p + w < end && (*p)[w] == '$' && w < *len + 2) /* the span's closing '$' take_span cut */
		w++;
	const char *r = span_or_later_number(*p, w, 1, md, &l, &is_num);
	if (!r)
		r = last_number(*p, *len, md, &l);
	if (r) {
		*p = r;
		*len = l;
	}
}

/* A response that is nothing but a LaTeX expression ("\frac{10}{9}", "-\sqrt{2}"): the whole of it. */
static const char *bare_latex(const char *s, size_t n, size_t *len)
{
	while (n > 0 && isspace((unsigned char)*s))
		s++, n--;
	while (n > 0 && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '.'))
		n--;
	size_t k = n > 0 && s[0] == '-' ? 1 : 0;
	if (n == 0 || n > 200 || k >= n || s[k] != '\\' || !isalpha((unsigned char)(k + 1 < n ? s[k + 1] : 0)) ||
	    memchr(s, '$', n) || memchr(s, '\n', n) || sentence_like(s, n))
		return NULL;
	int depth = 0; /* balanced braces: "\boxed{unbalanced" is a broken box, not an answer */
	for (size_t i = 0; i < n && depth >= 0; i++)
		depth += s[i] == '{' ? 1 : s[i] == '}' ? -1 : 0;
	if (depth != 0)
		return NULL;
	*len = n;
	return s;
}

int scr_extract_answer(const char *text, int flags, char **out, const char **rule, struct evh_err *err)
{
	*out = NULL;
	*rule = NULL;
	size_t n;
	const char *s = scr_strip_think(text, &n);
	pthread_once(&rx_once, rx_compile);
	if (rx_failed)
		return evh_err_fail(err, EVH_EINTERNAL, "scorers/extract", "answer patterns failed to compile");

	struct evh_buf b;
	evh_buf_init(&b, n + 256);
	int rc = EVH_OK;
	const char *found = NULL;
	size_t len = 0;
	if (flags & SCR_EX_BOXED) {
		rc = boxed_answer(s, n, &b);
		if (rc)
			goto fail;
		if (b.len > 0) {
			*rule = "boxed";
			goto done;
		}
	}
	pcre2_match_data *md = pcre2_match_data_create(4, NULL);
	if (!md) {
		rc = EVH_ENOMEM;
		goto fail;
	}
	static const struct {
		int flag, rx;
		const char *name;
	} phrases[] = {
		{SCR_EX_FINAL, RX_FINAL, "final_answer"},
		{SCR_EX_ANSWER_IS, RX_ANSWER_IS, "answer_is"},
		{SCR_EX_GSM8K, RX_GSM8K, "gsm8k"},
		{SCR_EX_ANSWER_COLON, RX_ANSWER_COLON, "answer_colon"},
	};
	for (size_t i = 0; i < sizeof phrases / sizeof phrases[0] && !found; i++)
		if ((flags & phrases[i].flag) && (found = last_phrase(phrases[i].rx, s, n, md, &len)))
			*rule = phrases[i].name;
	if (found)
		reduce_sentence(&found, &len, s + n, md);
	int is_num = 0;
	if (!found && (flags & SCR_EX_LATEX) &&
	    (found = span_or_later_number(s, n, flags & SCR_EX_LAST_NUMBER, md, &len, &is_num)))
		*rule = is_num ? "last_number" : "latex";
	if (!found && (flags & SCR_EX_LATEX) && (found = bare_latex(s, n, &len)))
		*rule = "latex";
	if (!found && (flags & SCR_EX_LAST_NUMBER) && (found = last_number(s, n, md, &len)))
		*rule = "last_number";
	pcre2_match_data_free(md);
	if (!found && (flags & SCR_EX_WHOLE)) {
		size_t a = 0, e = n;
		while (a < e && (s[a] == ' ' || s[a] == '\n' || s[a] == '\t' || s[a] == '\r'))
			a++;
		while (e > a && (s[e - 1] == ' ' || s[e - 1] == '\n' || s[e - 1] == '\t' || s[e - 1] == '\r'))
			e--;
		if (e > a) {
			found = s + a;
			len = e - a;
			*rule = "whole";
		}
	}
	if (!found)
		goto done;
	rc = evh_buf_add(&b, found, len);
	if (rc)
		goto fail;
done:
	if (*rule) {
		*out = evh_buf_take(&b);
		if (!*out) {
			rc = EVH_ENOMEM;
			goto fail;
		}
	}
	evh_buf_free(&b);
	return EVH_OK;
fail:
	evh_buf_free(&b);
	*rule = NULL;
	return evh_err_fail(err, rc, "scorers/extract", "answer extraction: %s", evh_strerror(rc));
}
