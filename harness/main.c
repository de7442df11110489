/* main.c — the evalh command line (placeholder until the CLI lands). */
#include <stdio.h>

int main(void)
{
	fprintf(stderr, "evalh: not built yet\n");
	return 2;
}
