/* sandbox.c — the parent side of a sandbox run: probes once which isolation layers the host grants,
 * clones the child into its namespaces, gives it a cgroup and uid maps, captures its output up to
 * the caps, enforces the wall clock and collects the verdict. The child side is sandbox_child.c,
 * the seccomp filter sandbox_seccomp.c, the cgroup backends sandbox_cgroup.c. */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <linux/sched.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "harness/util/buf.h"
#include "scorers/sandbox_int.h"

/* Programs started by root get a uid of their own from this range, one per run, so that
 * RLIMIT_NPROC (counted per uid) of one sandbox is not eaten by its neighbours. */
#define SBX_UID_BASE 0x30000000u
#define SBX_UID_SPAN 0x00100000u

static const char *const step_names[] = {
	"none", "waiting for the parent", "mounting the sandbox root", "mounting /proc",
	"writing the work files", "pivot_root", "forking the program", "dropping privileges",
	"setting rlimits", "no_new_privs", "installing the seccomp filter", "entering the work folder",
	"exec", "entering the net namespace", "applying the Landlock scopes"};

static atomic_ulong run_seq;
static int g_net_fd = -1; /* shared_netns(), set once by the probe */

void sbx_limits_defaults(struct sbx_limits *l)
{
	l->wall_s = 10;
	l->cpu_s = 10;
	l->memory_bytes = 512u << 20;
	l->max_procs = 64;
	l->file_bytes = 64u << 20;
	l->max_files = 256;
	l->stdout_bytes = 8u << 20;
	l->stderr_bytes = 64u << 10;
}

void sbx_result_free(struct sbx_result *r)
{
	if (!r)
		return;
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof *r);
}

