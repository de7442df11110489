/* err.c — recording the root cause of a failure; see err.h. */
#include "harness/util/err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int evh_err_fail(struct evh_err *err, int code, const char *where, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	evh_err_failv(err, code, where, fmt, ap);
	va_end(ap);
	return code;
}

int evh_err_failv(struct evh_err *err, int code, const char *where, const char *fmt, va_list ap)
{
	if (!err || err->code != EVH_OK)
		return code;
	err->code = code;
	snprintf(err->where, sizeof err->where, "%s", where ? where : "");
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	/* One line: a newline inside a message would break line-oriented logs and JSONL tools. */
	for (char *p = err->msg; *p; p++)
		if (*p == '\n' || *p == '\r')
			*p = ' ';
	return code;
}

void evh_err_prefix(struct evh_err *err, const char *fmt, ...)
{
	if (!err || err->code == EVH_OK)
		return;
	char pre[EVH_ERR_MSG], old[EVH_ERR_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	/* Truncation is acceptable: the prefix is context, the tail of the message the least useful. */
	size_t np = strlen(pre);
	if (np >= sizeof err->msg)
		np = sizeof err->msg - 1;
	memcpy(err->msg, pre, np);
	size_t room = sizeof err->msg - 1 - np, no = strlen(old);
	if (no > room)
		no = room;
	memcpy(err->msg + np, old, no);
	err->msg[np + no] = '\0';
}

void evh_err_clear(struct evh_err *err)
{
	if (err)
		memset(err, 0, sizeof *err);
}

static const struct {
	const char *name, *sentence;
} codes[] = {
	[EVH_OK] = {"ok", "no error"},
	[EVH_ENOMEM] = {"nomem", "out of memory"},
	[EVH_EIO] = {"io", "input/output error"},
	[EVH_EFORMAT] = {"format", "malformed input"},
	[EVH_ELIMIT] = {"limit", "a size or count limit was exceeded"},
	[EVH_EUNSUPPORTED] = {"unsupported", "not supported"},
	[EVH_ENET] = {"net", "network error"},
	[EVH_EHTTP] = {"http", "HTTP error status"},
	[EVH_ETIMEOUT] = {"timeout", "timed out"},
	[EVH_ESANDBOX] = {"sandbox", "sandbox failure"},
	[EVH_EENGINE] = {"engine", "inference engine failure"},
	[EVH_EMISUSE] = {"misuse", "invalid argument or option"},
	[EVH_EINTERNAL] = {"internal", "internal error"},
	[EVH_ENOTFOUND] = {"notfound", "not found"},
};

const char *evh_strerror(int code)
{
	if (code < 0 || (size_t)code >= sizeof codes / sizeof codes[0] || !codes[code].name)
		return "unknown error";
	return codes[code].sentence;
}

const char *evh_code_name(int code)
{
	if (code < 0 || (size_t)code >= sizeof codes / sizeof codes[0] || !codes[code].name)
		return "unknown";
	return codes[code].name;
}

const char *evh_err_str(const struct evh_err *err, char *buf, size_t n)
{
	if (!err || err->code == EVH_OK)
		snprintf(buf, n, "no error");
	else if (err->where[0])
		snprintf(buf, n, "%s: %s", err->where, err->msg[0] ? err->msg : evh_strerror(err->code));
	else
		snprintf(buf, n, "%s", err->msg[0] ? err->msg : evh_strerror(err->code));
	return buf;
}
