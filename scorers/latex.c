/* latex.c — answer normalisation before parsing (see latex.h). Three passes, each a plain scan:
 * characters (unicode, delimiters, %, $), commands (\left, \text{}, \dfrac, spacing, ^\circ),
 * then words and numbers (thousands separators, "or"/"and", trailing units and punctuation).
 * The rules follow what MATH / Qwen2.5-Math's strip_string and Math-Verify's normaliser remove. */
#include "scorers/latex.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "harness/util/buf.h"

static const char *const units[] = {
	"cm", "mm", "km", "m", "meter", "meters", "metre", "metres", "centimeter", "centimeters",
	"millimeter", "millimeters", "kilometer", "kilometers", "inch", "inches", "foot", "feet", "ft",
	"yard", "yards", "yd", "mile", "miles", "mph", "kmh", "kg", "g", "mg", "gram", "grams",
	"kilogram", "kilograms", "pound", "pounds", "lb", "lbs", "ounce", "ounces", "oz", "ton", "tons",
	"liter", "liters", "litre", "litres", "ml", "gallon", "gallons", "cup", "cups", "second",
	"seconds", "s", "h", "sec", "secs", "minute", "minutes", "min", "mins", "hour", "hours", "hr", "hrs", "day",
	"days", "week", "weeks", "month", "months", "year", "years", "dollar", "dollars", "cent", "cents",
	"euro", "euros", "degree", "degrees", "unit", "units", "square", "sq", "cubic", "per", "percent",
	"percentage", "pct", "radian", "radians", "rad", "mps", "people", "students", "times",
};

int scr_latex_is_unit(const char *w, size_t n)
{
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
		if (strlen(units[i]) == n && strncasecmp(units[i], w, n) == 0)
			return 1;
	return 0;
}

static int unit_flag(const char *w, size_t n)
{
	if ((n == 7 && strncasecmp(w, "percent", 7) == 0) || (n == 10 && strncasecmp(w, "percentage", 10) == 0) ||
	    (n == 3 && strncasecmp(w, "pct", 3) == 0))
		return SCR_NORM_PERCENT;
	if (n >= 6 && strncasecmp(w, "degree", 6) == 0)
		return SCR_NORM_DEGREE;
	if (n >= 4 && (strncasecmp(w, "cent", 4) == 0 || strncasecmp(w, "doll", 4) == 0))
		return SCR_NORM_CURRENCY;
	return SCR_NORM_UNIT;
}

/* 1 when s[0..n) is nothing but units: words of the list, "/", "^2", spaces ("square units",
 * "m/s", "cm^2", " meters"). Adds the matching flag. */
static int only_units(const char *s, size_t n, int *flags)
{
	size_t i = 0;
	int words = 0, f = 0;
	while (i < n) {
		if (isspace((unsigned char)s[i]) || s[i] == '/' || s[i] == '.' || s[i] == '{' || s[i] == '}') {
			i++;
			continue;
		}
		if (s[i] == '^') {
			i++;
			while (i < n && (isdigit((unsigned char)s[i]) || s[i] == '{' || s[i] == '}'))
				i++;
			continue;
		}
		size_t j = i;
		while (j < n && isalpha((unsigned char)s[j]))
			j++;
		if (j == i || !scr_latex_is_unit(s + i, j - i))
			return 0;
		f |= unit_flag(s + i, j - i);
		words++;
		i = j;
	}
	if (words)
		*flags |= f;
	return words > 0;
}

/* ---- pass 1: characters ---------------------------------------------------------------- */

