/* math.c — answer equivalence (see math.h). Structure first (lists, sets, tuples, intervals,
 * matrices, relations), then scalars: numerically when both are constants, at random points when
 * variables occur. The cases follow the categories of HF Math-Verify and the Qwen2.5-Math grader
 * (math_equal), without sympy: evaluation in complex doubles never hangs. */
#include "scorers/math.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/expr.h"
#include "scorers/latex.h"

void scr_math_opts_defaults(struct scr_math_opts *o)
{
	o->rel_tol = 1e-9;
	o->abs_tol = 1e-12;
	o->percent = 1;
	o->min_sig_digits = 3;
}

int scr_opts_each(const char *json, scr_opt_fn take, void *ctx, struct evh_err *err)
{
	if (!json || !*json)
		return EVH_OK;
	cJSON *root = cJSON_Parse(json);
	int rc = EVH_OK;
	if (!cJSON_IsObject(root))
		rc = evh_err_fail(err, EVH_EFORMAT, "scorer options", "expected a JSON object");
	for (cJSON *it = rc ? NULL : root->child; it && !rc; it = it->next)
		rc = take(it, ctx, err);
	cJSON_Delete(root);
	return rc;
}

static int take_opt(const cJSON *it, void *ctx, struct evh_err *err)
{
	struct scr_math_opts *o = ctx;
	const char *k = it->string;
	if (strcmp(k, "tolerance") == 0 || strcmp(k, "abs_tolerance") == 0) {
		if (!cJSON_IsNumber(it) || it->valuedouble < 0 || it->valuedouble >= 1)
			return evh_err_fail(err, EVH_EFORMAT, "scorer options", "\"%s\": expected a number in [0, 1)", k);
		if (k[0] == 't')
			o->rel_tol = it->valuedouble;
		else
			o->abs_tol = it->valuedouble;
	} else if (strcmp(k, "percent") == 0) {
		if (!cJSON_IsBool(it))
			return evh_err_fail(err, EVH_EFORMAT, "scorer options", "\"percent\": expected true or false");
		o->percent = cJSON_IsTrue(it);
	} else if (strcmp(k, "min_sig_digits") == 0) {
		if (!cJSON_IsNumber(it) || it->valuedouble < 1 || it->valuedouble > 17)
			return evh_err_fail(err, EVH_EFORMAT, "scorer options", "\"min_sig_digits\": expected 1..17");
		o->min_sig_digits = (int)it->valuedouble;
	} else {
		return evh_err_fail(err, EVH_EFORMAT, "scorer options", "unknown option \"%s\"", k);
	}
	return EVH_OK;
}

int scr_math_opts_parse(const char *json, struct scr_math_opts *o, struct evh_err *err)
{
	scr_math_opts_defaults(o);
	return scr_opts_each(json, take_opt, o, err);
}

/* ---- comparison context ---------------------------------------------------------------- */

#define N_POINTS 12
#define MAX_VARS 8
#define N_SCRATCH 128
#define MAX_ITEMS 64

struct cmp {
	const struct scr_math_opts *o;
	int gflags, pflags;
	struct scr_node scratch[N_SCRATCH]; /* nodes made while expanding \pm or folding matrices */
	size_t used;
	struct scr_node *kidpool[N_SCRATCH]; /* the element lists of folded matrices */
	size_t kused;
};

static int eq(struct cmp *c, const struct scr_node *g, const struct scr_node *p);

static int close_num(const struct cmp *c, double complex a, double complex b, double rel)
{
	double d = cabs(a - b), m = fmax(cabs(a), cabs(b));
	return d <= rel * m + c->o->abs_tol;
}

/* A plain decimal literal as written ("0.333", "-2.50"): its value, digits after the point and
 * significant digits. */