char *sbx_which(const char *name)
{
	if (strchr(name, '/'))
		return access(name, X_OK) == 0 ? realpath(name, NULL) : NULL;
	const char *path = getenv("PATH");
	if (!path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t l = strcspn(path, ":");
		char buf[4096];
		if (l > 0 && l + strlen(name) + 2 < sizeof buf) {
			snprintf(buf, sizeof buf, "%.*s/%s", (int)l, path, name);
			if (access(buf, X_OK) == 0)
				return realpath(buf, NULL);
		}
		path += l + (path[l] == ':');
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- one run ------------------------------------------------------------------------------- */

enum { F_STDIN, F_OUT_R, F_OUT_W, F_ERR_R, F_ERR_W, F_SYNC_P, F_SYNC_C, F_FAIL_R, F_FAIL_W, F_ST_R,
       F_ST_W, F_PIDFD, F_N };

struct run {
	int fds[F_N];
	pid_t pid;
	struct sbx_cg cg;
	char host_work[64];   /* mkdtemp folder when there is no mount namespace, "" otherwise */
	char **envp;
	int clone_errno;      /* clone3 refused: the probe narrows the namespaces */
	struct sbx_fail_msg fail;
};

static void run_close(struct run *r, int i)
{
	if (r->fds[i] >= 0)
		close(r->fds[i]);
	r->fds[i] = -1;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void run_cleanup(struct run *r)
{
	for (int i = 0; i < F_N; i++)
		run_close(r, i);
	sbx_cg_destroy(&r->cg);
	if (r->host_work[0])
		nftw(r->host_work, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	if (r->envp) {
		for (char **e = r->envp; *e; e++)
			free(*e);
		free(r->envp);
	}
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, text, strlen(text));
	close(fd);
	return n == (ssize_t)strlen(text) ? 0 : -1;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* The program's environment: a fixed minimal one plus spec->env; nothing of ours. */
static int build_env(struct run *r, const struct sbx_spec *s, const char *home)
{
	const char *fixed[] = {"PATH=/usr/local/bin:/usr/bin:/bin", "LANG=C.UTF-8", "LC_ALL=C.UTF-8"};
	size_t n_extra = 0;
	for (const char *const *e = s->env; e && *e; e++)
		n_extra++;
	size_t n = 3 + 2 + n_extra;
	r->envp = calloc(n + 1, sizeof *r->envp);
	if (!r->envp)
		return -1;
	size_t k = 0;
	for (size_t i = 0; i < 3; i++)
		r->envp[k++] = strdup(fixed[i]);
	char tmp[256];
	snprintf(tmp, sizeof tmp, "HOME=%s", home);
	r->envp[k++] = strdup(tmp);
	snprintf(tmp, sizeof tmp, "TMPDIR=%s", home);
	r->envp[k++] = strdup(tmp);
	for (const char *const *e = s->env; e && *e; e++)
		r->envp[k++] = strdup(*e);
	for (size_t i = 0; i < k; i++)
		if (!r->envp[i])
			return -1;
	return 0;
}

static int host_work_create(struct run *r, const struct sbx_spec *s, int is_root, uid_t uid)
{
	snprintf(r->host_work, sizeof r->host_work, "/tmp/evalh-sbx-XXXXXX");
	if (!mkdtemp(r->host_work)) {
		r->host_work[0] = 0;
		return -1;
	}
	if (is_root && chown(r->host_work, uid, uid) != 0)
		return -1;
	for (size_t i = 0; i < s->n_files; i++) {
		char path[4200];
		snprintf(path, sizeof path, "%s/%s", r->host_work, s->files[i].name);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			return -1;
		int bad = write_all(fd, s->files[i].data, s->files[i].len) != 0 ||
			  fchmod(fd, s->files[i].mode ? s->files[i].mode & 0777 : 0644) != 0 ||
			  (is_root && fchown(fd, uid, uid) != 0);
		close(fd);
		if (bad)
			return -1;
	}
	return 0;
}

/* Reads what is there into b up to its limit; the rest is read and dropped so the program never
 * blocks on a full pipe. Returns 1 at EOF. */
static int drain(int fd, struct evh_buf *b, int *truncated)
{
	char chunk[65536];
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof chunk);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return 0; /* EAGAIN: nothing more for now */
		if (n == 0)
			return 1;
		size_t room = b->limit - b->len;
		size_t take = (size_t)n < room ? (size_t)n : room;
		if (take > 0 && evh_buf_add(b, chunk, take) != 0)
			take = 0;
		if (take < (size_t)n)
			*truncated = 1;
	}
}

static int bad_name(const char *name)
{
	return !name || !name[0] || strchr(name, '/') || strcmp(name, ".") == 0 ||
	       strcmp(name, "..") == 0 || strlen(name) > 255;
}

/* One run with the given layers. On a setup failure in the child, r->fail says which step. */
static int run_once(const struct sbx_spec *s, int layers, struct run *r, struct sbx_result *out,
		    struct evh_err *err)
{
	const struct sbx_limits *l = &s->limits;
	int is_root = geteuid() == 0;
	uid_t uid = 0;
	struct evh_buf ob, eb;
	evh_buf_init(&ob, l->stdout_bytes);
	evh_buf_init(&eb, l->stderr_bytes);
	int rc = 0;

	memset(out, 0, sizeof *out);
	for (int i = 0; i < F_N; i++)
		r->fds[i] = -1;
	unsigned long id = atomic_fetch_add(&run_seq, 1);
	if (is_root)
		uid = SBX_UID_BASE + (uid_t)(id % SBX_UID_SPAN);

	int p[2];
	r->fds[F_STDIN] = memfd_create("evalh-stdin", MFD_CLOEXEC);
	if (r->fds[F_STDIN] < 0 || write_all(r->fds[F_STDIN], s->stdin_data ? s->stdin_data : "",
					     s->stdin_data ? s->stdin_len : 0) != 0 ||
	    lseek(r->fds[F_STDIN], 0, SEEK_SET) != 0) {
		rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "stdin memfd: %s", strerror(errno));
		goto done;
	}
	int pairs[][2] = {{F_OUT_R, F_OUT_W}, {F_ERR_R, F_ERR_W}, {F_FAIL_R, F_FAIL_W}, {F_ST_R, F_ST_W}};
	for (size_t i = 0; i < 4; i++) {
		if (pipe2(p, O_CLOEXEC) != 0) {
			rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "pipe: %s", strerror(errno));
			goto done;
		}
		r->fds[pairs[i][0]] = p[0];
		r->fds[pairs[i][1]] = p[1];
		fcntl(p[0], F_SETFL, O_NONBLOCK);
	}
	/* A socket pair for the go byte: send() with MSG_NOSIGNAL cannot raise SIGPIPE in the harness
	 * if the child is already gone. */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
		rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "socketpair: %s", strerror(errno));
		goto done;
	}
	r->fds[F_SYNC_P] = p[0];
	r->fds[F_SYNC_C] = p[1];

	if (!(layers & SBX_L_MNTNS) && host_work_create(r, s, is_root, uid) != 0) {
		rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "work folder: %s", strerror(errno));
		goto done;
	}
	if ((layers & (SBX_L_CGROUP1 | SBX_L_CGROUP2)) && sbx_cg_create(&r->cg, l, id) != 0) {
		rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "cgroup: %s", strerror(errno));
		goto done;
	}
	layers &= ~(SBX_L_CGROUP1 | SBX_L_CGROUP2);
	layers |= r->cg.layer;
	if (build_env(r, s, (layers & SBX_L_MNTNS) ? "/work" : r->host_work) != 0) {
		rc = evh_err_fail(err, EVH_ENOMEM, "sandbox", "out of memory for the environment");
		goto done;
	}

	struct sbx_child c;
	memset(&c, 0, sizeof c);
	c.spec = s;
	c.layers = layers;
	c.is_root = is_root;
	c.uid = uid;
	c.gid = uid;
	c.sync_rd = r->fds[F_SYNC_C];
	c.sync_parent = r->fds[F_SYNC_P];
	c.fail_wr = r->fds[F_FAIL_W];
	c.status_wr = r->fds[F_ST_W];
	c.stdin_fd = r->fds[F_STDIN];
	c.out_wr = r->fds[F_OUT_W];
	c.err_wr = r->fds[F_ERR_W];
	c.host_work = r->host_work;
	c.envp = r->envp;
	c.filter = (layers & SBX_L_SECCOMP) ? sbx_seccomp_filter(NULL) : NULL;
	if (is_root)
		snprintf(c.uid_opt, sizeof c.uid_opt, ",uid=%u,gid=%u", (unsigned)uid, (unsigned)uid);
	snprintf(c.size_opt, sizeof c.size_opt, "size=%zu,nr_inodes=%d,mode=0755", l->file_bytes,
		 4096);

	uint64_t flags = CLONE_PIDFD;
	if (layers & SBX_L_USERNS)
		flags |= CLONE_NEWUSER;
	if (layers & SBX_L_PIDNS)
		flags |= CLONE_NEWPID;
	c.net_fd = (layers & SBX_L_NETNS) ? g_net_fd : -1;
	if ((layers & SBX_L_NETNS) && c.net_fd < 0)
		flags |= CLONE_NEWNET;
	if (layers & SBX_L_MNTNS)
		flags |= CLONE_NEWNS;
	if (layers & SBX_L_IPCNS)
		flags |= CLONE_NEWIPC;
	if (layers & SBX_L_UTSNS)
		flags |= CLONE_NEWUTS;
	int pidfd = -1;
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = flags;
	ca.pidfd = (uint64_t)(uintptr_t)&pidfd;
	ca.exit_signal = SIGCHLD;
	int born_in = sbx_cg_enter(&r->cg);
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0)
		sbx_child_main(&c);
	int clone_errno = errno;
	if (pid > 0) {
		r->pid = (pid_t)pid;
		r->fds[F_PIDFD] = pidfd;
	}
	if (born_in && sbx_cg_leave() != 0) {
		/* Still inside the run's cgroup: its limits would bind the harness. */
		rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "cannot leave the run's cgroup: %s",
				  strerror(errno));
		goto done;
	}
	errno = clone_errno;
	if (pid < 0) {
		r->clone_errno = errno;
		rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "clone3: %s", strerror(errno));
		goto done;
	}
	int kids[] = {F_STDIN, F_OUT_W, F_ERR_W, F_SYNC_C, F_FAIL_W, F_ST_W};
	for (size_t i = 0; i < sizeof kids / sizeof kids[0]; i++)
		run_close(r, kids[i]);

	int setup_ok = 1;
	if (layers & SBX_L_USERNS) {
		char map[64], ready;
		snprintf(map, sizeof map, "0 %u 1", (unsigned)geteuid());
		/* The child says when its /proc files are ours to write (see sbx_child_main). */
		ssize_t k;
		while ((k = recv(r->fds[F_SYNC_P], &ready, 1, 0)) < 0 && errno == EINTR)
			;
		setup_ok = k == 1 && write_proc(r->pid, "setgroups", "deny") == 0 &&
			   write_proc(r->pid, "uid_map", map) == 0;
		snprintf(map, sizeof map, "0 %u 1", (unsigned)getegid());
		setup_ok = setup_ok && write_proc(r->pid, "gid_map", map) == 0;
	}
	if (setup_ok && !born_in && sbx_cg_attach(&r->cg, r->pid) != 0)
		setup_ok = 0;
	double t0 = now_s();
	if (!setup_ok || send(r->fds[F_SYNC_P], "g", 1, MSG_NOSIGNAL) != 1) {
		r->fail.step = SBX_STEP_SYNC;
		r->fail.errnum = errno;
	}
	run_close(r, F_SYNC_P); /* without the go byte the child reads EOF and gives up */

	/* Wait for the end, capturing output; the wall clock and a stdout past its cap kill the whole
	 * tree. */
	double deadline = t0 + l->wall_s;
	int out_open = 1, err_open = 1, killed = 0;
	for (;;) {
		struct pollfd pf[3] = {{r->fds[F_PIDFD], POLLIN, 0},
				       {out_open ? r->fds[F_OUT_R] : -1, POLLIN, 0},
				       {err_open ? r->fds[F_ERR_R] : -1, POLLIN, 0}};
		int ms = -1;
		if (!out->timed_out) {
			double left = deadline - now_s();
			ms = left <= 0 ? 0 : (int)ceil(left * 1000);
		}
		int n = poll(pf, 3, ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n == 0 && !out->timed_out) {
			out->timed_out = 1;
			kill(r->pid, SIGKILL);   /* init: its death takes the pid namespace */
			sbx_cg_kill(&r->cg);     /* everything else in the cgroup */
			continue;
		}
		if (pf[1].revents && drain(r->fds[F_OUT_R], &ob, &out->stdout_truncated))
			out_open = 0;
		if (out->stdout_truncated && !killed) {
			killed = 1;
			kill(r->pid, SIGKILL);
			sbx_cg_kill(&r->cg);
		}
		if (pf[2].revents && drain(r->fds[F_ERR_R], &eb, &out->stderr_truncated))
			err_open = 0;
		if (pf[0].revents)
			break;
	}
	out->wall_s = now_s() - t0;

	int st = 0;
	struct rusage ru;
	memset(&ru, 0, sizeof ru);
	while (wait4(r->pid, &st, 0, &ru) < 0 && errno == EINTR)
		;
	r->pid = 0; /* reaped: its number may be reused from now on */
	/* Leftovers outside a pid namespace (daemons that left the process group) die with the
	 * cgroup; then the pipes hold all there will ever be. */
	sbx_cg_kill(&r->cg);
	drain(r->fds[F_OUT_R], &ob, &out->stdout_truncated);
	drain(r->fds[F_ERR_R], &eb, &out->stderr_truncated);

	struct sbx_fail_msg fm;
	if (read(r->fds[F_FAIL_R], &fm, sizeof fm) == (ssize_t)sizeof fm && fm.step != 0 &&
	    r->fail.step == 0)
		r->fail = fm;
	if (r->fail.step != 0 && !out->timed_out) {
		int step = r->fail.step;
		if (step < 0 || step >= (int)(sizeof step_names / sizeof step_names[0]))
			step = 0;
		rc = evh_err_fail(err, EVH_ESANDBOX, "sandbox", "child setup failed while %s: %s",
				  step_names[step], strerror(r->fail.errnum));
		goto done;
	}

	struct sbx_status_msg sm;
	int have_status = read(r->fds[F_ST_R], &sm, sizeof sm) == (ssize_t)sizeof sm;
	if (have_status) {
		st = sm.status;
		ru = sm.ru;
	}
	if (out->timed_out && !have_status) {
		out->signal = SIGKILL;
	} else if (WIFEXITED(st)) {
		out->exited = 1;
		out->exit_status = WEXITSTATUS(st);
	} else if (WIFSIGNALED(st)) {
		out->signal = WTERMSIG(st);
	}
	out->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
		     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	out->cpu_exceeded = out->signal == SIGXCPU || (out->signal == SIGKILL && out->cpu_s >= l->cpu_s);
	sbx_cg_stats(&r->cg, &out->memory_exceeded, &out->peak_memory);
	if (!out->peak_memory)
		out->peak_memory = (size_t)ru.ru_maxrss * 1024;
	out->isolation = layers;
	out->out_len = ob.len;
	out->err_len = eb.len;
	out->out = evh_buf_take(&ob);
	out->err = evh_buf_take(&eb);
	if (!out->out || !out->err) {
		sbx_result_free(out);
		rc = evh_err_fail(err, EVH_ENOMEM, "sandbox", "out of memory for the output");
	}
