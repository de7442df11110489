/* expr.c — recursive-descent parser for normalised answers and the tree's evaluator (see expr.h).
 * Grammar, loosest first:
 *   list   := rel ((',' | ';') rel)*
 *   rel    := union (relop union)*               "1 < x \le 3" chains into two relations
 *   union  := sum ('\cup' sum)*
 *   sum    := term (('+' | '-' | '\pm' | '\mp') term)*
 *   term   := unary (('*' | '\cdot' | '\times' | '/' | '\div') unary | implicit-factor)*
 *   unary  := ('-' | '+' | '\pm') unary | power
 *   power  := postfix ('^' exponent)?            right-associative
 *   postfix:= primary '!'*
 * Every rule passes through enter(), which bounds the recursion at SCR_LIMIT_DEPTH. */
#include "scorers/expr.h"

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/latex.h"

/* ---- arena ----------------------------------------------------------------------------- */

struct chunk {
	struct chunk *next;
	size_t used, cap;
	max_align_t data[];
};

struct scr_expr {
	struct chunk *chunks;
	struct scr_node *root;
	size_t bytes;
};

static void *arena_alloc(struct scr_expr *e, size_t size)
{
	size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
	/* All a parse of SCR_LIMIT_LATEX bytes can need, and more: a bound, not a budget. */
	if (e->bytes + size > (size_t)SCR_LIMIT_LATEX * 1024)
		return NULL;
	struct chunk *c = e->chunks;
	if (!c || c->cap - c->used < size) {
		size_t cap = size > 8192 ? size : 8192;
		c = malloc(sizeof *c + cap);
		if (!c)
			return NULL;
		c->cap = cap;
		c->used = 0;
		c->next = e->chunks;
		e->chunks = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += size;
	e->bytes += size;
	memset(p, 0, size);
	return p;
}

void scr_expr_free(struct scr_expr *e)
{
	if (!e)
		return;
	while (e->chunks) {
		struct chunk *c = e->chunks;
		e->chunks = c->next;
		free(c);
	}
	free(e);
}

const struct scr_node *scr_expr_root(const struct scr_expr *e)
{
	return e ? e->root : NULL;
}

/* ---- parser state ---------------------------------------------------------------------- */

struct parser {
	const char *s;
	size_t i, n;
	struct scr_expr *e;
	int depth, abs_open;
	int rc;
	struct evh_err *err;
	const char *closer; /* command that ends the current group ("\}" or "\end"), NULL for none */
};

static struct scr_node *fail(struct parser *p, int code, const char *what)
{
	if (!p->rc) {
		p->rc = code;
		evh_err_fail(p->err, code, "answer", "%s at byte %zu", what, p->i);
	}
	return NULL;
}

static int enter(struct parser *p)
{
	if (++p->depth > SCR_LIMIT_EXPR_HEIGHT) {
		fail(p, EVH_ELIMIT, "expression nested too deeply");
		return 0;
	}
	return 1;
}
#define ENTER(p)             \
	do {                     \
		if (!enter(p))   \
			return NULL; \
	} while (0)
#define LEAVE(p, v) return (p)->depth--, (v)

static struct scr_node *node(struct parser *p, int kind)
{
	struct scr_node *n = arena_alloc(p->e, sizeof *n);
	if (!n)
		return fail(p, EVH_ELIMIT, "expression too large");
	n->kind = kind;
	n->dec = -1;
	return n;
}

/* Makes `kid` a child of `n` as far as the height is concerned; 0 when the tree gets too tall. */
static int grow(struct parser *p, struct scr_node *n, const struct scr_node *kid)
{
	if (kid && kid->height + 1 > n->height)
		n->height = kid->height + 1;
	if (n->height > SCR_LIMIT_EXPR_HEIGHT) {
		fail(p, EVH_ELIMIT, "expression nested too deeply");
		return 0;
	}
	return 1;
}

static struct scr_node *bin(struct parser *p, int kind, struct scr_node *a, struct scr_node *b)
{
	if (!a || !b)
		return NULL;
	struct scr_node *n = node(p, kind);
	if (n) {
		n->a = a;
		n->b = b;
		if (!grow(p, n, a) || !grow(p, n, b))
			return NULL;
	}
	return n;
}

static struct scr_node *unop(struct parser *p, int kind, struct scr_node *a)
{
	if (!a)
		return NULL;
	struct scr_node *n = node(p, kind);
	if (!n)
		return NULL;
	if (kind == SCR_N_PM)
		n->b = a;
	else
		n->a = a;
	return grow(p, n, a) ? n : NULL;
}

static int push(struct parser *p, struct scr_node *list, struct scr_node *kid, size_t *cap)
{
	if (!kid)
		return 0;
	if (list->n == *cap) {
		size_t nc = *cap ? *cap * 2 : 4;
		struct scr_node **k = arena_alloc(p->e, nc * sizeof *k);
		if (!k) {
			fail(p, EVH_ELIMIT, "expression too large");
			return 0;
		}
		if (list->n)
			memcpy(k, list->kids, list->n * sizeof *k);
		list->kids = k;
		*cap = nc;
	}
	list->kids[list->n++] = kid;
	return grow(p, list, kid);
}

static void ws(struct parser *p)
{
	while (p->i < p->n && isspace((unsigned char)p->s[p->i]))
		p->i++;
}

static char peek(struct parser *p)
{
	ws(p);
	return p->i < p->n ? p->s[p->i] : '\0';
}

/* At "\name" (not followed by a letter)? */
static int at_cmd(struct parser *p, const char *name)
{
	ws(p);
	size_t l = strlen(name);
	if (p->n - p->i < l + 1 || p->s[p->i] != '\\' || memcmp(p->s + p->i + 1, name, l) != 0)
		return 0;
	size_t e = p->i + 1 + l;
	return !(e < p->n && isalpha((unsigned char)name[0]) && isalpha((unsigned char)p->s[e]));
}

static int eat_cmd(struct parser *p, const char *name)
{
	if (!at_cmd(p, name))
		return 0;
	p->i += strlen(name) + 1;
	return 1;
}

static int eat(struct parser *p, char c)
{
	if (peek(p) != c)
		return 0;
	p->i++;
	return 1;
}

/* Length of the command name at p->i ('\\' excluded), 0 when not at a lettered command. */
static size_t cmd_len(struct parser *p)
{
	ws(p);
	if (p->i + 1 >= p->n || p->s[p->i] != '\\' || !isalpha((unsigned char)p->s[p->i + 1]))
		return 0;
	size_t e = p->i + 1;
	while (e < p->n && isalpha((unsigned char)p->s[e]))
		e++;
	return e - p->i - 1;
}

static const struct {
	const char *name;
	int fn;
} funcs[] = {
	{"sin", SCR_F_SIN}, {"cos", SCR_F_COS}, {"tan", SCR_F_TAN}, {"sec", SCR_F_SEC}, {"csc", SCR_F_CSC},
	{"cot", SCR_F_COT}, {"arcsin", SCR_F_ASIN}, {"arccos", SCR_F_ACOS}, {"arctan", SCR_F_ATAN},
	{"sinh", SCR_F_SINH}, {"cosh", SCR_F_COSH}, {"tanh", SCR_F_TANH}, {"ln", SCR_F_LN},
	{"log", SCR_F_LOG}, {"exp", SCR_F_EXP}, {"sqrt", SCR_F_SQRT}, {"abs", SCR_F_ABS},
};

static int func_id(const char *s, size_t l)
{
	for (size_t k = 0; k < sizeof funcs / sizeof funcs[0]; k++)
		if (strlen(funcs[k].name) == l && memcmp(funcs[k].name, s, l) == 0)
			return funcs[k].fn;
	return -1;
}

static const char *const greek[] = {
	"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
	"iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "upsilon", "phi", "varphi",
	"chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda", "Sigma", "Phi", "Psi", "Omega",
};

static struct scr_node *parse_list(struct parser *p);
static struct scr_node *parse_sum(struct parser *p);
static struct scr_node *parse_unary(struct parser *p);
static struct scr_node *parse_power(struct parser *p);
static struct scr_node *parse_primary(struct parser *p);

/* Does the next token start a factor that multiplies implicitly ("2x", "3\sqrt2", "x(y+1)")? */
static int starts_factor(struct parser *p)
{
	char c = peek(p);
	if (isdigit((unsigned char)c) || isalpha((unsigned char)c) || c == '(' || (c == '.' && p->i + 1 < p->n && isdigit((unsigned char)p->s[p->i + 1])))
		return 1;
	if (c == '|')
		return !p->abs_open;
	if (c == '{')
		return 1;
	size_t l = cmd_len(p);
	if (!l)
		return 0;
	const char *nm = p->s + p->i + 1;
	static const char *const stop[] = {"cdot", "times", "div", "pm", "mp", "le", "ge", "ne", "in",
					   "cup", "cap", "end", "to", "notin", "setminus", "right", "approx"};
	for (size_t k = 0; k < sizeof stop / sizeof stop[0]; k++)
		if (strlen(stop[k]) == l && memcmp(stop[k], nm, l) == 0)
			return 0;
	return 1;
}

/* A command argument: {group}, or one character / one command ("\frac12", "\sqrt x", "\frac\pi2"). */
static struct scr_node *parse_arg(struct parser *p)
{
	ENTER(p);
	struct scr_node *r;
	char c = peek(p);
	if (c == '{') {
		p->i++;
		r = parse_list(p);
		if (r && !eat(p, '}'))
			r = fail(p, EVH_EFORMAT, "missing '}'");
	} else if (isdigit((unsigned char)c)) {
		r = node(p, SCR_N_NUM);
		if (r) {
			r->num = c - '0';
			r->dec = -1;
			r->sig = 1;
		}
		p->i++;
	} else if (c == '\0' || c == '}') {
		r = fail(p, EVH_EFORMAT, "missing argument");
	} else {
		r = parse_primary(p);
	}
	LEAVE(p, r);
}

static struct scr_node *number(struct parser *p)
{
	size_t a = p->i, i = p->i;
	int sig = 0, lead = 1, dec = -1;
	while (i < p->n && (isdigit((unsigned char)p->s[i]) || (p->s[i] == '.' && dec < 0 && i + 1 < p->n && isdigit((unsigned char)p->s[i + 1])))) {
		if (p->s[i] == '.') {
			dec = 0;
		} else {
			if (dec >= 0)
				dec++;
			if (p->s[i] != '0' || !lead) {
				lead = 0;
				sig++;
			}
		}
		i++;
	}
	/* scientific notation "1.5e3": only when digits follow and no letter after them */
	if (i + 1 < p->n && (p->s[i] == 'e' || p->s[i] == 'E')) {
		size_t j = i + 1;
		if (j < p->n && (p->s[j] == '-' || p->s[j] == '+'))
			j++;
		if (j < p->n && isdigit((unsigned char)p->s[j])) {
			while (j < p->n && isdigit((unsigned char)p->s[j]))
				j++;
			if (j == p->n || !isalpha((unsigned char)p->s[j])) {
				i = j;
				dec = -1; /* precision rule applies to plain decimals only */
			}
		}
	}
	char buf[96];
	size_t l = i - a;
	if (l >= sizeof buf)
		return fail(p, EVH_ELIMIT, "number too long");
	memcpy(buf, p->s + a, l);
	buf[l] = '\0';
	struct scr_node *r = node(p, SCR_N_NUM);
	if (!r)
		return NULL;
	r->num = strtod(buf, NULL);
	r->dec = dec;
	r->sig = sig ? sig : 1;
	p->i = i;
	return r;
}

static struct scr_node *constant(struct parser *p, int c)
{
	struct scr_node *r = node(p, SCR_N_CONST);
	if (r)
		r->op = c;
	return r;
}

static struct scr_node *func(struct parser *p, int fn, struct scr_node *arg, struct scr_node *b)
{
	if (!arg)
		return NULL;
	struct scr_node *r = node(p, SCR_N_FUNC);
	if (r) {
		r->op = fn;
		r->a = arg;
		r->b = b;
		if (!grow(p, r, arg) || !grow(p, r, b))
			return NULL;
	}
	return r;
}

/* Argument of \sin, \log, ...: (x), {x}, or an implicit product of factors ("\sin 2x"). */
static struct scr_node *func_arg(struct parser *p)
{
	ENTER(p);
	struct scr_node *r;
	char c = peek(p);
	if (c == '(' || c == '{' || c == '[') {
		r = parse_power(p);
	} else {
		r = parse_power(p);
		while (r && starts_factor(p)) {
			size_t l = cmd_len(p);
			if (l && func_id(p->s + p->i + 1, l) >= 0)
				break; /* "\sin x \cos x" is a product of two functions */
			if (peek(p) == '(' || peek(p) == '{')
				break;
			r = bin(p, SCR_N_MUL, r, parse_power(p));
		}
	}
	LEAVE(p, r);
}

static struct scr_node *parse_function(struct parser *p, int fn)
{
	struct scr_node *base = NULL, *power = NULL;
	if (fn == SCR_F_LOG && eat(p, '_')) {
		base = parse_arg(p);
		if (!base)
			return NULL;
	}
	if (eat(p, '^')) {
		/* \sin^{-1} x is arcsin; \sin^2 x is (\sin x)^2 */
		power = parse_arg(p);
		if (!power)
			return NULL;
		if (power->kind == SCR_N_NEG && power->a->kind == SCR_N_NUM && power->a->num == 1 && fn <= SCR_F_TAN) {
			fn = fn == SCR_F_SIN ? SCR_F_ASIN : fn == SCR_F_COS ? SCR_F_ACOS : SCR_F_ATAN;
			power = NULL;
		}
	}
	struct scr_node *r = func(p, fn, func_arg(p), base);
	if (r && power)
		r = bin(p, SCR_N_POW, r, power);
	return r;
}

/* \begin{pmatrix} a & b \\ c & d \end{pmatrix} (also bmatrix, matrix, array{cc}, ...). */
static struct scr_node *matrix(struct parser *p)
{
	if (!eat(p, '{'))
		return fail(p, EVH_EFORMAT, "expected '{' after \\begin");
	size_t a = p->i;
	while (p->i < p->n && p->s[p->i] != '}')
		p->i++;
	if (p->i >= p->n)
		return fail(p, EVH_EFORMAT, "unterminated \\begin{");
	size_t envl = p->i - a;
	const char *env = p->s + a;
	p->i++;
	if (!(envl >= 6 && memcmp(env + envl - 6, "matrix", 6) == 0) && !(envl == 5 && memcmp(env, "array", 5) == 0))
		return fail(p, EVH_EFORMAT, "unsupported environment");
	if (envl == 5 && peek(p) == '{') { /* column spec of array */
		while (p->i < p->n && p->s[p->i] != '}')
			p->i++;
		if (p->i >= p->n)
			return fail(p, EVH_EFORMAT, "unterminated array column spec");
		p->i++;
	}
	struct scr_node *m = node(p, SCR_N_MATRIX);
	if (!m)
		return NULL;
	size_t cap = 0;
	int cols = 0, col = 0;
	for (;;) {
		if (at_cmd(p, "end"))
			break;
		struct scr_node *cell = parse_sum(p);
		if (!push(p, m, cell, &cap))
			return NULL;
		col++;
		if (eat(p, '&'))
			continue;
		if (at_cmd(p, "\\")) {
			p->i += 2;
		} else if (!at_cmd(p, "end")) {
			return fail(p, EVH_EFORMAT, "expected '&', '\\\\' or \\end in matrix");
		}
		if (cols && col != cols)
			return fail(p, EVH_EFORMAT, "matrix rows of different lengths");
		cols = col;
		col = 0;
		m->rows++;
		if (at_cmd(p, "end"))
			break;
	}
	if (col) {
		if (cols && col != cols)
			return fail(p, EVH_EFORMAT, "matrix rows of different lengths");
		cols = col;
		m->rows++;
	}
	p->i += 4;
	if (!eat(p, '{'))
		return fail(p, EVH_EFORMAT, "expected '{' after \\end");
	while (p->i < p->n && p->s[p->i] != '}')
		p->i++;
	if (p->i >= p->n)
		return fail(p, EVH_EFORMAT, "unterminated \\end{");
	p->i++;
	m->cols = cols;
	if (!m->rows || (size_t)m->rows * (size_t)cols != m->n)
		return fail(p, EVH_EFORMAT, "empty or ragged matrix");
	return m;
}

/* A bracketed group: (x), (1,2), [0,1), (1,2], \{1,2\}; the open bracket is already eaten. */
static struct scr_node *group(struct parser *p, char open)
{
	int saved_abs = p->abs_open;
	p->abs_open = 0;
	struct scr_node *inner = NULL;
	char close;
	if (open == 's') { /* \{ ... \} */
		struct scr_node *set = node(p, SCR_N_SET);
		if (!set)
			return NULL;
		if (!eat_cmd(p, "}")) {
			inner = parse_list(p);
			if (!inner)
				return NULL;
			if (!eat_cmd(p, "}"))
				return fail(p, EVH_EFORMAT, "missing '\\}'");
			if (inner->kind == SCR_N_LIST) {
				set->kids = inner->kids;
				set->n = inner->n;
				set->height = inner->height;
				if (!grow(p, set, inner))
					return NULL;
			} else {
				size_t cap = 0;
				push(p, set, inner, &cap);
			}
		}
		p->abs_open = saved_abs;
		return p->rc ? NULL : set;
	}
	inner = parse_list(p);
	if (!inner)
		return NULL;
	close = peek(p);
	if (open == '{') {
		if (close != '}')
			return fail(p, EVH_EFORMAT, "missing '}'");
	} else if (close != ')' && close != ']') {
		return fail(p, EVH_EFORMAT, "missing ')' or ']'");
	}
	p->i++;
	p->abs_open = saved_abs;
	if (inner->kind == SCR_N_LIST) {
		/* {1,2} without backslashes is a set written carelessly; brackets make tuples/intervals */
		inner->kind = open == '{' ? SCR_N_SET : SCR_N_TUPLE;
		inner->open = open;
		inner->close = close;
		return inner;
	}
	if (open != '{' && open != '(' + 0 && !(open == '[' && close == ']'))
		return fail(p, EVH_EFORMAT, "mismatched brackets");
	if (open == '(' && close != ')')
		return fail(p, EVH_EFORMAT, "mismatched brackets");
	return inner;
}

static struct scr_node *variable(struct parser *p, const char *name, size_t l)
{
	char buf[64];
	size_t bl = l < 40 ? l : 40;
	memcpy(buf, name, bl);
	/* subscripts and primes belong to the name: x_1, a_{n+1}, f' */
	if (p->i < p->n && p->s[p->i] == '_') {
		p->i++;
		buf[bl++] = '_';
		ws(p);
		if (p->i < p->n && p->s[p->i] == '{') {
			size_t a = p->i + 1, d = 0, j;
			for (j = p->i; j < p->n; j++) {
				if (p->s[j] == '{')
					d++;
				else if (p->s[j] == '}' && --d == 0)
					break;
			}
			if (j >= p->n)
				return fail(p, EVH_EFORMAT, "missing '}' in subscript");
			for (size_t k = a; k < j && bl < sizeof buf - 2; k++)
				if (!isspace((unsigned char)p->s[k]))
					buf[bl++] = p->s[k];
			p->i = j + 1;
		} else if (p->i < p->n && isalnum((unsigned char)p->s[p->i])) {
			buf[bl++] = p->s[p->i++];
		} else {
			return fail(p, EVH_EFORMAT, "bad subscript");
		}
	}
	while (p->i < p->n && p->s[p->i] == '\'' && bl < sizeof buf - 2)
		buf[bl++] = p->s[p->i++];
	struct scr_node *r = node(p, SCR_N_VAR);
	char *nm = arena_alloc(p->e, bl + 1);
	if (!r || !nm)
		return fail(p, EVH_ELIMIT, "expression too large");
	memcpy(nm, buf, bl);
	nm[bl] = '\0';
	r->name = nm;
	return r;
}

static struct scr_node *word(struct parser *p)
{
	size_t a = p->i, e = a;
	while (e < p->n && isalpha((unsigned char)p->s[e]))
		e++;
	const char *w = p->s + a;
	size_t l = e - a;
	int fn = func_id(w, l);
	if (fn >= 0 && l >= 2) {
		p->i = e;
		return parse_function(p, fn);
	}
	if ((l == 2 && (memcmp(w, "pi", 2) == 0 || memcmp(w, "oo", 2) == 0)) || (l == 3 && memcmp(w, "inf", 3) == 0) ||
	    (l == 8 && memcmp(w, "infinity", 8) == 0)) {
		p->i = e;
		return constant(p, w[0] == 'p' ? SCR_C_PI : SCR_C_INF);
	}
	if (l >= 3)
		return fail(p, EVH_EFORMAT, "a word, not mathematics");
	/* one letter: a variable, except e and i which are the constants in a final answer */
	p->i = a + 1;
	int sub = p->i < p->n && (p->s[p->i] == '_' || p->s[p->i] == '\'');
	if (w[0] == 'e' && !sub)
		return constant(p, SCR_C_E);
	if (w[0] == 'i' && !sub)
		return constant(p, SCR_C_I);
	return variable(p, w, 1);
}

static struct scr_node *command(struct parser *p)
{
	size_t l = cmd_len(p);
	if (!l) {
		/* "\{", "\}", "\|", "\\" */
		if (eat_cmd(p, "{"))
			return group(p, 's');
		if (eat_cmd(p, "|")) {
			struct scr_node *r = parse_sum(p);
			if (r && !eat_cmd(p, "|"))
				return fail(p, EVH_EFORMAT, "missing '\\|'");
			return func(p, SCR_F_ABS, r, NULL);
		}
		return fail(p, EVH_EFORMAT, "unexpected symbol");
	}
	const char *nm = p->s + p->i + 1;
	p->i += l + 1;
#define IS(w) (l == strlen(w) && memcmp(nm, w, l) == 0)
	if (IS("frac")) {
		struct scr_node *num = parse_arg(p);
		if (!num)
			return NULL;
		return bin(p, SCR_N_DIV, num, parse_arg(p));
	}
	if (IS("binom")) {
		struct scr_node *nn = parse_arg(p);
		if (!nn)
			return NULL;
		struct scr_node *kk = parse_arg(p);
		return kk ? func(p, SCR_F_BINOM, nn, kk) : NULL;
	}
	if (IS("sqrt")) {
		struct scr_node *idx = NULL;
		if (eat(p, '[')) {
			idx = parse_sum(p);
			if (!idx)
				return NULL;
			if (!eat(p, ']'))
				return fail(p, EVH_EFORMAT, "missing ']' in \\sqrt[n]");
		}
		struct scr_node *x = parse_arg(p);
		return idx ? func(p, SCR_F_ROOT, x, idx) : func(p, SCR_F_SQRT, x, NULL);
	}
	if (IS("pi"))
		return constant(p, SCR_C_PI);
	if (IS("infty"))
		return constant(p, SCR_C_INF);
	if (IS("emptyset")) {
		return node(p, SCR_N_SET);
	}
	if (IS("mathbb")) {
		struct scr_node *t = node(p, SCR_N_TUPLE);
		if (!t)
			return NULL;
		ws(p);
		if (!(p->n - p->i >= 3 && memcmp(p->s + p->i, "{R}", 3) == 0) && !(p->i < p->n && p->s[p->i] == 'R'))
			return fail(p, EVH_EFORMAT, "unsupported \\mathbb set");
		p->i += p->s[p->i] == 'R' ? 1 : 3;
		/* the reals as the interval (-oo, oo) */
		struct scr_node *lo = unop(p, SCR_N_NEG, constant(p, SCR_C_INF)), *hi = constant(p, SCR_C_INF);
		size_t cap = 0;
		if (!lo || !hi)
			return NULL;
		t->open = '(';
		t->close = ')';
		push(p, t, lo, &cap);
		push(p, t, hi, &cap);
		return p->rc ? NULL : t;
	}
	if (IS("begin"))
		return matrix(p);
	int fn = func_id(nm, l);
	if (fn >= 0)
		return parse_function(p, fn);
	for (size_t k = 0; k < sizeof greek / sizeof greek[0]; k++)
		if (IS(greek[k]))
			return variable(p, nm, l);
#undef IS
	p->i -= l + 1;
	return fail(p, EVH_EFORMAT, "unknown command");
}

static struct scr_node *parse_primary(struct parser *p)
{
	ENTER(p);
	struct scr_node *r;
	char c = peek(p);
	if (isdigit((unsigned char)c) || c == '.') {
		r = number(p);
	} else if (isalpha((unsigned char)c)) {
		r = word(p);
	} else if (c == '(' || c == '[' || c == '{') {
		p->i++;
		r = group(p, c);
	} else if (c == '|' && !p->abs_open) {
		p->i++;
		p->abs_open = 1;
		r = parse_sum(p);
		p->abs_open = 0;
		if (r && !eat(p, '|'))
			r = fail(p, EVH_EFORMAT, "missing closing '|'");
		r = func(p, SCR_F_ABS, r, NULL);
	} else if (c == '\\') {
		r = command(p);
	} else {
		r = fail(p, EVH_EFORMAT, c ? "unexpected symbol" : "unexpected end");
	}
	LEAVE(p, r);
}

static struct scr_node *parse_postfix(struct parser *p)
{
	struct scr_node *r = parse_primary(p);
	while (r && p->i < p->n && p->s[p->i] == '!' && !(p->i + 1 < p->n && p->s[p->i + 1] == '='))
		p->i++, r = func(p, SCR_F_FACT, r, NULL);
	return r;
}

static struct scr_node *parse_power(struct parser *p)
{
	ENTER(p);
	struct scr_node *r = parse_postfix(p);
	if (r && eat(p, '^')) {
		struct scr_node *x;
		if (peek(p) == '{') {
			x = parse_arg(p);
		} else if (peek(p) == '-' || peek(p) == '+') {
			int neg = p->s[p->i++] == '-';
			x = parse_power(p);
			if (neg)
				x = unop(p, SCR_N_NEG, x);
		} else {
			x = parse_power(p);
		}
		r = bin(p, SCR_N_POW, r, x);
	}
	LEAVE(p, r);
}

static struct scr_node *parse_unary(struct parser *p)
{
	ENTER(p);
	struct scr_node *r;
	if (eat(p, '-')) {
		r = unop(p, SCR_N_NEG, parse_unary(p));
	} else if (eat(p, '+')) {
		r = parse_unary(p);
	} else if (eat_cmd(p, "pm") || eat_cmd(p, "mp")) {
		r = unop(p, SCR_N_PM, parse_unary(p));
	} else {
		r = parse_power(p);
	}
	LEAVE(p, r);
}

static struct scr_node *parse_term(struct parser *p)
{
	ENTER(p);
	struct scr_node *r = parse_unary(p);
	while (r) {
		if (eat(p, '*') || eat_cmd(p, "cdot") || eat_cmd(p, "times"))
			r = bin(p, SCR_N_MUL, r, parse_unary(p));
		else if (eat(p, '/') || eat_cmd(p, "div"))
			r = bin(p, SCR_N_DIV, r, parse_unary(p));
		else if (starts_factor(p))
			r = bin(p, SCR_N_MUL, r, parse_power(p));
		else
			break;
	}
	LEAVE(p, r);
}

static struct scr_node *parse_sum(struct parser *p)
{
	ENTER(p);
	struct scr_node *r = parse_term(p);
	while (r) {
		if (eat(p, '+'))
			r = bin(p, SCR_N_ADD, r, parse_term(p));
		else if (eat(p, '-'))
			r = bin(p, SCR_N_SUB, r, parse_term(p));
		else if (eat_cmd(p, "pm") || eat_cmd(p, "mp"))
			r = bin(p, SCR_N_PM, r, parse_term(p));
		else
			break;
	}
	LEAVE(p, r);
}

static struct scr_node *parse_union(struct parser *p)
{
	ENTER(p);
	struct scr_node *r = parse_sum(p);
	while (r && eat_cmd(p, "cup"))
		r = bin(p, SCR_N_UNION, r, parse_sum(p));
	LEAVE(p, r);
}

static int relop(struct parser *p)
{
	char c = peek(p);
	if (c == '=' || c == '<' || c == '>') {
		p->i++;
		if (p->i < p->n && p->s[p->i] == '=' && c != '=') {
			p->i++;
			return c == '<' ? 'l' : 'g';
		}
		return c;
	}
	if (c == '!' && p->i + 1 < p->n && p->s[p->i + 1] == '=') {
		p->i += 2;
		return 'n';
	}
	if (eat_cmd(p, "le"))
		return 'l';
	if (eat_cmd(p, "ge"))
		return 'g';
	if (eat_cmd(p, "ne"))
		return 'n';
	if (eat_cmd(p, "in"))
		return 'i';
	if (eat_cmd(p, "approx"))
		return 'a'; /* an '=' to parse_rel, which keeps an exact side before it */
	return 0;
}

static struct scr_node *parse_rel(struct parser *p)
{
	ENTER(p);
	struct scr_node *r = parse_union(p);
	struct scr_node *last = r;
	int op;
	while (r && (op = relop(p))) {
		struct scr_node *b = parse_union(p);
		if (!b)
			LEAVE(p, NULL);
		if ((op == '=' || op == 'a') && r->kind == SCR_N_REL && r->op == '=') {
			/* "x = 5+5+1 = 11": a chain of equalities is a worked computation, and it states
			 * its last side (as Math-Verify reads it); an approximation after an exact side
			 * ("x = 1/3 \approx 0.333") only rounds what it follows. */
			if (op == '=') {
				r->b = b;
				if (!grow(p, r, b))
					LEAVE(p, NULL);
			}
			last = b;
			continue;
		}
		if (op == 'a')
			op = '=';
		struct scr_node *rel = node(p, SCR_N_REL);
		if (!rel)
			LEAVE(p, NULL);
		rel->op = op;
		if (!grow(p, rel, r) || !grow(p, rel, b))
			LEAVE(p, NULL);
		if (last == r || r->kind != SCR_N_REL) {
			rel->a = r;
			rel->b = b;
			r = rel;
		} else {
			/* a chain "1 < x \le 3": the list of two relations sharing x */
			rel->a = r->kind == SCR_N_REL && r->b ? r->b : last;
			rel->b = b;
			struct scr_node *both = node(p, SCR_N_LIST);
			size_t cap = 0;
			if (!both || !push(p, both, r, &cap) || !push(p, both, rel, &cap))
				LEAVE(p, NULL);
			both->op = 'c'; /* marks a chain, not a list of answers */
			r = both;
		}
		last = b;
	}
	LEAVE(p, r);
}

static struct scr_node *parse_list(struct parser *p)
{
	ENTER(p);
	struct scr_node *first = parse_rel(p);
	if (!first || (peek(p) != ',' && peek(p) != ';'))
		LEAVE(p, first);
	struct scr_node *list = node(p, SCR_N_LIST);
	size_t cap = 0;
	if (!list || !push(p, list, first, &cap))
		LEAVE(p, NULL);
	while (eat(p, ',') || eat(p, ';')) {
		char c = peek(p);
		if (c == '\0' || c == ')' || c == ']' || c == '}')
			break; /* trailing comma */
		if (!push(p, list, parse_rel(p), &cap))
			LEAVE(p, NULL);
	}
	LEAVE(p, list);
}

int scr_expr_parse(const char *s, struct scr_expr **out, struct evh_err *err)
{
	*out = NULL;
	size_t n = strlen(s);
	if (n > SCR_LIMIT_LATEX)
		return evh_err_fail(err, EVH_ELIMIT, "answer", "answer of %zu bytes exceeds the %d-byte limit", n,
				    SCR_LIMIT_LATEX);
	struct scr_expr *e = calloc(1, sizeof *e);
	if (!e)
		return evh_err_fail(err, EVH_ENOMEM, "answer", "out of memory");
	struct parser p = {.s = s, .n = n, .e = e, .err = err};
	struct scr_node *r = parse_list(&p);
	if (r && peek(&p) != '\0')
		r = fail(&p, EVH_EFORMAT, "unexpected text after the answer");
	if (p.rc) /* a failure deep inside that a caller above did not propagate */
		r = NULL;
	if (!r) {
		scr_expr_free(e);
		return p.rc ? p.rc : evh_err_fail(err, EVH_EINTERNAL, "answer", "parser returned nothing");
	}
	e->root = r;
	*out = e;
	return EVH_OK;
}

/* ---- evaluation ------------------------------------------------------------------------ */

static int is_real(double complex z)
{
	return fabs(cimag(z)) <= 1e-12 * (1 + fabs(creal(z)));
}

static double complex power(double complex a, double complex b)
{
	/* real powers stay exact where the real function is defined: 2^10, (-8)^3, 4^{0.5} */
	if (is_real(a) && is_real(b)) {
		double x = creal(a), y = creal(b);
		if (x >= 0 || y == floor(y))
			return pow(x, y);
	}
	if (a == 0)
		return creal(b) > 0 ? 0 : NAN;
	return cpow(a, b);
}

double complex scr_node_eval(const struct scr_node *n, const struct scr_binding *vars, size_t nvars)
{
	double complex a, b;
	switch (n->kind) {
	case SCR_N_NUM:
		return n->num;
	case SCR_N_VAR:
		for (size_t k = 0; k < nvars; k++)
			if (strcmp(vars[k].name, n->name) == 0)
				return vars[k].value;
		return NAN;
	case SCR_N_CONST:
		return n->op == SCR_C_PI ? M_PI : n->op == SCR_C_E ? M_E : n->op == SCR_C_I ? I : INFINITY;
	case SCR_N_NEG:
		a = scr_node_eval(n->a, vars, nvars);
		/* keep +0 imaginary parts: csqrt(-4 - 0i) would take the other branch */
		return is_real(a) ? -creal(a) : -a;
	case SCR_N_ADD:
	case SCR_N_SUB:
	case SCR_N_MUL:
	case SCR_N_DIV:
	case SCR_N_POW:
		a = scr_node_eval(n->a, vars, nvars);
		b = scr_node_eval(n->b, vars, nvars);
		/* complex arithmetic on infinities yields NaN parts; keep real infinities real */
		if (is_real(a) && is_real(b)) {
			double x = creal(a), y = creal(b);
			switch (n->kind) {
			case SCR_N_ADD: return x + y;
			case SCR_N_SUB: return x - y;
			case SCR_N_MUL: return x * y;
			case SCR_N_DIV: return y == 0 ? NAN : x / y;
			default: return power(a, b);
			}
		}
		switch (n->kind) {
		case SCR_N_ADD: return a + b;
		case SCR_N_SUB: return a - b;
		case SCR_N_MUL: return a * b;
		case SCR_N_DIV: return b == 0 ? NAN : a / b;
		default: return power(a, b);
		}
	case SCR_N_FUNC:
		a = scr_node_eval(n->a, vars, nvars);
		switch (n->op) {
		case SCR_F_SIN: return csin(a);
		case SCR_F_COS: return ccos(a);
		case SCR_F_TAN: return ctan(a);
		case SCR_F_SEC: return 1 / ccos(a);
		case SCR_F_CSC: return 1 / csin(a);
		case SCR_F_COT: return 1 / ctan(a);
		case SCR_F_ASIN: return casin(a);
		case SCR_F_ACOS: return cacos(a);
		case SCR_F_ATAN: return catan(a);
		case SCR_F_SINH: return csinh(a);
		case SCR_F_COSH: return ccosh(a);
		case SCR_F_TANH: return ctanh(a);
		case SCR_F_LN: return a == 0 ? NAN : clog(a);
		case SCR_F_LOG:
			if (a == 0)
				return NAN;
			if (n->b) {
				b = scr_node_eval(n->b, vars, nvars);
				return clog(b) == 0 ? NAN : clog(a) / clog(b);
			}
			return clog(a); /* natural, as sympy and Math-Verify read \log */
		case SCR_F_EXP: return cexp(a);
		case SCR_F_SQRT:
			if (is_real(a))
				return creal(a) >= 0 ? sqrt(creal(a)) : I * sqrt(-creal(a));
			return csqrt(a);
		case SCR_F_ROOT:
			b = scr_node_eval(n->b, vars, nvars);
			/* the real odd root of a negative number: \sqrt[3]{-8} = -2 */
			if (is_real(a) && is_real(b) && creal(a) < 0 && fmod(creal(b), 2) == 1)
				return -pow(-creal(a), 1 / creal(b));
			return power(a, 1 / b);
		case SCR_F_ABS: return cabs(a);
		case SCR_F_FACT:
			if (!is_real(a) || creal(a) < 0)
				return NAN;
			return tgamma(creal(a) + 1);
		case SCR_F_BINOM:
			b = scr_node_eval(n->b, vars, nvars);
			if (!is_real(a) || !is_real(b))
				return NAN;
			return exp(lgamma(creal(a) + 1) - lgamma(creal(b) + 1) - lgamma(creal(a) - creal(b) + 1)) *
			       (creal(b) < 0 || creal(b) > creal(a) ? 0 : 1);
		}
		return NAN;
	default:
		return NAN;
	}
}

int scr_node_vars(const struct scr_node *n, const char **names, size_t *count, size_t max)
{
	if (!n)
		return 0;
	if (n->kind == SCR_N_VAR) {
		for (size_t k = 0; k < *count; k++)
			if (strcmp(names[k], n->name) == 0)
				return 0;
		if (*count == max)
			return -1;
		names[(*count)++] = n->name;
		return 0;
	}
	if (scr_node_vars(n->a, names, count, max) || scr_node_vars(n->b, names, count, max))
		return -1;
	for (size_t k = 0; k < n->n; k++)
		if (scr_node_vars(n->kids[k], names, count, max))
			return -1;
	return 0;
}
