/* expr.h — a normalised answer (latex.h) parsed into an expression tree, and the tree evaluated at
 * a point. Handles numbers, \frac, \sqrt[n]{}, powers, \pi, e, i, \infty, \cdot \times \div,
 * implicit multiplication, functions (\sin, \log, ...), |x|, \binom, tuples, intervals, sets,
 * unions, matrices, \pm, relations (=, <, \le, \in) and lists ("3, 5"). Recursion is bounded by
 * SCR_LIMIT_DEPTH, so hostile input gets EVH_ELIMIT, never a stack overflow. */
#ifndef SCR_EXPR_H
#define SCR_EXPR_H

#include <complex.h>
#include <stddef.h>

#include "harness/util/err.h"
#include "scorers/latex.h"

enum scr_node_kind {
	SCR_N_NUM,    /* num; dec = digits after the point as written (-1: none), sig = significant digits */
	SCR_N_VAR,    /* name */
	SCR_N_CONST,  /* op: SCR_C_PI, SCR_C_E, SCR_C_I, SCR_C_INF */
	SCR_N_ADD,    /* a + b */
	SCR_N_SUB,    /* a - b */
	SCR_N_MUL,    /* a * b */
	SCR_N_DIV,    /* a / b */
	SCR_N_POW,    /* a ^ b */
	SCR_N_NEG,    /* -a */
	SCR_N_PM,     /* a \pm b (a NULL for a unary \pm b) */
	SCR_N_FUNC,   /* op: enum scr_func, argument a, b = log base or root index or binom k */
	SCR_N_LIST,   /* kids: "3, 5", "3 or 5" */
	SCR_N_TUPLE,  /* kids between open/close brackets: (1,2), [0,1), (1,2] */
	SCR_N_SET,    /* kids in \{ \} (or none: the empty set) */
	SCR_N_UNION,  /* a \cup b */
	SCR_N_MATRIX, /* kids row-major, rows x cols */
	SCR_N_REL,    /* a op b, op: '=', '<', '>', 'l' (\le), 'g' (\ge), 'n' (\ne), 'i' (\in) */
};

enum { SCR_C_PI, SCR_C_E, SCR_C_I, SCR_C_INF };

enum scr_func {
	SCR_F_SIN, SCR_F_COS, SCR_F_TAN, SCR_F_SEC, SCR_F_CSC, SCR_F_COT, SCR_F_ASIN, SCR_F_ACOS,
	SCR_F_ATAN, SCR_F_SINH, SCR_F_COSH, SCR_F_TANH, SCR_F_LN, SCR_F_LOG, SCR_F_EXP, SCR_F_SQRT,
	SCR_F_ROOT, SCR_F_ABS, SCR_F_FACT, SCR_F_BINOM,
};

struct scr_node {
	int kind;
	int op;
	double num;
	int dec, sig;
	char open, close;      /* TUPLE brackets */
	int rows, cols;        /* MATRIX */
	const char *name;      /* VAR, NUL-terminated, owned by the tree */
	struct scr_node *a, *b;
	struct scr_node **kids;
	size_t n;
	int height;            /* longest path to a leaf, bounded by SCR_LIMIT_EXPR_HEIGHT */
};

/* Grammar frames of the parser and height of a tree (evaluation recurses along it): generous for
 * any real answer, small enough for a worker thread's stack. */
#define SCR_LIMIT_EXPR_HEIGHT (8 * SCR_LIMIT_DEPTH)

struct scr_expr; /* a parsed answer: its nodes live and die together */

/* Parses a normalised answer. EVH_EFORMAT when it is not mathematics (plain words, unbalanced
 * brackets): the caller then compares it as text; EVH_ELIMIT past SCR_LIMIT_LATEX bytes or
 * SCR_LIMIT_DEPTH nesting. *out NULL on error; free with scr_expr_free. */
int scr_expr_parse(const char *s, struct scr_expr **out, struct evh_err *err);
const struct scr_node *scr_expr_root(const struct scr_expr *e);
void scr_expr_free(struct scr_expr *e);

/* Variable values for evaluation. */
struct scr_binding {
	const char *name;
	double complex value;
};

/* Value of a scalar node with the given variables; NaN for structures (lists, tuples, relations),
 * unbound variables and undefined operations. Never fails otherwise. */
double complex scr_node_eval(const struct scr_node *n, const struct scr_binding *vars, size_t nvars);

/* Appends the distinct variable names in n to names[0..*count) (at most max); returns 0, or -1 when
 * more than max distinct names occur. */
int scr_node_vars(const struct scr_node *n, const char **names, size_t *count, size_t max);

#endif
