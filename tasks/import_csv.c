/* import_csv.c — CSV rows for the importers (GPQA, AIME, MMLU, ARC files), parsed by libcsv in
 * strict RFC 4180 mode. libcsv reports fields and row ends but no positions, so the text is fed
 * one physical line at a time and each row is named by the line it starts on. */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <csv.h>

#include "tasks/import_int.h"

struct st {
	struct imp_ctx *c;
	struct evh_err *err;
	int want_header;
	cJSON *names; /* header fields, once read */
	cJSON *row;   /* fields of the row being read */
	size_t line;  /* physical line being fed */
	size_t start; /* line the current row started on; 0 between rows */
	size_t rows;  /* rows seen, header included */
	int rc;
	int stop_after_first; /* imp_csv_first_is_header: only the first row is wanted */
	int (*cb)(struct imp_ctx *c, const cJSON *rec, size_t line, void *arg, struct evh_err *err);
	void *arg;
};

static void on_field(void *s, size_t len, void *data)
{
	struct st *st = data;
	if (st->rc)
		return;
	if (!st->row && !(st->row = cJSON_CreateArray())) {
		st->rc = imp_fail(st->c, st->err, st->start, NULL, EVH_ENOMEM, "out of memory");
		return;
	}
	char *v = strndup(s ? s : "", s ? len : 0);
	cJSON *str = v ? cJSON_CreateString(v) : NULL;
	free(v);
	if (!str || !cJSON_AddItemToArray(st->row, str)) {
		cJSON_Delete(str);
		st->rc = imp_fail(st->c, st->err, st->start, NULL, EVH_ENOMEM, "out of memory");
	}
}

/* "Incorrect Answer 1" -> "incorrect_answer_1", so converters name fields one way. */
static void normalise(char *s)
{
	imp_trim(s);
	for (char *p = s; *p; p++)
		*p = *p == ' ' ? '_' : (char)tolower((unsigned char)*p);
}

static int deliver(struct st *st, cJSON *row, size_t line)
{
	if (!st->want_header)
		return st->cb(st->c, row, line, st->arg, st->err);
	if (!st->names) {
		const cJSON *f;
		cJSON_ArrayForEach(f, row) normalise(f->valuestring);
		st->names = cJSON_Duplicate(row, 1);
		return st->names ? 0 : imp_fail(st->c, st->err, line, NULL, EVH_ENOMEM, "out of memory");
	}
	int nr = cJSON_GetArraySize(row), nh = cJSON_GetArraySize(st->names);
	if (nr != nh)
		return imp_fail(st->c, st->err, line, NULL, EVH_EFORMAT, "%d field%s, the header has %d", nr,
				nr == 1 ? "" : "s", nh);
	cJSON *obj = cJSON_CreateObject();
	if (!obj)
		return imp_fail(st->c, st->err, line, NULL, EVH_ENOMEM, "out of memory");
	const cJSON *v = row->child;
	const cJSON *k;
	cJSON_ArrayForEach(k, st->names) {
		if (!cJSON_AddItemToObject(obj, k->valuestring, cJSON_Duplicate(v, 0))) {
			cJSON_Delete(obj);
			return imp_fail(st->c, st->err, line, NULL, EVH_ENOMEM, "out of memory");
		}
		v = v->next;
	}
	int rc = st->cb(st->c, obj, line, st->arg, st->err);
	cJSON_Delete(obj);
	return rc;
}

static void on_row(int ch, void *data)
{
	struct st *st = data;
	(void)ch;
	cJSON *row = st->row;
	size_t line = st->start ? st->start : st->line;
	st->row = NULL;
	st->start = 0;
	if (!st->rc && row) {
		st->rows++;
		if (st->stop_after_first) {
			if (st->rows == 1)
				st->names = cJSON_Duplicate(row, 1);
		} else {
			st->rc = deliver(st, row, line);
		}
	}
	cJSON_Delete(row);
}

static int parse(struct st *st, const char *data, size_t len)
{
	struct csv_parser p;
	if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0)
		return imp_fail(st->c, st->err, 0, NULL, EVH_ENOMEM, "out of memory");
	size_t pos = 0;
	while (pos < len && !st->rc && !(st->stop_after_first && st->rows)) {
		const char *nl = memchr(data + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - data) - pos + 1 : len - pos;
		st->line++;
		/* A row starts on the first line that is not blank after the previous row ended. */
		if (!st->start && n > strspn(data + pos, " \t\r\n"))
			st->start = st->line;
		if (csv_parse(&p, data + pos, n, on_field, on_row, st) != n && !st->rc)
			st->rc = imp_fail(st->c, st->err, st->line, NULL, EVH_EFORMAT,
					  "malformed CSV (row starting on line %zu): %s; quote a field holding "
					  "commas, quotes or newlines and double its quotes (RFC 4180)",
					  st->start ? st->start : st->line, csv_strerror(csv_error(&p)));
		pos += n;
	}
	if (!st->rc && !(st->stop_after_first && st->rows) && csv_fini(&p, on_field, on_row, st) != 0 && !st->rc)
		st->rc = imp_fail(st->c, st->err, st->start ? st->start : st->line, NULL, EVH_EFORMAT,
				  "unterminated quoted field at the end of the file (it starts on this line)");
	csv_free(&p);
	cJSON_Delete(st->row);
	st->row = NULL;
	return st->rc;
}

int imp_csv_each(struct imp_ctx *c, const char *data, size_t len, int header,
		 int (*rec_cb)(struct imp_ctx *c, const cJSON *rec, size_t line, void *arg, struct evh_err *err),
		 void *arg, struct evh_err *err)
{
	struct st st = {.c = c, .err = err, .want_header = header, .cb = rec_cb, .arg = arg};
	int rc = parse(&st, data, len);
	if (!rc && header && st.rows < 2)
		rc = imp_fail(c, err, 0, NULL, EVH_EFORMAT, "no rows after the CSV header");
	cJSON_Delete(st.names);
	return rc;
}

int imp_csv_first_is_header(const char *data, size_t len)
{
	struct imp_ctx c = {.file = "csv"};
	struct st st = {.c = &c, .stop_after_first = 1};
	parse(&st, data, len);
	int header = 1;
	const cJSON *last = st.names ? cJSON_GetArrayItem(st.names, cJSON_GetArraySize(st.names) - 1) : NULL;
	if (last && cJSON_IsString(last)) {
		char v[8];
		snprintf(v, sizeof v, "%s", last->valuestring);
		imp_trim(v);
		if (v[0] >= 'A' && v[0] <= 'J' && !v[1])
			header = 0;
	}
	cJSON_Delete(st.names);
	return header;
}
