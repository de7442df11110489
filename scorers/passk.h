/* passk.h — the unbiased pass@k estimator of Chen et al. 2021 ("Evaluating Large Language Models
 * Trained on Code", eq. 1): with n samples of which c are correct, the chance that at least one of
 * k drawn without replacement is correct, 1 - C(n-c, k) / C(n, k). */
#ifndef SCR_PASSK_H
#define SCR_PASSK_H

/* Computed as 1 - prod_{i=n-c+1..n} (1 - k/i), which never forms a binomial coefficient and so
 * neither overflows nor cancels (the paper's numpy form). Returns NAN unless 0 <= c <= n and
 * 1 <= k <= n. */
double scr_pass_at_k(int n, int c, int k);

#endif