static int decimal_literal(const struct scr_node *n, double *v, int *dec, int *sig)
{
	int neg = 0;
	if (n->kind == SCR_N_NEG) {
		neg = 1;
		n = n->a;
	}
	if (n->kind != SCR_N_NUM || n->dec <= 0)
		return 0;
	*v = neg ? -n->num : n->num;
	*dec = n->dec;
	*sig = n->sig;
	return 1;
}

/* "0.333" stands for 1/3 when written to enough significant digits and it is 1/3 rounded or
 * truncated to the digits given (issue 3: fractions equal decimals only to the precision given). */
static int precision_match(const struct cmp *c, const struct scr_node *lit, double complex exact)
{
	double v;
	int dec, sig;
	if (!decimal_literal(lit, &v, &dec, &sig) || sig < c->o->min_sig_digits)
		return 0;
	if (fabs(cimag(exact)) > 1e-12 || !isfinite(creal(exact)))
		return 0;
	double x = creal(exact), ulp = pow(10, -dec);
	if (fabs(x - v) <= 0.5 * ulp * (1 + 1e-9))
		return 1;
	return fabs(x) > fabs(v) && (x > 0) == (v > 0) && fabs(x - v) < ulp; /* truncated */
}

static int finite_c(double complex z)
{
	return isfinite(creal(z)) && isfinite(cimag(z));
}

static int realish(double complex z)
{
	return fabs(cimag(z)) <= 1e-9 * (1 + fabs(creal(z)));
}

/* Deterministic points: a fixed LCG, so a verdict never changes between runs. Values avoid 0 and
 * +-1, where different expressions coincide too often, and take both signs. */
static double point_value(unsigned pt, unsigned var)
{
	unsigned long long x = 0x9E3779B97F4A7C15ull * (pt * 131u + var * 7919u + 17u);
	x ^= x >> 29;
	x *= 0xBF58476D1CE4E5B9ull;
	x ^= x >> 32;
	double u = (double)(x % 1000003u) / 1000003.0;
	double mag = 0.31 + 2.2 * u;
	return (pt + var) % 3 == 2 ? -mag : mag;
}

/* Numeric equality of two scalars: constants directly, expressions at random points. When
 * `ratio` is set, equality up to a constant non-zero factor (equations: y=2x+1 vs 2x-y+1=0). */
static int scalar_eq(struct cmp *c, const struct scr_node *g, const struct scr_node *p, int ratio)
{
	const char *names[MAX_VARS];
	size_t nv = 0;
	if (scr_node_vars(g, names, &nv, MAX_VARS) || scr_node_vars(p, names, &nv, MAX_VARS))
		return 0;
	if (nv == 0 && !ratio) {
		double complex zg = scr_node_eval(g, NULL, 0), zp = scr_node_eval(p, NULL, 0);
		if (isnan(creal(zg)) || isnan(creal(zp)) || isnan(cimag(zg)) || isnan(cimag(zp)))
			return 0;
		if (!finite_c(zg) || !finite_c(zp))
			return realish(zg) && realish(zp) && creal(zg) == creal(zp); /* +-oo */
		if (close_num(c, zg, zp, c->o->rel_tol))
			return 1;
		if (precision_match(c, p, zg) || precision_match(c, g, zp))
			return 1;
		if (c->o->percent && (c->pflags & SCR_NORM_PERCENT) && close_num(c, zg, zp / 100, c->o->rel_tol))
			return 1;
		if (c->o->percent && (c->gflags & SCR_NORM_PERCENT) && close_num(c, zg / 100, zp, c->o->rel_tol))
			return 1;
		return 0;
	}
	struct scr_binding b[MAX_VARS];
	int compared = 0;
	double complex k = 0;
	for (unsigned pt = 0; pt < N_POINTS; pt++) {
		for (size_t v = 0; v < nv; v++) {
			b[v].name = names[v];
			b[v].value = point_value(pt, (unsigned)v);
		}
		double complex zg = scr_node_eval(g, b, nv), zp = scr_node_eval(p, b, nv);
		/* outside one side's domain (log of a negative, a pole): this point says nothing */
		if (!finite_c(zg) || !finite_c(zp) || realish(zg) != realish(zp))
			continue;
		compared++;
		if (ratio) {
			if (cabs(zp) < 1e-12) {
				if (cabs(zg) > 1e-9)
					return 0;
				continue;
			}
			double complex r = zg / zp;
			if (compared == 1 || k == 0)
				k = r;
			else if (!close_num(c, r, k, 1e-7))
				return 0;
			continue;
		}
		/* a looser tolerance than for constants: two forms of one expression round differently */
		if (!close_num(c, zg, zp, fmax(c->o->rel_tol, 1e-7)) && !(cabs(zg - zp) < 1e-9))
			return 0;
	}
	return compared >= 3 && (!ratio || cabs(k) > 1e-12);
}