static const struct {
	const char *from, *to;
	int flag;
} uni[] = {
	{"\xe2\x88\x92", "-", 0},        /* U+2212 minus */
	{"\xe2\x80\x93", "-", 0},        /* en dash */
	{"\xc3\x97", "\\times ", 0},     /* × */
	{"\xc2\xb7", "\\cdot ", 0},      /* · */
	{"\xe2\x8b\x85", "\\cdot ", 0},  /* ⋅ */
	{"\xc3\xb7", "\\div ", 0},       /* ÷ */
	{"\xe2\x88\x9a", "\\sqrt ", 0},  /* √ */
	{"\xcf\x80", "\\pi ", 0},        /* π */
	{"\xe2\x88\x9e", "\\infty ", 0}, /* ∞ */
	{"\xc2\xb0", "", SCR_NORM_DEGREE},
	{"\xe2\x89\xa4", "\\le ", 0},    /* ≤ */
	{"\xe2\x89\xa5", "\\ge ", 0},    /* ≥ */
	{"\xe2\x89\xa0", "\\ne ", 0},    /* ≠ */
	{"\xc2\xb1", "\\pm ", 0},        /* ± */
	{"\xe2\x88\xaa", "\\cup ", 0},   /* ∪ */
	{"\xe2\x88\x88", "\\in ", 0},    /* ∈ */
	{"\xe2\x88\x85", "\\emptyset ", 0},
	{"\xc2\xa0", " ", 0},            /* no-break space */
	{"\xe2\x80\x89", " ", 0},        /* thin space */
	{"\xe2\x80\xaf", " ", 0},        /* narrow no-break space */
	{"\xe2\x82\xac", "", SCR_NORM_CURRENCY}, /* € */
	{"\xc2\xa3", "", SCR_NORM_CURRENCY},     /* £ */
};

static int pass_chars(const char *s, size_t n, struct evh_buf *o, int *flags)
{
	int rc = EVH_OK;
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x80) {
			size_t k;
			for (k = 0; k < sizeof uni / sizeof uni[0]; k++) {
				size_t l = strlen(uni[k].from);
				if (n - i >= l && memcmp(s + i, uni[k].from, l) == 0) {
					rc = evh_buf_adds(o, uni[k].to);
					*flags |= uni[k].flag;
					i += l - 1;
					break;
				}
			}
			if (k == sizeof uni / sizeof uni[0])
				rc = evh_buf_add(o, s + i, 1);
			continue;
		}
		if (c == '$') /* math delimiter or currency: neither is part of the value */
			continue;
		if (c == '%') {
			*flags |= SCR_NORM_PERCENT;
			continue;
		}
		if (c == '\n' || c == '\t' || c == '\r' || c == '~') {
			rc = evh_buf_add(o, " ", 1);
			continue;
		}
		if (c == '\\' && i + 1 < n) {
			char d = s[i + 1];
			if (d == '(' || d == ')' || d == '[' || d == ']' || d == ',' || d == '!' || d == ';' ||
			    d == ':') {
				i++; /* display delimiters and thin spaces */
				/* "32,\! 349": the space after a separator's \! is no list's */
				if (d == '!' && o->len >= 2 && o->data[o->len - 1] == ',' &&
				    isdigit((unsigned char)o->data[o->len - 2]))
					while (i + 1 < n && s[i + 1] == ' ')
						i++;
				continue;
			}
			if (d == '$' || d == '%') {
				*flags |= d == '$' ? SCR_NORM_CURRENCY : SCR_NORM_PERCENT;
				i++;
				continue;
			}
			if (d == ' ') {
				rc = evh_buf_add(o, " ", 1);
				i++;
				continue;
			}
			rc = evh_buf_add(o, s + i, 2); /* keeps "\\", "\{", "\}" whole */
			i++;
			continue;
		}
		rc = evh_buf_add(o, s + i, 1);
	}
	return rc;
}

/* ---- pass 2: commands ------------------------------------------------------------------ */

