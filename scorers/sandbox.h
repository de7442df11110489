/* sandbox.h — runs one untrusted program with limits and isolation (scorers/SANDBOX.md).
 * Linux only: namespaces, rlimits, seccomp-bpf (libseccomp), no_new_privs, cgroup v2 or v1, a fresh
 * work folder. Each layer the host refuses is skipped and reported in sbx_caps; the others apply.
 * Outcomes (timeout, memory, signals, truncated output) are data in struct sbx_result, not errors. */
#ifndef SBX_SANDBOX_H
#define SBX_SANDBOX_H

#include <stddef.h>

#include "harness/util/err.h"

/* Isolation layers, as bits of sbx_caps() and sbx_result.isolation. */
enum sbx_layer {
	SBX_L_USERNS = 1 << 0,  /* user namespace (unprivileged start) */
	SBX_L_PIDNS = 1 << 1,   /* own pid namespace: the whole tree dies with the program */
	SBX_L_NETNS = 1 << 2,   /* own network namespace: no interfaces but a down loopback */
	SBX_L_MNTNS = 1 << 3,   /* own mount namespace with a minimal read-only root */
	SBX_L_IPCNS = 1 << 4,
	SBX_L_UTSNS = 1 << 5,
	SBX_L_SECCOMP = 1 << 6, /* seccomp-bpf filter (no inet sockets, ptrace, mount, ...) */
	SBX_L_NNP = 1 << 7,     /* PR_SET_NO_NEW_PRIVS */
	SBX_L_SETUID = 1 << 8,  /* started as root: runs as an unprivileged uid of its own */
	SBX_L_CGROUP1 = 1 << 9, /* cgroup v1 memory + pids limits */
	SBX_L_CGROUP2 = 1 << 10,/* cgroup v2 memory.max + pids.max */
	SBX_L_RLIMIT = 1 << 11, /* always: CPU, address space, nproc, fsize, nofile, core 0 */
	SBX_L_LANDLOCK = 1 << 12, /* Landlock scopes: abstract unix sockets and signals stay in the run */
	SBX_L_LAST = SBX_L_LANDLOCK,
};

/* One file put into the work folder before the program starts. Name is a plain file name. */
struct sbx_file {
	const char *name;
	const char *data;
	size_t len;
	unsigned mode;         /* permission bits; 0 means 0644 (0755 for a compiled program) */
};

struct sbx_limits {
	double wall_s;         /* wall clock; the whole tree gets SIGKILL after it */
	double cpu_s;          /* RLIMIT_CPU (rounded up to whole seconds) */
	size_t memory_bytes;   /* cgroup memory limit; RLIMIT_AS is a looser backstop */
	int max_procs;         /* pids.max / RLIMIT_NPROC (threads count) */
	size_t file_bytes;     /* RLIMIT_FSIZE, and the work folder's size when it is a tmpfs */
	int max_files;         /* RLIMIT_NOFILE */
	size_t stdout_bytes;   /* captured stdout; past it the whole tree is killed (an output
				* limit, stdout_truncated set): output that cannot be judged whole is
				* not worth waiting for */
	size_t stderr_bytes;   /* captured stderr; the rest is read and dropped (stderr_truncated),
				* the program goes on */
};

/* Reasonable defaults: 10 s wall, 10 s CPU, 512 MiB, 64 procs, 64 MiB files, 256 fds, 8 MiB out,
 * 64 KiB err. */
void sbx_limits_defaults(struct sbx_limits *l);

struct sbx_spec {
	const char *const *argv;       /* argv[0] an absolute path (the environment has no PATH search),
				        * or "./NAME": one of `files`, run from the work folder */
	const char *const *env;        /* extra "K=V" entries, NULL-terminated, or NULL; nothing of the
				        * parent's environment is passed */
	const char *stdin_data;        /* may be NULL: empty stdin */
	size_t stdin_len;
	const struct sbx_file *files;  /* put into the work folder, which is the program's cwd */
	size_t n_files;
	const char *const *ro_paths;   /* host folders made visible read-only at the same path (an
				        * interpreter outside /usr), NULL-terminated, or NULL */
	struct sbx_limits limits;
};

struct sbx_result {
	int exited;            /* 1: exit_status is valid */
	int exit_status;
	int signal;            /* killing signal, 0 when exited */
	int timed_out;         /* wall clock reached; killed */
	int cpu_exceeded;      /* SIGXCPU / CPU limit reached */
	int memory_exceeded;   /* the cgroup's OOM killer fired */
	int stdout_truncated;  /* stdout passed its cap: the tree was killed (output limit) */
	int stderr_truncated;  /* stderr passed its cap: cut, the program went on */
	char *out;             /* malloc'd, NUL-terminated (may contain NULs before it); out_len bytes */
	size_t out_len;
	char *err;
	size_t err_len;
	double wall_s;
	double cpu_s;          /* user + system of the whole tree */
	size_t peak_memory;    /* bytes: cgroup peak when known, else max RSS */
	int isolation;         /* enum sbx_layer bits in effect for this run */
};

/* Runs spec in a fresh sandbox and waits for it. Returns 0 with *out filled whatever the program did;
 * an error (EVH_ESANDBOX, EVH_ENOMEM, EVH_EMISUSE) means the sandbox itself failed and no verdict
 * exists (*out is left zeroed). Thread-safe: many threads may run sandboxes at once. Free *out with
 * sbx_result_free. */
int sbx_run(const struct sbx_spec *spec, struct sbx_result *out, struct evh_err *err);
void sbx_result_free(struct sbx_result *r);

/* At most n sandboxes run at once in this process (`--sandbox-workers`); further sbx_run calls wait
 * for a free place. n <= 0 restores the default, the number of online cores: code benchmarks run
 * many tests per sample, and more sandboxes than cores only adds timeouts. Thread-safe. */
void sbx_set_workers(int n);
int sbx_workers(void);
/* The most sandboxes seen running at once since the last sbx_set_workers (for tests). */
int sbx_peak_running(void);

/* The layers this host grants (probed once, thread-safe), and a one-line note on each refused one
 * written into buf (for `evalh doctor`). */
int sbx_caps(void);
const char *sbx_caps_describe(char *buf, size_t n);

/* For `evalh doctor`: the layers the sandbox tries on this host (root: setuid, else userns; both
 * cgroup versions), a short name for one layer bit ("pidns", "cgroup-v2", ...; NULL for a non-layer)
 * and why the host refused it (static text, NULL when it is in effect or was not tried).
 * Thread-safe once sbx_caps() has run. */
int sbx_caps_wanted(void);
const char *sbx_layer_name(int layer);
const char *sbx_layer_note(int layer);

/* Finds `name` on the parent's PATH (before any scrubbing) and returns a malloc'd absolute path, or
 * NULL when not found. */
char *sbx_which(const char *name);

#endif