/* ---- structure ------------------------------------------------------------------------- */

static struct scr_node *scratch(struct cmp *c, int kind, const struct scr_node *a, const struct scr_node *b)
{
	if (c->used == N_SCRATCH)
		return NULL;
	struct scr_node *n = &c->scratch[c->used++];
	memset(n, 0, sizeof *n);
	n->kind = kind;
	n->a = (struct scr_node *)a;
	n->b = (struct scr_node *)b;
	return n;
}

/* Flattens a multi-answer ("3, 5", "3 or 5", "1 \pm \sqrt2", "x=2, x=3" when unwrapping
 * equations) into items[]; returns the count, or -1 when too many. */
static int flatten(struct cmp *c, const struct scr_node *n, const struct scr_node **items, int k, int unwrap)
{
	if (k < 0)
		return k;
	if (n->kind == SCR_N_LIST && n->op != 'c') {
		for (size_t i = 0; i < n->n && k >= 0; i++)
			k = flatten(c, n->kids[i], items, k, unwrap);
		return k;
	}
	if (unwrap && n->kind == SCR_N_REL && n->op == '=' && n->a->kind == SCR_N_VAR)
		return flatten(c, n->b, items, k, unwrap);
	if (n->kind == SCR_N_PM) {
		const struct scr_node *plus, *minus;
		if (n->a) {
			plus = scratch(c, SCR_N_ADD, n->a, n->b);
			minus = scratch(c, SCR_N_SUB, n->a, n->b);
		} else {
			plus = n->b;
			minus = scratch(c, SCR_N_NEG, n->b, NULL);
		}
		if (!plus || !minus || k + 2 > MAX_ITEMS)
			return -1;
		items[k++] = plus;
		items[k++] = minus;
		return k;
	}
	if (k == MAX_ITEMS)
		return -1;
	items[k++] = n;
	return k;
}

static int has_rel(const struct scr_node *const *items, int n)
{
	for (int i = 0; i < n; i++)
		if (items[i]->kind == SCR_N_REL)
			return 1;
	return 0;
}

/* Order-free: every item of each side equals some item of the other, and the counts agree unless
 * `as_set` (a set ignores repeats). */
static int unordered_eq(struct cmp *c, const struct scr_node *const *g, int ng, const struct scr_node *const *p,
			int np, int as_set)
{
	if (!as_set && ng != np)
		return 0;
	if (!as_set) { /* a matching: each predicted item used once */
		unsigned char used[MAX_ITEMS] = {0};
		for (int i = 0; i < ng; i++) {
			int j;
			for (j = 0; j < np; j++)
				if (!used[j] && eq(c, g[i], p[j]))
					break;
			if (j == np)
				return 0;
			used[j] = 1;
		}
		return 1;
	}
	for (int i = 0; i < ng; i++) {
		int j;
		for (j = 0; j < np && !eq(c, g[i], p[j]); j++)
			;
		if (j == np)
			return 0;
	}
	for (int j = 0; j < np; j++) {
		int i;
		for (i = 0; i < ng && !eq(c, g[i], p[j]); i++)
			;
		if (i == ng)
			return 0;
	}
	return 1;
}

