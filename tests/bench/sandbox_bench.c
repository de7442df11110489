/* sandbox_bench.c — `make bench`, sandbox part (issue 4): N trivial correct Python test executions
 * through the sandbox with all workers, beside a plain fork/exec of python3 running the same file
 * with no isolation, as executions per second and a ratio. Both sides do the same bookkeeping a
 * scorer needs (a fresh folder holding the program, stdout captured, exit status checked), so the
 * difference is the isolation itself. Both start Python with -S: a host's site-packages may hold
 * .pth hooks whose cost depends on what they find (one here costs 70 ms on the host and less in
 * the sandbox), which would measure the host, not the sandbox. The runs alternate in rounds so that a noisy shared machine
 * drifts on both sides alike. A third row is the whole code scorer (driver, tests file, verdict).
 * usage: sandbox_bench [N] [WORKERS]; exit 1 when a correct program does not pass. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "scorers/code.h"
#include "scorers/code_int.h"
#include "scorers/sandbox.h"
#include "tests/unit/scorers/python_testutil.h"

static const char PROGRAM[] = "def add(a, b):\n    return a + b\n\nassert add(2, 3) == 5\nprint('ok')\n";
static char py_exe[1024], py_prefix[1024];

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- one execution, three ways ---------------------------------------------------------------- */

static int run_sandbox(void)
{
	const char *argv[] = {py_exe, "-I", "-S", "-B", "main.py", NULL};
	const char *ro[] = {py_prefix, NULL};
	struct sbx_file f = {"main.py", PROGRAM, sizeof PROGRAM - 1, 0};
	struct sbx_spec s;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.ro_paths = py_prefix[0] ? ro : NULL;
	s.files = &f;
	s.n_files = 1;
	sbx_limits_defaults(&s.limits);
	struct sbx_result r;
	if (sbx_run(&s, &r, NULL) != 0)
		return -1;
	int ok = r.exited && r.exit_status == 0 && strcmp(r.out, "ok\n") == 0;
	sbx_result_free(&r);
	return ok ? 0 : -1;
}

