/* regex.c — the "regex" scorer of simple.h: the pack's PCRE2 pattern picks the answer (as
 * lm-evaluation-harness's regex filter does), then it is compared with the gold exactly, as a
 * number or as mathematics. The pattern is compiled per call: microseconds beside a model call. */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <cjson/cJSON.h>
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "scorers/extract.h"
#include "scorers/math.h"
#include "scorers/simple.h"

/* Backtracking budget per search: a pathological pattern on a long response stops here instead of
 * running for minutes (PCRE2's own default is 10 million). */
#define MATCH_LIMIT 2000000
#define DEPTH_LIMIT 100000

enum compare { CMP_EXACT, CMP_NUMERIC, CMP_MATH };

struct regex_opts {
	const char *pattern;   /* borrowed from the parsed options */
	int group;             /* -1: default (1 when the pattern has a group, else 0) */
	const char *group_name;/* named group, or NULL */
	int last;
	int fold;
	enum compare cmp;
	double rel, abs_tol;
};

static int bad(struct evh_err *err, const char *key, const char *want)
{
	return evh_err_fail(err, EVH_EFORMAT, "scorer options", "regex scorer: \"%s\" must be %s", key, want);
}

static int parse_opts(const cJSON *root, struct regex_opts *o, struct evh_err *err)
{
	*o = (struct regex_opts){.group = -1, .last = 1, .fold = 1, .cmp = CMP_EXACT, .rel = 1e-6, .abs_tol = 1e-9};
	if (!cJSON_IsObject(root))
		return evh_err_fail(err, EVH_EFORMAT, "scorer options",
				    "regex scorer: expected a JSON object with a \"pattern\"");
	for (const cJSON *it = root->child; it; it = it->next) {
		const char *k = it->string;
		int taken, rc;
		if (!strcmp(k, "pattern")) {
			if (!cJSON_IsString(it) || !*it->valuestring)
				return bad(err, k, "a non-empty PCRE2 pattern string");
			o->pattern = it->valuestring;
		} else if (!strcmp(k, "group")) {
			if (cJSON_IsString(it) && *it->valuestring)
				o->group_name = it->valuestring;
			else if (cJSON_IsNumber(it) && it->valuedouble >= 0 && it->valuedouble <= 65535 &&
				 it->valuedouble == (int)it->valuedouble)
				o->group = (int)it->valuedouble;
			else
				return bad(err, k, "a capture group number >= 0 or a group name");
		} else if (!strcmp(k, "match")) {
			if (!cJSON_IsString(it) || (strcmp(it->valuestring, "first") && strcmp(it->valuestring, "last")))
				return bad(err, k, "\"first\" or \"last\"");
			o->last = !strcmp(it->valuestring, "last");
		} else if (!strcmp(k, "case_sensitive")) {
			if (!cJSON_IsBool(it))
				return bad(err, k, "true or false");
			o->fold = !cJSON_IsTrue(it);
		} else if (!strcmp(k, "compare")) {
			const char *v = cJSON_IsString(it) ? it->valuestring : "";
			if (!strcmp(v, "exact"))
				o->cmp = CMP_EXACT;
			else if (!strcmp(v, "numeric"))
				o->cmp = CMP_NUMERIC;
			else if (!strcmp(v, "math"))
				o->cmp = CMP_MATH;
			else
				return bad(err, k, "\"exact\", \"numeric\" or \"math\"");
		} else if ((rc = scr_numeric_opt(it, &o->rel, &o->abs_tol, &taken, err))) {
			return rc;
		} else if (!taken) {
			return evh_err_fail(err, EVH_EFORMAT, "scorer options",
					    "unknown option \"%s\" for the regex scorer (known: pattern, group, match, "
					    "compare, case_sensitive, tolerance, abs_tolerance)", k);
		}
	}
	if (!o->pattern)
		return evh_err_fail(err, EVH_EFORMAT, "scorer options", "regex scorer: \"pattern\" is required");
	return EVH_OK;
}

static int compile(const struct regex_opts *o, pcre2_code **code, int *group, struct evh_err *err)
{
	int ec;
	PCRE2_SIZE eo;
	/* UTF-8 with Unicode classes; a response that is not valid UTF-8 is still searched. */
	*code = pcre2_compile((PCRE2_SPTR)o->pattern, PCRE2_ZERO_TERMINATED,
			      PCRE2_UTF | PCRE2_UCP | PCRE2_MATCH_INVALID_UTF, &ec, &eo, NULL);
	if (!*code) {
		PCRE2_UCHAR msg[160];
		pcre2_get_error_message(ec, msg, sizeof msg);
		return evh_err_fail(err, EVH_EFORMAT, "scorer options", "regex scorer: bad \"pattern\" at offset %zu: %s",
				    (size_t)eo, (const char *)msg);
	}
	uint32_t ncap = 0;
	pcre2_pattern_info(*code, PCRE2_INFO_CAPTURECOUNT, &ncap);
	if (o->group_name) {
		*group = pcre2_substring_number_from_name(*code, (PCRE2_SPTR)o->group_name);
		if (*group < 0)
			return evh_err_fail(err, EVH_EFORMAT, "scorer options",
					    "regex scorer: \"group\": the pattern has no single group named \"%s\"",
					    o->group_name);
	} else {
		*group = o->group >= 0 ? o->group : ncap > 0;
		if ((uint32_t)*group > ncap)
			return evh_err_fail(err, EVH_EFORMAT, "scorer options",
					    "regex scorer: \"group\" %d but the pattern has %u capture group(s)", *group,
					    (unsigned)ncap);
	}
	return EVH_OK;
}