static int ordered_eq(struct cmp *c, struct scr_node *const *g, size_t ng, struct scr_node *const *p, size_t np)
{
	if (ng != np)
		return 0;
	for (size_t i = 0; i < ng; i++)
		if (!eq(c, g[i], p[i]))
			return 0;
	return 1;
}

/* An interval: lo/hi nodes (NULL for -oo / +oo) and whether each end is open. */
struct ival {
	const struct scr_node *lo, *hi;
	int lo_open, hi_open;
};

static int is_var(const struct scr_node *n)
{
	return n->kind == SCR_N_VAR;
}

/* The relation read the other way round: a < b is b > a. */
static const char mirror[128] = {['<'] = '>', ['>'] = '<', ['l'] = 'g', ['g'] = 'l', ['='] = '=', ['n'] = 'n'};

/* x or -x: the side of an inequality that bounds a variable. */
static int var_side(const struct scr_node *n)
{
	return is_var(n) || (n->kind == SCR_N_NEG && is_var(n->a));
}

/* No variable anywhere in n: "\frac12 + 3" is a worked value. */
static int is_const(const struct scr_node *n)
{
	if (!n)
		return 1;
	if (n->kind == SCR_N_VAR)
		return 0;
	for (size_t i = 0; i < n->n; i++)
		if (!is_const(n->kids[i]))
			return 0;
	return is_const(n->a) && is_const(n->b);
}

/* x < 3, 3 \ge x, 1 < x \le 3, x \in [0,1], [0,1), (-oo, 2]: as an interval. */
static int to_interval(struct cmp *c, const struct scr_node *n, struct ival *iv)
{
	if (n->kind == SCR_N_TUPLE && n->n == 2 && (n->open == '(' || n->open == '[') &&
	    (n->close == ')' || n->close == ']')) {
		iv->lo = n->kids[0];
		iv->hi = n->kids[1];
		iv->lo_open = n->open == '(';
		iv->hi_open = n->close == ')';
		return 1;
	}
	if (n->kind == SCR_N_REL && n->op == 'i')
		return to_interval(c, n->b, iv);
	if (n->kind == SCR_N_REL && strchr("<>lg", n->op)) {
		const struct scr_node *v = n->a, *k = n->b;
		int op = n->op;
		if (!var_side(v)) { /* 3 > x reads as x < 3 */
			if (!var_side(k))
				return 0;
			v = n->b;
			k = n->a;
			op = mirror[op];
		}
		if (v->kind == SCR_N_NEG) { /* -x > -1 reads as x < 1 */
			if (!(k = scratch(c, SCR_N_NEG, k, NULL)))
				return 0;
			op = mirror[op];
		}
		if (op == '<' || op == 'l') {
			iv->lo = NULL;
			iv->lo_open = 1;
			iv->hi = k;
			iv->hi_open = op == '<';
		} else {
			iv->lo = k;
			iv->lo_open = op == '>';
			iv->hi = NULL;
			iv->hi_open = 1;
		}
		return 1;
	}
	if (n->kind == SCR_N_LIST && n->op == 'c' && n->n == 2) { /* a < x < b */
		const struct scr_node *r1 = n->kids[0], *r2 = n->kids[1];
		if (r1->kind != SCR_N_REL || r2->kind != SCR_N_REL || !is_var(r1->b) || !strchr("<l", r1->op) ||
		    !strchr("<l", r2->op))
			return 0;
		iv->lo = r1->a;
		iv->lo_open = r1->op == '<';
		iv->hi = r2->b;
		iv->hi_open = r2->op == '<';
		return 1;
	}
	return 0;
}

static int is_inf(const struct scr_node *n, int sign)
{
	if (!n)
		return 0;
	double complex z = scr_node_eval(n, NULL, 0);
	return realish(z) && isinf(creal(z)) && (creal(z) > 0) == (sign > 0);
}