done:
	if (rc != 0 && r->pid > 0) {
		/* The child may still wait for its go or run: never leave it behind. */
		kill(r->pid, SIGKILL);
		while (waitpid(r->pid, NULL, 0) < 0 && errno == EINTR)
			;
		r->pid = 0;
	}
	evh_buf_free(&ob);
	evh_buf_free(&eb);
	return rc;
}

/* ---- probe and public entry points ----------------------------------------------------------- */

static pthread_once_t probe_once = PTHREAD_ONCE_INIT;
static int g_layers, g_wanted;
static char g_notes[1024];
#define N_LAYERS 13
static char g_layer_notes[N_LAYERS][160]; /* by bit index: why the host refused that layer */

static int bit_index(int layer)
{
	for (int i = 0; i < N_LAYERS; i++)
		if (layer == 1 << i)
			return i;
	return -1;
}

/* Records a refusal once: in the one-line summary and against the layer(s) it concerns. */
static void note(int layers, const char *fmt, const char *arg)
{
	size_t n = strlen(g_notes);
	if (n + 2 < sizeof g_notes)
		snprintf(g_notes + n, sizeof g_notes - n, fmt, arg);
	for (int i = 0; i < N_LAYERS; i++)
		if ((layers & (1 << i)) && !g_layer_notes[i][0]) {
			snprintf(g_layer_notes[i], sizeof g_layer_notes[i], fmt, arg);
			size_t k = strlen(g_layer_notes[i]);
			while (k > 0 && (g_layer_notes[i][k - 1] == ' ' || g_layer_notes[i][k - 1] == ';'))
				g_layer_notes[i][--k] = 0;
		}
}

