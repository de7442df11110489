/* passk.c — pass@k, see passk.h. */
#include <math.h>

#include "scorers/passk.h"

double scr_pass_at_k(int n, int c, int k)
{
	if (n < 1 || c < 0 || c > n || k < 1 || k > n)
		return NAN;
	if (n - c < k)
		return 1.0; /* every draw of k holds a correct sample */
	double miss = 1.0;
	for (int i = n - c + 1; i <= n; i++)
		miss *= 1.0 - (double)k / (double)i;
	return 1.0 - miss;
}