static int end_eq(struct cmp *c, const struct scr_node *a, const struct scr_node *b, int sign)
{
	if (!a || !b)
		return (!a && !b) || is_inf(a ? a : b, sign);
	return eq(c, a, b);
}

static int interval_eq(struct cmp *c, const struct ival *g, const struct ival *p)
{
	/* an end at infinity is open whatever bracket was written */
	int glo = g->lo_open || !g->lo || is_inf(g->lo, -1), plo = p->lo_open || !p->lo || is_inf(p->lo, -1);
	int ghi = g->hi_open || !g->hi || is_inf(g->hi, 1), phi = p->hi_open || !p->hi || is_inf(p->hi, 1);
	return glo == plo && ghi == phi && end_eq(c, g->lo, p->lo, -1) && end_eq(c, g->hi, p->hi, 1);
}

static int flatten_union(const struct scr_node *n, const struct scr_node **items, int k)
{
	if (k < 0)
		return k;
	if (n->kind == SCR_N_UNION)
		return flatten_union(n->b, items, flatten_union(n->a, items, k));
	if (k == MAX_ITEMS)
		return -1;
	items[k++] = n;
	return k;
}

static int rel_eq(struct cmp *c, const struct scr_node *g, const struct scr_node *p)
{
	if (g->op == p->op && eq(c, g->a, p->a) && eq(c, g->b, p->b))
		return 1;
	if (g->op != 'i' && mirror[g->op & 127] == p->op && eq(c, g->a, p->b) && eq(c, g->b, p->a))
		return 1;
	if (g->op == '=' && p->op == '=') {
		/* the same equation rearranged: lhs - rhs proportional */
		struct scr_node *dg = scratch(c, SCR_N_SUB, g->a, g->b), *dp = scratch(c, SCR_N_SUB, p->a, p->b);
		return dg && dp && scalar_eq(c, dg, dp, 1);
	}
	struct ival a, b;
	return to_interval(c, g, &a) && to_interval(c, p, &b) && interval_eq(c, &a, &b);
}

/* A matrix expression folded into one matrix of element expressions: sums and differences of
 * same-shaped matrices, products (row by column, or by a scalar), negation. "A + B" against the
 * matrix it equals then compares element by element. NULL when n is no matrix expression or the
 * scratch space runs out (then nothing is equal, as before). */
static const struct scr_node *mat_fold(struct cmp *c, const struct scr_node *n, int depth)
{
	if (n->kind == SCR_N_MATRIX)
		return n;
	if (depth > 8 || !(n->kind == SCR_N_ADD || n->kind == SCR_N_SUB || n->kind == SCR_N_MUL || n->kind == SCR_N_NEG))
		return NULL;
	const struct scr_node *a = mat_fold(c, n->a, depth + 1), *b = n->b ? mat_fold(c, n->b, depth + 1) : NULL;
	int rows, cols;
	if (n->kind == SCR_N_NEG) {
		if (!a)
			return NULL;
		rows = a->rows, cols = a->cols;
	} else if (n->kind == SCR_N_MUL && a && b) {
		if (a->cols != b->rows)
			return NULL;
		rows = a->rows, cols = b->cols;
	} else if (n->kind == SCR_N_MUL && (a || b)) { /* scalar times matrix */
		const struct scr_node *o = a ? n->b : n->a;
		if (o->kind == SCR_N_TUPLE || o->kind == SCR_N_LIST || o->kind == SCR_N_SET)
			return NULL;
		rows = (a ? a : b)->rows, cols = (a ? a : b)->cols;
	} else if (a && b && a->rows == b->rows && a->cols == b->cols) {
		rows = a->rows, cols = a->cols;
	} else {
		return NULL;
	}
	size_t cells = (size_t)rows * (size_t)cols;
	if (c->kused + cells > N_SCRATCH)
		return NULL;
	struct scr_node *m = scratch(c, SCR_N_MATRIX, NULL, NULL);
	if (!m)
		return NULL;
	m->rows = rows;
	m->cols = cols;
	m->n = cells;
	m->kids = &c->kidpool[c->kused];
	c->kused += cells;
	for (int i = 0; i < rows; i++)
		for (int j = 0; j < cols; j++) {
			struct scr_node *e = NULL;
			if (n->kind == SCR_N_NEG) {
				e = scratch(c, SCR_N_NEG, a->kids[i * cols + j], NULL);
			} else if (n->kind == SCR_N_MUL && a && b) {
				for (int k = 0; k < a->cols; k++) {
					struct scr_node *t = scratch(c, SCR_N_MUL, a->kids[i * a->cols + k], b->kids[k * cols + j]);
					e = t && e ? scratch(c, SCR_N_ADD, e, t) : t;
					if (!e)
						return NULL;
				}
			} else if (n->kind == SCR_N_MUL) {
				e = a ? scratch(c, SCR_N_MUL, a->kids[i * cols + j], n->b)
				      : scratch(c, SCR_N_MUL, n->a, b->kids[i * cols + j]);
			} else {
				e = scratch(c, n->kind, a->kids[i * cols + j], b->kids[i * cols + j]);
			}
			if (!e)
				return NULL;
			m->kids[i * cols + j] = e;
		}
	return m;
}