static const struct {
	int layer;
	uint64_t flag;
	const char *name;
} ns_layers[] = {
	{SBX_L_PIDNS, CLONE_NEWPID, "pid"}, {SBX_L_NETNS, CLONE_NEWNET, "net"},
	{SBX_L_MNTNS, CLONE_NEWNS, "mount"}, {SBX_L_IPCNS, CLONE_NEWIPC, "ipc"},
	{SBX_L_UTSNS, CLONE_NEWUTS, "uts"},
};

/* 1 when the kernel lets us clone a child into exactly these namespaces. */
static int clone_ok(uint64_t flags)
{
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = flags;
	ca.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0)
		_exit(0);
	if (pid < 0)
		return 0;
	while (waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
		;
	return 1;
}

/* Runs /bin/true with everything on and takes away what the host refuses, one layer per failure,
 * so that each refusal is found and reported once. */
/* Landlock's scopes (ABI 6, Linux 6.12): a program may connect to abstract unix sockets and signal
 * processes only of its own domain, i.e. of its own run. */
struct ll_attr {
	uint64_t handled_access_fs, handled_access_net, scoped;
};
#define LL_SCOPE_ABSTRACT_UNIX 1ULL
#define LL_SCOPE_SIGNAL 2ULL

static int landlock_scopes_ok(void)
{
	return syscall(SYS_landlock_create_ruleset, NULL, 0, 1UL /* _VERSION */) >= 6;
}