static const char *const dropped[] = {
	"left", "right", "bigl", "bigr", "Bigl", "Bigr", "big", "Big", "bigg", "Bigg", "biggl", "biggr",
	"displaystyle", "textstyle", "scriptstyle", "limits", "nolimits", "mathstrut", "middle",
};
static const char *const unwrapped[] = {
	"text", "textbf", "textit", "textrm", "textsf", "texttt", "textnormal", "mathrm", "mathbf",
	"mathit", "mathsf", "mathtt", "mbox", "hbox", "boldsymbol", "bm", "emph", "boxed", "fbox",
	"mathbf", "textup",
};
static const struct {
	const char *from, *to;
	int flag;
} renamed[] = {
	{"dfrac", "\\frac", 0}, {"tfrac", "\\frac", 0}, {"cfrac", "\\frac", 0}, {"dbinom", "\\binom", 0},
	{"tbinom", "\\binom", 0}, {"leq", "\\le", 0}, {"leqslant", "\\le", 0}, {"geq", "\\ge", 0},
	{"geqslant", "\\ge", 0}, {"neq", "\\ne", 0}, {"lt", "<", 0}, {"gt", ">", 0}, {"lvert", "|", 0},
	{"rvert", "|", 0}, {"vert", "|", 0}, {"lbrace", "\\{", 0}, {"rbrace", "\\}", 0},
	{"quad", " ", 0}, {"qquad", " ", 0}, {"degree", "", SCR_NORM_DEGREE},
	{"circ", "", SCR_NORM_DEGREE}, {"infin", "\\infty", 0}, {"varnothing", "\\emptyset", 0},
	{"colon", ":", 0}, {"cdotp", "\\cdot", 0}, {"ast", "*", 0}, {"lparen", "(", 0},
	{"rparen", ")", 0}, {"land", ",", 0}, {"lor", ",", 0}, {"dots", "", 0}, {"ldots", "", 0},
	{"cdots", "", 0}, {"operatorname", "", 0}, {"mathbb", "\\mathbb", 0},
};

static int in_list(const char *name, size_t n, const char *const *list, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (strlen(list[i]) == n && memcmp(list[i], name, n) == 0)
			return 1;
	return 0;
}

size_t scr_latex_match_brace(const char *s, size_t n, size_t i)
{
	size_t depth = 0;
	for (; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n) {
			i++; /* \{ \} are literal braces in LaTeX, not grouping */
			continue;
		}
		if (s[i] == '{')
			depth++;
		else if (s[i] == '}' && --depth == 0)
			return i;
	}
	return n;
}

/* Length of "{,}" at s[i], spaces allowed inside ("{, }"); 0 when there is none. */
static size_t brace_comma(const char *s, size_t n, size_t i)
{
	size_t j = i + 1;
	while (j < n && s[j] == ' ')
		j++;
	if (j >= n || s[j] != ',')
		return 0;
	for (j++; j < n && s[j] == ' '; j++)
		;
	return j < n && s[j] == '}' ? j + 1 - i : 0;
}

static int trimmed_is(const char *s, size_t n, const char *word)
{
	while (n && isspace((unsigned char)*s))
		s++, n--;
	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	return n == strlen(word) && strncasecmp(s, word, n) == 0;
}

/* Skips "^2", "^{3}" after a dropped unit ("\text{cm}^2"). */
static size_t skip_unit_power(const char *s, size_t n, size_t i)
{
	if (i < n && s[i] == '^') {
		if (i + 1 < n && isdigit((unsigned char)s[i + 1]))
			return i + 2;
		if (i + 3 < n && s[i + 1] == '{' && isdigit((unsigned char)s[i + 2]) && s[i + 3] == '}')
			return i + 4;
	}
	return i;
}