/* Finds the answer span: capture `group` of the last (or first) match where it is set and not
 * blank. *limited = 1 when PCRE2 gave up on its limits. */
static int search(const pcre2_code *code, int group, int last, const char *s, size_t n, const char **ans,
		  size_t *len, int *limited, struct evh_err *err)
{
	*ans = NULL;
	*limited = 0;
	pcre2_match_data *md = pcre2_match_data_create_from_pattern(code, NULL);
	pcre2_match_context *mc = pcre2_match_context_create(NULL);
	if (!md || !mc) {
		pcre2_match_data_free(md);
		pcre2_match_context_free(mc);
		return evh_err_fail(err, EVH_ENOMEM, "scorers/regex", "out of memory");
	}
	pcre2_set_match_limit(mc, MATCH_LIMIT);
	pcre2_set_depth_limit(mc, DEPTH_LIMIT);
	int rc = EVH_OK;
	PCRE2_SIZE off = 0;
	while (off <= n) {
		int m = pcre2_match(code, (PCRE2_SPTR)s, n, off, 0, md, mc);
		if (m == PCRE2_ERROR_NOMATCH)
			break;
		if (m == PCRE2_ERROR_MATCHLIMIT || m == PCRE2_ERROR_DEPTHLIMIT || m == PCRE2_ERROR_HEAPLIMIT) {
			*limited = 1;
			*ans = NULL;
			break;
		}
		if (m < 0) {
			PCRE2_UCHAR msg[160];
			pcre2_get_error_message(m, msg, sizeof msg);
			rc = evh_err_fail(err, EVH_EINTERNAL, "scorers/regex", "match failed: %s", (const char *)msg);
			break;
		}
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(md);
		PCRE2_SIZE a = ov[2 * group], b = ov[2 * group + 1];
		if (group < m && a != PCRE2_UNSET) {
			while (a < b && (s[a] == ' ' || s[a] == '\t' || s[a] == '\n' || s[a] == '\r'))
				a++;
			while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t' || s[b - 1] == '\n' || s[b - 1] == '\r'))
				b--;
			if (b > a) {
				*ans = s + a;
				*len = b - a;
				if (!last)
					break;
			}
		}
		/* An empty match moves on one character (not into the middle of a UTF-8 sequence). */
		off = ov[1] > ov[0] ? ov[1] : ov[0] + 1;
		while (off < n && ((unsigned char)s[off] & 0xC0) == 0x80)
			off++;
	}
	pcre2_match_data_free(md);
	pcre2_match_context_free(mc);
	return rc;
}

static int judge(const struct regex_opts *o, const char *gold, struct scr_result *out, struct evh_err *err)
{
	if (o->cmp == CMP_EXACT) {
		out->verdict = scr_exact_equal(gold, out->extracted, o->fold) ? SCR_CORRECT : SCR_WRONG;
		return EVH_OK;
	}
	if (o->cmp == CMP_NUMERIC)
		return scr_numeric_compare(gold, out->extracted, o->rel, o->abs_tol, out, err);
	struct scr_math_opts mo;
	scr_math_opts_defaults(&mo);
	struct evh_err e = {0};
	int equal;
	int rc = scr_math_equal(gold, out->extracted, &mo, &equal, &e);
	if (rc == EVH_ELIMIT && strncmp(e.msg, "prediction", 10) == 0) {
		out->verdict = SCR_WRONG; /* past the parser's limits: the same on every retry */
		out->detail = strdup(e.msg);
		return out->detail ? EVH_OK : evh_err_fail(err, EVH_ENOMEM, "scorers/regex", "out of memory");
	}
	if (rc)
		return evh_err_fail(err, rc, e.where, "%s", e.msg);
	out->verdict = equal ? SCR_CORRECT : SCR_WRONG;
	return EVH_OK;
}

int scr_regex_score(const char *options_json, const char *response, const struct scr_gold *gold,
		    struct scr_result *out, struct evh_err *err)
{
	cJSON *root = options_json ? cJSON_Parse(options_json) : NULL;
	struct regex_opts o;
	pcre2_code *code = NULL;
	int group = 0;
	int rc = parse_opts(root, &o, err);
	if (!rc)
		rc = compile(&o, &code, &group, err);
	size_t n, len = 0;
	const char *s = scr_strip_think(response, &n), *ans = NULL;
	int limited = 0;
	if (!rc)
		rc = search(code, group, o.last, s, n, &ans, &len, &limited, err);
	if (rc)
		goto out;
	out->rule = "regex";
	if (limited) {
		out->verdict = SCR_WRONG;
		out->detail = strdup("regex: the response exhausted the pattern's match limits");
		if (!out->detail)
			rc = evh_err_fail(err, EVH_ENOMEM, "scorers/regex", "out of memory");
		goto out;
	}
	if (!ans) {
		out->rule = NULL;
		out->verdict = SCR_NO_ANSWER;
		goto out;
	}
	out->extracted = strndup(ans, len);
	if (!out->extracted) {
		rc = evh_err_fail(err, EVH_ENOMEM, "scorers/regex", "out of memory");
		goto out;
	}
	rc = judge(&o, gold->answer, out, err);
out:
	pcre2_code_free(code);
	cJSON_Delete(root);
	return rc;
}