int sbx_landlock_scope(void)
{
	struct ll_attr a = {0, 0, LL_SCOPE_ABSTRACT_UNIX | LL_SCOPE_SIGNAL};
	int fd = (int)syscall(SYS_landlock_create_ruleset, &a, sizeof a, 0);
	if (fd < 0)
		return -1;
	int rc = (int)syscall(SYS_landlock_restrict_self, fd, 0);
	close(fd);
	return rc;
}

/* One empty net namespace for every run, held by a descriptor. A fresh one per run costs ~1 ms to
 * make and more to tear down (a quarter of the sandbox's whole cost over bare exec, measured), and
 * an empty one holds nothing a program can change without privileges: its loopback stays down,
 * seccomp allows no socket but AF_UNIX, and the one thing runs would share, the abstract unix
 * socket names, Landlock scopes to each run. So it is used only as root (setns needs the
 * privilege the clone still has) and with Landlock's scopes; otherwise each run makes its own.
 * Returns the descriptor, or -1. */
static int shared_netns(void)
{
	int p[2];
	if (pipe2(p, O_CLOEXEC) != 0)
		return -1;
	struct clone_args ca;
	memset(&ca, 0, sizeof ca);
	ca.flags = CLONE_NEWNET;
	ca.exit_signal = SIGCHLD;
	long pid = syscall(SYS_clone3, &ca, sizeof ca);
	if (pid == 0) {
		char b;
		close(p[1]);
		ssize_t n = read(p[0], &b, 1); /* holds the namespace until we have opened it */
		_exit(n < 0);
	}
	close(p[0]);
	int fd = -1;
	if (pid > 0) {
		char path[64];
		snprintf(path, sizeof path, "/proc/%ld/ns/net", pid);
		fd = open(path, O_RDONLY | O_CLOEXEC);
	}
	close(p[1]);
	while (pid > 0 && waitpid((pid_t)pid, NULL, 0) < 0 && errno == EINTR)
		;
	return fd;
}