static int eq(struct cmp *c, const struct scr_node *g, const struct scr_node *p)
{
	/* "x \in [0,1]" is the interval */
	if (g->kind == SCR_N_REL && g->op == 'i' && is_var(g->a))
		g = g->b;
	if (p->kind == SCR_N_REL && p->op == 'i' && is_var(p->a))
		p = p->b;

	const struct scr_node *gi[MAX_ITEMS], *pi[MAX_ITEMS];
	int multi_g = (g->kind == SCR_N_LIST && g->op != 'c') || g->kind == SCR_N_PM;
	int multi_p = (p->kind == SCR_N_LIST && p->op != 'c') || p->kind == SCR_N_PM;
	if (multi_g || multi_p) {
		/* a set against a bare list "1, 2": order-free, repeats ignored */
		if (g->kind == SCR_N_SET || p->kind == SCR_N_SET) {
			const struct scr_node *s = g->kind == SCR_N_SET ? g : p, *o = s == g ? p : g;
			int no = flatten(c, o, s == g ? pi : gi, 0, 1);
			if (no < 0 || s->n > MAX_ITEMS)
				return 0;
			const struct scr_node *const *sk = (const struct scr_node *const *)s->kids;
			return s == g ? unordered_eq(c, sk, (int)s->n, pi, no, 1) : unordered_eq(c, gi, no, sk, (int)s->n, 1);
		}
		/* a tuple gold against a bare list "1, 2": ordered */
		if (!multi_g && g->kind == SCR_N_TUPLE && g->open == '(' && p->kind == SCR_N_LIST)
			return ordered_eq(c, g->kids, g->n, p->kids, p->n);
		if (!multi_p && p->kind == SCR_N_TUPLE && p->open == '(' && g->kind == SCR_N_LIST)
			return ordered_eq(c, g->kids, g->n, p->kids, p->n);
		int ng = flatten(c, g, gi, 0, 0), np = flatten(c, p, pi, 0, 0);
		if (ng < 0 || np < 0)
			return 0;
		if (has_rel(gi, ng) != has_rel(pi, np)) { /* "x=2, x=3" vs "2, 3" */
			ng = flatten(c, g, gi, 0, 1);
			np = flatten(c, p, pi, 0, 1);
			if (ng < 0 || np < 0)
				return 0;
		}
		if (g->kind == SCR_N_SET || p->kind == SCR_N_SET)
			return unordered_eq(c, gi, ng, pi, np, 1);
		if (ng == 1 && np == 1 && (gi[0] != g || pi[0] != p))
			return eq(c, gi[0], pi[0]);
		if (ng == 1 || np == 1) {
			if (ng != np)
				return 0;
		}
		return unordered_eq(c, gi, ng, pi, np, 0);
	}

	/* equations against values: "x=3" vs "3", "y = 2x+1" vs "2x+1" */
	if (g->kind == SCR_N_REL && p->kind != SCR_N_REL) {
		if (g->op == '=' && is_var(g->a))
			return eq(c, g->b, p);
		struct ival a, b;
		return to_interval(c, g, &a) && to_interval(c, p, &b) && interval_eq(c, &a, &b);
	}
	if (p->kind == SCR_N_REL && g->kind != SCR_N_REL) {
		/* "x = 3", and a worked value "2 + 1 = 3" whose result is its last side */
		if (p->op == '=' && (is_var(p->a) || is_const(p->a)))
			return eq(c, g, p->b);
		struct ival a, b;
		return to_interval(c, g, &a) && to_interval(c, p, &b) && interval_eq(c, &a, &b);
	}
	if (g->kind == SCR_N_REL && p->kind == SCR_N_REL)
		return rel_eq(c, g, p);

	if (g->kind == SCR_N_LIST || p->kind == SCR_N_LIST) { /* inequality chains */
		struct ival a, b;
		return to_interval(c, g, &a) && to_interval(c, p, &b) && interval_eq(c, &a, &b);
	}

	if (g->kind == SCR_N_UNION || p->kind == SCR_N_UNION) {
		int ng = flatten_union(g, gi, 0), np = flatten_union(p, pi, 0);
		return ng > 0 && np > 0 && unordered_eq(c, gi, ng, pi, np, 0);
	}
	if (g->kind == SCR_N_SET || p->kind == SCR_N_SET) {
		if (g->kind == SCR_N_SET && p->kind == SCR_N_SET)
			return unordered_eq(c, (const struct scr_node *const *)g->kids, (int)g->n,
					    (const struct scr_node *const *)p->kids, (int)p->n, 1);
		/* "\{3\}" against "3" */
		const struct scr_node *s = g->kind == SCR_N_SET ? g : p, *o = s == g ? p : g;
		return s->n == 1 && (s == g ? eq(c, s->kids[0], o) : eq(c, o, s->kids[0]));
	}
	if (g->kind == SCR_N_TUPLE && p->kind == SCR_N_TUPLE) {
		struct ival a, b;
		if (g->n == 2 && p->n == 2 && to_interval(c, g, &a) && to_interval(c, p, &b) && (is_inf(a.lo, -1) || is_inf(a.hi, 1)))
			return interval_eq(c, &a, &b); /* an end at infinity is open however written */
		if (g->open != p->open || g->close != p->close)
			return 0;
		return ordered_eq(c, g->kids, g->n, p->kids, p->n);
	}
	if (g->kind == SCR_N_MATRIX || p->kind == SCR_N_MATRIX) {
		const struct scr_node *fg = mat_fold(c, g, 0), *fp = mat_fold(c, p, 0);
		if (fg && fp) {
			g = fg;
			p = fp;
		}
	}
	if (g->kind == SCR_N_MATRIX && p->kind == SCR_N_MATRIX)
		return g->rows == p->rows && g->cols == p->cols && ordered_eq(c, g->kids, g->n, p->kids, p->n);
	if ((g->kind == SCR_N_MATRIX && p->kind == SCR_N_TUPLE) || (g->kind == SCR_N_TUPLE && p->kind == SCR_N_MATRIX)) {
		/* a column vector written as a tuple */
		const struct scr_node *m = g->kind == SCR_N_MATRIX ? g : p;
		if (m->rows != 1 && m->cols != 1)
			return 0;
		return ordered_eq(c, g->kids, g->n, p->kids, p->n);
	}
	if (g->kind == SCR_N_TUPLE || p->kind == SCR_N_TUPLE || g->kind == SCR_N_MATRIX || p->kind == SCR_N_MATRIX)
		return 0;
	return scalar_eq(c, g, p, 0);
}