static int pass_commands(const char *s, size_t n, struct evh_buf *o, int *flags, struct evh_err *err)
{
	size_t closes[SCR_LIMIT_DEPTH]; /* '}' of unwrapped commands, innermost last */
	size_t nclose = 0;
	int rc = EVH_OK;
	size_t i = 0;
	while (i < n && !rc) {
		if (nclose && i == closes[nclose - 1]) {
			nclose--;
			i++;
			continue;
		}
		char c = s[i];
		if (c == '^') {
			/* ^\circ, ^{\circ}: degrees */
			size_t j = i + 1;
			while (j < n && s[j] == ' ')
				j++;
			if (n - j >= 5 && memcmp(s + j, "\\circ", 5) == 0 && (j + 5 == n || !isalpha((unsigned char)s[j + 5]))) {
				*flags |= SCR_NORM_DEGREE;
				i = j + 5;
				continue;
			}
			if (n - j >= 7 && memcmp(s + j, "{\\circ}", 7) == 0) {
				*flags |= SCR_NORM_DEGREE;
				i = j + 7;
				continue;
			}
		}
		/* A thousands separator between digits: 1{,}000, 14 {, }916 (only before exactly three
		 * digits). */
		size_t sep = c == '{' ? brace_comma(s, n, i) : 0;
		if (sep) {
			size_t j = i + sep;
			while (j < n && s[j] == ' ')
				j++;
			size_t back = o->len;
			while (back > 0 && o->data[back - 1] == ' ')
				back--;
			if (n - j >= 3 && isdigit((unsigned char)s[j]) && isdigit((unsigned char)s[j + 1]) &&
			    isdigit((unsigned char)s[j + 2]) && (n - j == 3 || !isdigit((unsigned char)s[j + 3])) &&
			    back > 0 && isdigit((unsigned char)o->data[back - 1])) {
				o->len = back;
				o->data[back] = 0;
				i = j;
				continue;
			}
			if (sep == 3) { /* a bare {,} stays what it was: dropped */
				i += 3;
				continue;
			}
		}
		if (c != '\\' || i + 1 >= n || !isalpha((unsigned char)s[i + 1])) {
			if (c == '\\' && i + 1 < n) {
				rc = evh_buf_add(o, s + i, 2);
				i += 2;
				continue;
			}
			rc = evh_buf_add(o, s + i, 1);
			i++;
			continue;
		}
		size_t a = i + 1, e = a;
		while (e < n && isalpha((unsigned char)s[e]))
			e++;
		const char *name = s + a;
		size_t nl = e - a;
		if (in_list(name, nl, dropped, sizeof dropped / sizeof dropped[0])) {
			i = e;
			if (i < n && s[i] == '.' && (nl == 4 || nl == 5))
				i++; /* \left. and \right. are invisible delimiters */
			continue;
		}
		size_t k;
		for (k = 0; k < sizeof renamed / sizeof renamed[0]; k++)
			if (strlen(renamed[k].from) == nl && memcmp(renamed[k].from, name, nl) == 0)
				break;
		if (k < sizeof renamed / sizeof renamed[0]) {
			rc = evh_buf_adds(o, renamed[k].to);
			*flags |= renamed[k].flag;
			/* a renamed command must not fuse with the letters after it: "\le x", not "\lex" */
			if (!rc && renamed[k].to[0] == '\\' && e < n && isalpha((unsigned char)s[e]))
				rc = evh_buf_add(o, " ", 1);
			i = e;
			continue;
		}
		if (in_list(name, nl, unwrapped, sizeof unwrapped / sizeof unwrapped[0])) {
			size_t j = e;
			while (j < n && s[j] == ' ')
				j++;
			if (j < n && s[j] == '{') {
				size_t m = scr_latex_match_brace(s, n, j);
				if (m >= n) { /* unbalanced: drop the command, keep the rest */
					i = j + 1;
					continue;
				}
				if (only_units(s + j + 1, m - j - 1, flags)) {
					i = skip_unit_power(s, n, m + 1);
					continue;
				}
				if (trimmed_is(s + j + 1, m - j - 1, "or") || trimmed_is(s + j + 1, m - j - 1, "and")) {
					rc = evh_buf_add(o, ",", 1);
					i = m + 1;
					continue;
				}
				if (nclose == SCR_LIMIT_DEPTH)
					return evh_err_fail(err, EVH_ELIMIT, "answer", "\\text{} nested deeper than %d",
							    SCR_LIMIT_DEPTH);
				closes[nclose++] = m;
				rc = evh_buf_add(o, " ", 1); /* "5\text{cm}" keeps the words apart */
				i = j + 1;
				continue;
			}
			i = e; /* "\boxed 5" */
			continue;
		}
		rc = evh_buf_add(o, s + i, e - i);
		i = e;
	}
	return rc;
}