/* Each run makes its own net namespace from now on. */
static void drop_shared_netns(void)
{
	if (g_net_fd >= 0)
		close(g_net_fd);
	g_net_fd = -1;
}

static void probe(void)
{
	int is_root = geteuid() == 0;
	int want = SBX_L_PIDNS | SBX_L_NETNS | SBX_L_MNTNS | SBX_L_IPCNS | SBX_L_UTSNS | SBX_L_NNP |
		   SBX_L_RLIMIT | SBX_L_SECCOMP | SBX_L_LANDLOCK | (is_root ? SBX_L_SETUID : SBX_L_USERNS);
	g_wanted = want | SBX_L_CGROUP1 | SBX_L_CGROUP2;
	if (!landlock_scopes_ok()) {
		want &= ~SBX_L_LANDLOCK;
		note(SBX_L_LANDLOCK, "%s", "Landlock scopes need Linux 6.12 with Landlock enabled; ");
	}
	const char *why = NULL;
	if (!sbx_seccomp_filter(&why)) {
		want &= ~SBX_L_SECCOMP;
		note(SBX_L_SECCOMP, "seccomp: %s; ", why);
	}
	int cg = sbx_cg_probe(&why);
	want |= cg;
	if (!cg)
		note(SBX_L_CGROUP1 | SBX_L_CGROUP2, "cgroup: %s; ", why);
	uint64_t base = 0;
	if (!is_root) {
		if (clone_ok(CLONE_NEWUSER)) {
			base = CLONE_NEWUSER;
		} else {
			want &= ~SBX_L_USERNS;
			note(SBX_L_USERNS | SBX_L_PIDNS | SBX_L_NETNS | SBX_L_MNTNS | SBX_L_IPCNS | SBX_L_UTSNS,
			     "%s", "user namespace refused: no namespaces as a non-root user; ");
		}
	}
	for (size_t i = 0; i < sizeof ns_layers / sizeof ns_layers[0]; i++) {
		if (!is_root && !base) {
			want &= ~ns_layers[i].layer;
			continue;
		}
		if (!clone_ok(base | ns_layers[i].flag)) {
			want &= ~ns_layers[i].layer;
			note(ns_layers[i].layer, "%s namespace refused; ", ns_layers[i].name);
		}
	}
	if (is_root && (want & SBX_L_NETNS) && (want & SBX_L_LANDLOCK))
		g_net_fd = shared_netns();
	char *t = sbx_which("/bin/true");
	if (!t)
		t = sbx_which("/usr/bin/true");
	const char *argv[] = {t, NULL};
	struct sbx_spec s;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	sbx_limits_defaults(&s.limits);
	s.limits.wall_s = 10;
	for (int tries = 0; t && tries < 6; tries++) {
		struct run r;
		struct sbx_result res;
		memset(&r, 0, sizeof r);
		int rc = run_once(&s, want, &r, &res, NULL);
		run_cleanup(&r);
		sbx_result_free(&res);
		if (rc == 0 || r.clone_errno)
			break;
		int step = r.fail.step;
		if (step == SBX_STEP_MOUNT || step == SBX_STEP_PROC || step == SBX_STEP_PIVOT ||
		    step == SBX_STEP_FILES) {
			want &= ~SBX_L_MNTNS;
			note(SBX_L_MNTNS, "private root refused while %s; ", step_names[step]);
		} else if (step == SBX_STEP_NET && g_net_fd >= 0) {
			drop_shared_netns();
		} else if (step == SBX_STEP_LANDLOCK) {
			want &= ~SBX_L_LANDLOCK;
			note(SBX_L_LANDLOCK, "%s", "Landlock scopes refused by the kernel; ");
			drop_shared_netns(); /* it was safe to share only with the scopes */
		} else if (step == SBX_STEP_SECCOMP) {
			want &= ~SBX_L_SECCOMP;
			note(SBX_L_SECCOMP, "%s", "seccomp filter refused by the kernel; ");
		} else if (step == SBX_STEP_SYNC && (want & (SBX_L_CGROUP1 | SBX_L_CGROUP2))) {
			want &= ~(SBX_L_CGROUP1 | SBX_L_CGROUP2);
			note(SBX_L_CGROUP1 | SBX_L_CGROUP2, "%s", "cgroup attach refused; ");
		} else {
			break;
		}
	}
	free(t);
	g_layers = want;
}