/* ---- text ---------------------------------------------------------------------------- */

/* Text answers: case-free, with spaces, braces and backslashes ignored ("\text{Monday}" = "monday"). */
static int text_eq(const char *a, const char *b)
{
	for (;;) {
		while (*a && (isspace((unsigned char)*a) || *a == '{' || *a == '}' || *a == '\\'))
			a++;
		while (*b && (isspace((unsigned char)*b) || *b == '{' || *b == '}' || *b == '\\'))
			b++;
		if (!*a || !*b)
			return !*a && !*b;
		if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
			return 0;
		a++;
		b++;
	}
}

/* "1, 2, 3, \ldots": a sequence that goes on (the normalizer drops the dots, which lets
 * "1, 2, \ldots, n" match itself), so it can never equal a finite list. */
static int open_ended(const char *s)
{
	size_t n = strlen(s);
	while (n > 0 && (isspace((unsigned char)s[n - 1]) || s[n - 1] == '$' || s[n - 1] == '}'))
		n--;
	static const char *const dots[] = {"...", "\\ldots", "\\dots", "\\cdots", "\xe2\x80\xa6"};
	for (size_t i = 0; i < sizeof dots / sizeof dots[0]; i++) {
		size_t l = strlen(dots[i]);
		if (n < l || memcmp(s + n - l, dots[i], l) != 0)
			continue;
		size_t k = n - l;
		while (k > 0 && isspace((unsigned char)s[k - 1]))
			k--;
		return k > 0 && s[k - 1] == ',';
	}
	return 0;
}