static int run_bare(void)
{
	char dir[] = "/tmp/evalh-bare-XXXXXX", path[64];
	if (!mkdtemp(dir))
		return -1;
	snprintf(path, sizeof path, "%s/main.py", dir);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	int ok = fd >= 0 && write(fd, PROGRAM, sizeof PROGRAM - 1) == (ssize_t)(sizeof PROGRAM - 1);
	if (fd >= 0)
		close(fd);
	int p[2];
	if (!ok || pipe2(p, O_CLOEXEC) != 0) {
		unlink(path);
		rmdir(dir);
		return -1;
	}
	pid_t pid = fork();
	if (pid == 0) {
		char *const argv[] = {py_exe, "-I", "-S", "-B", "main.py", NULL};
		/* A session of its own, as the sandbox's program has (and as harnesses that start
		 * tests with start_new_session do): with the kernel's autogroup scheduling a new
		 * session is a new scheduling group, which on a loaded machine is worth more CPU than
		 * the isolation costs, so both sides must have it. */
		setsid();
		if (chdir(dir) == 0 && dup2(p[1], 1) == 1)
			execv(py_exe, argv);
		_exit(127);
	}
	close(p[1]);
	char out[64];
	size_t n = 0;
	ssize_t k;
	while ((k = read(p[0], out + n, sizeof out - 1 - n)) > 0 || (k < 0 && errno == EINTR))
		n += k > 0 ? (size_t)k : 0;
	out[n] = 0;
	close(p[0]);
	int st = 0;
	while (pid > 0 && waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	unlink(path);
	rmdir(dir);
	return pid > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 0 && strcmp(out, "ok\n") == 0 ? 0 : -1;
}

static int run_scorer(void)
{
	struct scr_gold g;
	memset(&g, 0, sizeof g);
	g.tests = "[\"assert add(2, 3) == 5\"]";
	struct scr_result r;
	if (scr_code_score(NULL, "def add(a, b):\n    return a + b\n", &g, &r, NULL) != 0)
		return -1;
	int ok = r.verdict == SCR_PASS;
	free(r.extracted); /* not scr_result_free: scorer.o would drag every scorer's libraries in */
	free(r.detail);
	return ok ? 0 : -1;
}

/* ---- workers ---------------------------------------------------------------------------------- */

struct batch {
	int (*fn)(void);
	int n;
	atomic_int next, failed;
};

static void *worker(void *arg)
{
	struct batch *b = arg;
	while (atomic_fetch_add(&b->next, 1) < b->n)
		if (b->fn() != 0)
			atomic_fetch_add(&b->failed, 1);
	return NULL;
}

/* Runs n executions of fn on `workers` threads; returns the wall time, adds failures. */
static double batch_run(int (*fn)(void), int n, int workers, int *failed)
{
	struct batch b = {fn, n, 0, 0};
	pthread_t t[256];
	double t0 = now_s();
	for (int i = 0; i < workers; i++)
		pthread_create(&t[i], NULL, worker, &b);
	for (int i = 0; i < workers; i++)
		pthread_join(t[i], NULL);
	*failed += atomic_load(&b.failed);
	return now_s() - t0;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 1000;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int workers = argc > 2 ? atoi(argv[2]) : (int)(cores > 0 ? cores : 1);
	if (n < 10 || workers < 1 || workers > 256) {
		fprintf(stderr, "usage: sandbox_bench [N >= 10] [WORKERS 1..256]\n");
		return 2;
	}
	if (tu_find_python(py_exe, py_prefix, sizeof py_exe) != 0) {
		fprintf(stderr, "sandbox_bench: python3 not found\n");
		return 2;
	}
	char layers[2048];
	sbx_caps_describe(layers, sizeof layers); /* the one-time probe stays out of the timing */
	int failed[3] = {0, 0, 0};
	double wall[3] = {0, 0, 0};
	for (int i = 0; i < workers; i++) { /* warm the page cache and the interpreter cache */
		run_bare();
		run_sandbox();
		run_scorer();
	}
	const int rounds = 4;
	for (int r = 0; r < rounds; r++) {
		int part = n / rounds + (r < n % rounds);
		wall[0] += batch_run(run_bare, part, workers, &failed[0]);
		wall[1] += batch_run(run_sandbox, part, workers, &failed[1]);
	}
	int n_scorer = n / 4;
	wall[2] = batch_run(run_scorer, n_scorer, workers, &failed[2]);

	const char *names[] = {"bare fork/exec python3, no isolation", "sandbox (sbx_run), same program",
			       "code scorer (scr_code_score: driver + assert)"};
	int runs[] = {n, n, n_scorer};
	printf("sandbox benchmark: trivial correct Python test, %d workers (%ld cores)\n", workers, cores);
	printf("sandbox layers: %s\n\n", layers);
	printf("| mode | runs | failed | wall s | executions/s | ms per execution per worker |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: |\n");
	for (int i = 0; i < 3; i++)
		printf("| %s | %d | %d | %.2f | %.1f | %.1f |\n", names[i], runs[i], failed[i], wall[i],
		       runs[i] / wall[i], 1000.0 * wall[i] * workers / runs[i]);
	double ratio = (n / wall[0]) / (n / wall[1]);
	printf("\nsandbox / bare time per execution: %.3f (overhead %+.1f%%; target under +25%%: %s)\n", ratio,
	       100.0 * (ratio - 1), ratio < 1.25 ? "met" : "MISSED");
	if (failed[0] || failed[1] || failed[2]) {
		fprintf(stderr, "sandbox_bench: %d/%d/%d correct executions did not pass\n", failed[0], failed[1],
			failed[2]);
		return 1;
	}
	return 0;
}