int sbx_caps(void)
{
	pthread_once(&probe_once, probe);
	return g_layers;
}

static const char *const layer_names[N_LAYERS] = {
	"userns", "pidns", "netns", "mntns", "ipcns", "utsns", "seccomp", "no_new_privs", "setuid",
	"cgroup-v1", "cgroup-v2", "rlimits", "landlock"};

int sbx_caps_wanted(void)
{
	sbx_caps();
	return g_wanted;
}

const char *sbx_layer_name(int layer)
{
	int i = bit_index(layer);
	return i < 0 ? NULL : layer_names[i];
}

const char *sbx_layer_note(int layer)
{
	sbx_caps();
	int i = bit_index(layer);
	return i < 0 || !g_layer_notes[i][0] || (g_layers & layer) ? NULL : g_layer_notes[i];
}

const char *sbx_caps_describe(char *buf, size_t n)
{
	const char *const *names = layer_names;
	int caps = sbx_caps();
	size_t k = 0;
	buf[0] = 0;
	for (size_t i = 0; i < N_LAYERS && k < n; i++)
		if (caps & (1 << i))
			k += (size_t)snprintf(buf + k, n - k, "%s%s", k ? " " : "", names[i]);
	if (g_notes[0] && k < n)
		snprintf(buf + k, n - k, " (refused: %s)", g_notes);
	return buf;
}