int scr_math_equal(const char *gold, const char *pred, const struct scr_math_opts *o, int *equal, struct evh_err *err)
{
	*equal = 0;
	if (open_ended(gold) != open_ended(pred))
		return EVH_OK;
	struct scr_math_opts defaults;
	if (!o) {
		scr_math_opts_defaults(&defaults);
		o = &defaults;
	}
	char *ng = NULL, *np = NULL;
	struct scr_expr *eg = NULL, *ep = NULL;
	struct cmp *c = calloc(1, sizeof *c);
	if (!c)
		return evh_err_fail(err, EVH_ENOMEM, "answer", "out of memory");
	c->o = o;
	int rc = scr_latex_normalize(gold, strlen(gold), &ng, &c->gflags, err);
	if (rc) {
		evh_err_prefix(err, "gold: ");
		goto out;
	}
	rc = scr_latex_normalize(pred, strlen(pred), &np, &c->pflags, err);
	if (rc) {
		evh_err_prefix(err, "prediction: ");
		goto out;
	}
	if (strcmp(ng, np) == 0 && *ng) {
		*equal = 1;
		goto out;
	}
	struct evh_err perr = {0};
	int rg = scr_expr_parse(ng, &eg, &perr);
	if (rg == EVH_ELIMIT || rg == EVH_ENOMEM) {
		rc = evh_err_fail(err, rg, perr.where, "gold: %s", perr.msg);
		goto out;
	}
	evh_err_clear(&perr);
	int rp = scr_expr_parse(np, &ep, &perr);
	if (rp == EVH_ELIMIT || rp == EVH_ENOMEM) {
		rc = evh_err_fail(err, rp, perr.where, "prediction: %s", perr.msg);
		goto out;
	}
	if (rg || rp) /* not mathematics on one side: compare as text */
		*equal = *ng && text_eq(ng, np);
	else
		*equal = eq(c, scr_expr_root(eg), scr_expr_root(ep));
out:
	scr_expr_free(eg);
	scr_expr_free(ep);
	free(ng);
	free(np);
	free(c);
	return rc;
}