/* ---- pass 3: words and numbers --------------------------------------------------------- */

/* Removes thousands separators outside brackets: "1,234,567.5" but not "(1,234)" or "1, 234". */
static int pass_numbers(const char *s, size_t n, struct evh_buf *o, struct evh_err *err)
{
	int depth = 0, rc = EVH_OK;
	size_t i = 0;
	while (i < n && !rc) {
		char c = s[i];
		if (c == '(' || c == '[' || c == '{') {
			if (++depth > SCR_LIMIT_DEPTH)
				return evh_err_fail(err, EVH_ELIMIT, "answer", "brackets nested deeper than %d",
						    SCR_LIMIT_DEPTH);
		} else if ((c == ')' || c == ']' || c == '}') && depth > 0) {
			depth--;
		}
		int starts = isdigit((unsigned char)c) &&
			     (i == 0 || (!isdigit((unsigned char)s[i - 1]) && s[i - 1] != '.' && s[i - 1] != ','));
		if (!starts || depth > 0) {
			rc = evh_buf_add(o, s + i, 1);
			i++;
			continue;
		}
		size_t j = i;
		while (j < n && isdigit((unsigned char)s[j]))
			j++;
		/* "4 4/9" in plain text is a mixed number, 4 + 4/9 (as Math-Verify reads it); nobody
		 * writes a product that way. Not after ^ or _ or a letter. */
		size_t b0 = j + 1, b1 = b0, c0, c1;
		while (b1 < n && isdigit((unsigned char)s[b1]))
			b1++;
		c0 = b1 + 1;
		c1 = c0;
		while (c1 < n && isdigit((unsigned char)s[c1]))
			c1++;
		if (j < n && s[j] == ' ' && b1 > b0 && b1 < n && s[b1] == '/' && c1 > c0 && b1 - b0 < 10 &&
		    c1 - c0 < 10 && (c1 == n || (!isdigit((unsigned char)s[c1]) && s[c1] != '.' && s[c1] != '/')) &&
		    (i == 0 || !(isalpha((unsigned char)s[i - 1]) || s[i - 1] == '^' || s[i - 1] == '_'))) {
			rc = evh_buf_add(o, "(", 1);
			if (!rc)
				rc = evh_buf_add(o, s + i, j - i);
			if (!rc)
				rc = evh_buf_add(o, "+", 1);
			if (!rc)
				rc = evh_buf_add(o, s + b0, c1 - b0);
			if (!rc)
				rc = evh_buf_add(o, ")", 1);
			i = c1;
			continue;
		}
		size_t groups = 0, k = j;
		if (j - i <= 3)
			while (k + 4 <= n && s[k] == ',' && isdigit((unsigned char)s[k + 1]) &&
			       isdigit((unsigned char)s[k + 2]) && isdigit((unsigned char)s[k + 3]) &&
			       (k + 4 == n || !isdigit((unsigned char)s[k + 4]))) {
				k += 4;
				groups++;
			}
		/* "1,234,5" is a list, not a number */
		if (groups && k < n && s[k] == ',' && k + 1 < n && isdigit((unsigned char)s[k + 1]))
			groups = 0;
		if (!groups) {
			rc = evh_buf_add(o, s + i, j - i);
			i = j;
			continue;
		}
		for (size_t p = i; p < k && !rc; p++)
			if (s[p] != ',')
				rc = evh_buf_add(o, s + p, 1);
		i = k;
	}
	return rc;
}