/* The process-wide limit on sandboxes running at once: state this module must own, since the
 * workers that call sbx_run (runner, pack validate, serve) know nothing of each other. */
static pthread_mutex_t g_slot_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_slot_cv = PTHREAD_COND_INITIALIZER;
static int g_slot_max, g_slot_running, g_slot_peak;

static int default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 && n < 4096 ? (int)n : 1;
}

void sbx_set_workers(int n)
{
	pthread_mutex_lock(&g_slot_mu);
	g_slot_max = n > 0 ? n : default_workers();
	g_slot_peak = g_slot_running;
	pthread_cond_broadcast(&g_slot_cv);
	pthread_mutex_unlock(&g_slot_mu);
}

int sbx_workers(void)
{
	pthread_mutex_lock(&g_slot_mu);
	int n = g_slot_max > 0 ? g_slot_max : default_workers();
	pthread_mutex_unlock(&g_slot_mu);
	return n;
}

int sbx_peak_running(void)
{
	pthread_mutex_lock(&g_slot_mu);
	int n = g_slot_peak;
	pthread_mutex_unlock(&g_slot_mu);
	return n;
}

static void slot_take(void)
{
	pthread_mutex_lock(&g_slot_mu);
	if (g_slot_max <= 0)
		g_slot_max = default_workers();
	while (g_slot_running >= g_slot_max)
		pthread_cond_wait(&g_slot_cv, &g_slot_mu);
	if (++g_slot_running > g_slot_peak)
		g_slot_peak = g_slot_running;
	pthread_mutex_unlock(&g_slot_mu);
}

static void slot_give(void)
{
	pthread_mutex_lock(&g_slot_mu);
	g_slot_running--;
	pthread_cond_signal(&g_slot_cv);
	pthread_mutex_unlock(&g_slot_mu);
}

static int sbx_run_one(const struct sbx_spec *spec, struct sbx_result *out, struct evh_err *err);

int sbx_run(const struct sbx_spec *spec, struct sbx_result *out, struct evh_err *err)
{
	slot_take();
	int rc = sbx_run_one(spec, out, err);
	slot_give();
	return rc;
}

static int sbx_run_one(const struct sbx_spec *spec, struct sbx_result *out, struct evh_err *err)
{
	memset(out, 0, sizeof *out);
	if (!spec || !spec->argv || !spec->argv[0] ||
	    (spec->argv[0][0] != '/' && (strncmp(spec->argv[0], "./", 2) != 0 || bad_name(spec->argv[0] + 2))))
		return evh_err_fail(err, EVH_EMISUSE, "sandbox", "argv[0] must be an absolute path or "
				    "./NAME of a work file");
	const struct sbx_limits *l = &spec->limits;
	if (!(l->wall_s > 0) || !(l->cpu_s > 0) || l->memory_bytes < (1u << 20) || l->max_procs < 1 ||
	    l->max_files < 4)
		return evh_err_fail(err, EVH_EMISUSE, "sandbox", "limits must be positive (wall %g s, "
				    "cpu %g s, memory %zu, procs %d, files %d)", l->wall_s, l->cpu_s,
				    l->memory_bytes, l->max_procs, l->max_files);
	for (size_t i = 0; i < spec->n_files; i++)
		if (bad_name(spec->files[i].name))
			return evh_err_fail(err, EVH_EMISUSE, "sandbox", "file %zu: a plain file name is "
					    "expected, found \"%s\"", i, spec->files[i].name ? spec->files[i].name : "(null)");
	for (const char *const *p = spec->ro_paths; p && *p; p++)
		if ((*p)[0] != '/' || strlen(*p) > 1000)
			return evh_err_fail(err, EVH_EMISUSE, "sandbox", "read-only path \"%s\" must be "
					    "absolute", *p);
	struct run r;
	memset(&r, 0, sizeof r);
	int rc = run_once(spec, sbx_caps(), &r, out, err);
	run_cleanup(&r);
	return rc;
}
