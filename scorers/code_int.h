/* code_int.h — shared by the code scorer's own files (code.c, code_extract.c, code_driver.c). */
#ifndef SCR_CODE_INT_H
#define SCR_CODE_INT_H

#include <stddef.h>

/* The program in a response: the text after the last </think>, then the last fenced block tagged
 * python/py/python3 or untagged (an unclosed last fence runs to the end); the whole text when there
 * is none. Returns a malloc'd string (NULL on OOM); *rule gets "fenced" or "whole". */
char *scr_code_extract(const char *response, const char **rule);

/* The Python driver that runs in the sandbox (scorers/SANDBOX.md, "Driver protocol"). */
extern const char scr_code_driver[];

#endif
