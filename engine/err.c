/* err.c — eng_strerror and the error helper every engine file reports through. */
#include <stdarg.h>
#include <stdio.h>

#include "engine/err.h"

const char *eng_strerror(int code)
{
	switch (code) {
	case ENG_OK: return "success";
	case ENG_ENOMEM: return "out of memory";
	case ENG_EIO: return "input/output error";
	case ENG_EFORMAT: return "malformed or truncated model file";
	case ENG_EUNSUPPORTED: return "unsupported model feature";
	case ENG_EMISUSE: return "engine API misuse";
	case ENG_ELIMIT: return "engine limit exceeded";
	case ENG_ECUDA: return "CUDA error";
	case ENG_EINTERNAL: return "internal engine error";
	case ENG_ECOMM: return "communication between ranks failed";
	}
	return "unknown engine error";
}

int eng_errf(struct eng_err *err, int code, const char *fmt, ...)
{
	if (!err || err->code != ENG_OK)
		return code;
	err->code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return code;
}
