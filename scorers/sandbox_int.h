/* sandbox_int.h — what the sandbox's own files share (sandbox.c, sandbox_child.c,
 * sandbox_cgroup.c, sandbox_seccomp.c). Not for other modules: they include sandbox.h. */
#ifndef SBX_SANDBOX_INT_H
#define SBX_SANDBOX_INT_H

#include <linux/filter.h>
#include <sys/resource.h>
#include <sys/types.h>

#include "scorers/sandbox.h"

/* Steps of the child's setup, reported through the error pipe when one fails. The parent maps a
 * failed step of the probe run to the layer the host refuses (sandbox.c: probe). */
enum sbx_step {
	SBX_STEP_NONE = 0,
	SBX_STEP_SYNC,
	SBX_STEP_MOUNT,
	SBX_STEP_PROC,
	SBX_STEP_FILES,
	SBX_STEP_PIVOT,
	SBX_STEP_FORK,
	SBX_STEP_IDS,
	SBX_STEP_RLIMIT,
	SBX_STEP_NNP,
	SBX_STEP_SECCOMP,
	SBX_STEP_CHDIR,
	SBX_STEP_EXEC,
	SBX_STEP_NET,
	SBX_STEP_LANDLOCK,
};

/* What the child reports when a setup step fails. */
struct sbx_fail_msg {
	int step;
	int errnum;
};

/* What the sandbox's init (pid 1 of the namespace) reports when the program ends. */
struct sbx_status_msg {
	int status;        /* waitpid status of the program */
	struct rusage ru;  /* RUSAGE_CHILDREN of init: the program and all it spawned and init reaped */
};

/* Everything the child needs, prepared by the parent: the child allocates nothing, because it was
 * cloned from a threaded process where another thread may hold the malloc lock. */
struct sbx_child {
	const struct sbx_spec *spec;
	int layers;               /* enum sbx_layer in effect */
	int is_root;
	uid_t uid;                /* the program's uid/gid when started as root */
	gid_t gid;
	int sync_rd;              /* one byte "go" once uid maps and cgroups are set */
	int sync_parent;          /* the parent's end: closed at once, so a parent that gives up is EOF */
	int fail_wr;              /* sbx_fail_msg on a failed step; closed on exec */
	int status_wr;            /* sbx_status_msg from init */
	int stdin_fd, out_wr, err_wr;
	const char *host_work;    /* work folder on the host when there is no mount namespace */
	char *const *envp;
	const struct sock_fprog *filter; /* NULL: no seccomp */
	int net_fd;               /* the shared empty net namespace to enter, -1: the clone made one */
	char uid_opt[64];         /* ",uid=N,gid=N" for the tmpfs work folder, "" when not root */
	char size_opt[64];        /* "size=N,nr_inodes=M,mode=0755" */
};

/* Runs in the cloned child (pid 1 of the new pid namespace when there is one); never returns. */
void sbx_child_main(const struct sbx_child *c) __attribute__((noreturn));

/* Confines the calling process's abstract unix sockets and signals to its own Landlock domain
 * (sandbox.c; a raw syscall, safe in the clone). 0 or -1. */
int sbx_landlock_scope(void);

/* seccomp program built once (sandbox_seccomp.c); NULL with a reason when libseccomp fails. */
const struct sock_fprog *sbx_seccomp_filter(const char **why);

/* cgroup backend: v2 or v1, chosen once (sandbox_cgroup.c), as Redis picks an aeApi backend. */
struct sbx_cg {
	int layer;              /* SBX_L_CGROUP1 / SBX_L_CGROUP2, 0 when none */
	char mem[512];          /* v2: the one folder; v1: memory folder */
	char pids[512];         /* v1 only */
	int procs;              /* its pids.max */
};
/* Probed once: SBX_L_CGROUP2, SBX_L_CGROUP1 or 0 with a reason in *why. */
int sbx_cg_probe(const char **why);
int sbx_cg_create(struct sbx_cg *cg, const struct sbx_limits *l, unsigned long id);
int sbx_cg_attach(const struct sbx_cg *cg, pid_t pid);
/* Around the clone, so that it is born in the run's cgroups and needs no sbx_cg_attach: enter
 * moves the calling thread in (1) or does nothing (0: attach after the clone); leave moves it back
 * home (-1 if it cannot, and then the thread must not clone again). */
int sbx_cg_enter(const struct sbx_cg *cg);
int sbx_cg_leave(void);
void sbx_cg_kill(const struct sbx_cg *cg);
void sbx_cg_stats(const struct sbx_cg *cg, int *oom, size_t *peak);
void sbx_cg_destroy(struct sbx_cg *cg);

#endif