/* "3 or 5", "3 and 5" -> "3 , 5"; trailing unit words after a value ("5 cm", "12 dollars") dropped. */
static int pass_words(const char *s, size_t n, struct evh_buf *o, int *flags)
{
	int rc = EVH_OK;
	size_t i = 0;
	while (i < n && !rc) {
		if (isalpha((unsigned char)s[i]) && (i == 0 || !isalpha((unsigned char)s[i - 1])) &&
		    (i == 0 || s[i - 1] != '\\')) {
			size_t j = i;
			while (j < n && isalpha((unsigned char)s[j]))
				j++;
			int spaced = i > 0 && s[i - 1] == ' ' && (j == n || s[j] == ' ');
			if (spaced && (trimmed_is(s + i, j - i, "or") || trimmed_is(s + i, j - i, "and"))) {
				rc = evh_buf_add(o, ",", 1);
				i = j;
				continue;
			}
			/* a unit phrase running to the end, after a value: "5 cm", "3.5 square units" */
			size_t p = o->len;
			while (p > 0 && o->data[p - 1] == ' ')
				p--;
			int after_value = p > 0 && (isdigit((unsigned char)o->data[p - 1]) ||
						    o->data[p - 1] == '}' || o->data[p - 1] == ')');
			if (after_value && j - i >= 2 && only_units(s + i, n - i, flags))
				break;
			rc = evh_buf_add(o, s + i, j - i);
			i = j;
			continue;
		}
		rc = evh_buf_add(o, s + i, 1);
		i++;
	}
	return rc;
}

/* Trims spaces and trailing punctuation, collapses runs of spaces. */
static int pass_trim(const char *s, size_t n, struct evh_buf *o)
{
	size_t a = 0;
	while (a < n && isspace((unsigned char)s[a]))
		a++;
	while (n > a) {
		char c = s[n - 1];
		if (isspace((unsigned char)c) || c == '.' || c == ',' || c == ';' || c == ':')
			n--;
		else if (n - a >= 2 && c == '\\' && s[n - 2] == '\\')
			n -= 2; /* a trailing row break */
		else
			break;
	}
	int rc = EVH_OK;
	for (size_t i = a; i < n && !rc; i++) {
		if (s[i] == ' ' && i > a && s[i - 1] == ' ')
			continue;
		rc = evh_buf_add(o, s + i, 1);
	}
	return rc;
}

int scr_latex_normalize(const char *s, size_t n, char **out, int *flags, struct evh_err *err)
{
	*out = NULL;
	*flags = 0;
	if (n > SCR_LIMIT_LATEX)
		return evh_err_fail(err, EVH_ELIMIT, "answer", "answer of %zu bytes exceeds the %d-byte limit", n,
				    SCR_LIMIT_LATEX);
	struct evh_buf a, b;
	/* Renames can lengthen the text (× -> "\times "): room for 4x, still bounded. */
	evh_buf_init(&a, 4 * (size_t)SCR_LIMIT_LATEX + 64);
	evh_buf_init(&b, 4 * (size_t)SCR_LIMIT_LATEX + 64);
	int rc = evh_buf_add(&a, "", 0);
	if (!rc)
		rc = pass_chars(s, n, &a, flags);
	if (!rc)
		rc = evh_buf_add(&b, "", 0);
	if (!rc)
		rc = pass_commands(a.data, a.len, &b, flags, err);
	if (!rc) {
		evh_buf_reset(&a);
		rc = pass_numbers(b.data, b.len, &a, err);
	}
	if (!rc) {
		evh_buf_reset(&b);
		rc = pass_trim(a.data, a.len, &b); /* words need a trimmed end */
	}
	if (!rc) {
		evh_buf_reset(&a);
		rc = pass_words(b.data, b.len, &a, flags);
	}
	if (!rc) {
		evh_buf_reset(&b);
		rc = pass_trim(a.data, a.len, &b);
	}
	if (!rc) {
		*out = evh_buf_take(&b);
		if (!*out)
			rc = EVH_ENOMEM;
	}
	evh_buf_free(&a);
	evh_buf_free(&b);
	if (rc)
		return evh_err_fail(err, rc, "answer", "normalising: %s", evh_strerror(rc));
	return EVH_OK;
}
