/* sandbox_child.c — the cloned side of a sandbox run. The clone is init (pid 1 of the new pid
 * namespace when there is one): it waits for the parent's go, builds a minimal read-only root with a
 * tmpfs work folder, forks the program, reaps until the program ends and reports its status; its
 * exit then takes every leftover process of the namespace with it. The program's process drops
 * privileges, applies rlimits, no_new_privs and seccomp, and execs.
 * Only async-signal-safe calls here: the clone came from a threaded process (no malloc, no stdio). */
#include <errno.h>
#include <fcntl.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scorers/sandbox_int.h"

#define NEWROOT "/tmp" /* any existing folder: a tmpfs is mounted on it in our mount namespace */
#define WORK "/work"

static void fail(const struct sbx_child *c, int step)
{
	struct sbx_fail_msg m = {step, errno};
	ssize_t w = write(c->fail_wr, &m, sizeof m);
	(void)w;
	_exit(127);
}

/* out = a followed by b, cut to n (paths here are short and fixed, or checked by the parent). */
static void join(char *out, size_t n, const char *a, const char *b)
{
	size_t la = strnlen(a, n - 1);
	memcpy(out, a, la);
	size_t lb = strnlen(b, n - 1 - la);
	memcpy(out + la, b, lb);
	out[la + lb] = 0;
}

static int mkdir_p(const char *path)
{
	char tmp[4096];
	size_t len = strnlen(path, sizeof tmp - 1);
	memcpy(tmp, path, len);
	tmp[len] = 0;
	for (size_t i = 1; i <= len; i++) {
		if (tmp[i] != '/' && tmp[i] != 0)
			continue;
		char keep = tmp[i];
		tmp[i] = 0;
		if (mkdir(tmp, 0755) != 0 && errno != EEXIST)
			return -1;
		tmp[i] = keep;
	}
	return 0;
}

/* A read-only bind mount. Remounting a bind read-only inside a user namespace must keep the flags
 * the mount already has (they are locked), hence statvfs. */
static int bind_ro(const char *src, const char *dst)
{
	if (mount(src, dst, NULL, MS_BIND | MS_REC, NULL) != 0)
		return -1;
	struct statvfs sv;
	if (statvfs(dst, &sv) != 0)
		return -1;
	unsigned long fl = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID;
	if (sv.f_flag & ST_NODEV)
		fl |= MS_NODEV;
	if (sv.f_flag & ST_NOEXEC)
		fl |= MS_NOEXEC;
	if (sv.f_flag & ST_NOATIME)
		fl |= MS_NOATIME;
	if (sv.f_flag & ST_NODIRATIME)
		fl |= MS_NODIRATIME;
	if (sv.f_flag & ST_RELATIME)
		fl |= MS_RELATIME;
	return mount(NULL, dst, NULL, fl, NULL);
}

/* Makes host path `p` visible at the same place under the new root: a symlink is copied as a
 * symlink (merged-/usr hosts: /bin -> usr/bin), a folder or file is bind-mounted read-only.
 * Missing host paths are skipped unless `required`. */
static int expose(const char *p, int required)
{
	struct stat st;
	char dst[4096];
	join(dst, sizeof dst, NEWROOT, p);
	if (lstat(p, &st) != 0)
		return required ? -1 : 0;
	if (S_ISLNK(st.st_mode)) {
		char target[4096];
		ssize_t n = readlink(p, target, sizeof target - 1);
		if (n < 0)
			return -1;
		target[n] = 0;
		return symlink(target, dst) == 0 || errno == EEXIST ? 0 : -1;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir_p(dst) != 0)
			return -1;
	} else {
		int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		if (fd < 0)
			return -1;
		close(fd);
	}
	return bind_ro(p, dst);
}

static void write_files(const struct sbx_child *c, const char *dir)
{
	const struct sbx_spec *s = c->spec;
	for (size_t i = 0; i < s->n_files; i++) {
		char path[4096];
		join(path, sizeof path, dir, "/");
		join(path, sizeof path, path, s->files[i].name);
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			fail(c, SBX_STEP_FILES);
		const char *p = s->files[i].data;
		size_t left = s->files[i].len;
		while (left > 0) {
			ssize_t w = write(fd, p, left);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				fail(c, SBX_STEP_FILES);
			p += w;
			left -= (size_t)w;
		}
		/* fchmod, not open's mode: the umask inherited from the harness would cut it. */
		if (fchmod(fd, s->files[i].mode ? s->files[i].mode & 0777 : 0644) != 0)
			fail(c, SBX_STEP_FILES);
		if (c->is_root && fchown(fd, c->uid, c->gid) != 0)
			fail(c, SBX_STEP_FILES);
		close(fd);
	}
}

static void dev_node(const struct sbx_child *c, const char *name)
{
	char src[64], dst[128];
	join(src, sizeof src, "/dev/", name);
	join(dst, sizeof dst, NEWROOT "/dev/", name);
	int fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0666);
	if (fd < 0)
		fail(c, SBX_STEP_MOUNT);
	close(fd);
	if (mount(src, dst, NULL, MS_BIND, NULL) != 0)
		fail(c, SBX_STEP_MOUNT);
}

/* The program's whole view of the file system: read-only /usr (and the /bin, /lib links), the few
 * /etc files the dynamic loader and libc read, the configured interpreter folders, /dev basics, a
 * fresh /proc of its own pid namespace, and a size-limited tmpfs /work (also /tmp) that dies with
 * the namespace. Nothing else of the host exists. */
static void setup_root(const struct sbx_child *c)
{
	static const char *const top[] = {"/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"};
	static const char *const etc[] = {"/etc/ld.so.cache", "/etc/ld.so.conf", "/etc/localtime",
					  "/etc/alternatives", "/etc/passwd", "/etc/group"};
	static const char *const devs[] = {"null", "zero", "full", "random", "urandom"};
	char opts[160];

	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0 ||
	    mount("tmpfs", NEWROOT, "tmpfs", MS_NOSUID | MS_NODEV, "size=1m,nr_inodes=4096,mode=0755") != 0)
		fail(c, SBX_STEP_MOUNT);
	if (expose("/usr", 1) != 0)
		fail(c, SBX_STEP_MOUNT);
	for (size_t i = 0; i < sizeof top / sizeof top[0]; i++)
		if (expose(top[i], 0) != 0)
			fail(c, SBX_STEP_MOUNT);
	if (mkdir(NEWROOT "/etc", 0755) != 0)
		fail(c, SBX_STEP_MOUNT);
	for (size_t i = 0; i < sizeof etc / sizeof etc[0]; i++)
		if (expose(etc[i], 0) != 0)
			fail(c, SBX_STEP_MOUNT);
	for (const char *const *p = c->spec->ro_paths; p && *p; p++)
		if (expose(*p, 1) != 0)
			fail(c, SBX_STEP_MOUNT);

	if (mkdir(NEWROOT "/dev", 0755) != 0)
		fail(c, SBX_STEP_MOUNT);
	for (size_t i = 0; i < sizeof devs / sizeof devs[0]; i++)
		dev_node(c, devs[i]);
	if (symlink("/proc/self/fd", NEWROOT "/dev/fd") != 0 ||
	    symlink("/proc/self/fd/0", NEWROOT "/dev/stdin") != 0 ||
	    symlink("/proc/self/fd/1", NEWROOT "/dev/stdout") != 0 ||
	    symlink("/proc/self/fd/2", NEWROOT "/dev/stderr") != 0)
		fail(c, SBX_STEP_MOUNT);

	join(opts, sizeof opts, c->size_opt, c->uid_opt);
	if (mkdir(NEWROOT WORK, 0755) != 0 ||
	    mount("tmpfs", NEWROOT WORK, "tmpfs", MS_NOSUID | MS_NODEV, opts) != 0)
		fail(c, SBX_STEP_MOUNT);
	write_files(c, NEWROOT WORK);
	if (symlink("work", NEWROOT "/tmp") != 0)
		fail(c, SBX_STEP_MOUNT);

	/* Our own /proc only when the pid namespace is ours: the host's would show every process. */
	if (c->layers & SBX_L_PIDNS) {
		if (mkdir(NEWROOT "/proc", 0555) != 0)
			fail(c, SBX_STEP_PROC);
		/* hidepid=2: init is a clone of the harness, so its command line must stay unseen. */
		if (mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, "hidepid=2") != 0 &&
		    mount("proc", NEWROOT "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) != 0)
			fail(c, SBX_STEP_PROC);
	}

	if (mkdir(NEWROOT "/oldroot", 0700) != 0 ||
	    syscall(SYS_pivot_root, NEWROOT, NEWROOT "/oldroot") != 0 || chdir("/") != 0 ||
	    umount2("/oldroot", MNT_DETACH) != 0 || rmdir("/oldroot") != 0)
		fail(c, SBX_STEP_PIVOT);
	if (mount(NULL, "/", NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, NULL) != 0)
		fail(c, SBX_STEP_PIVOT);
}

static void set_limit(const struct sbx_child *c, int res, rlim_t soft, rlim_t hard)
{
	struct rlimit rl = {soft, hard};
	if (setrlimit(res, &rl) != 0)
		fail(c, SBX_STEP_RLIMIT);
}

/* The program's process: never returns. */
static void program(const struct sbx_child *c)
{
	const struct sbx_spec *s = c->spec;
	const struct sbx_limits *l = &s->limits;

	if (dup2(c->stdin_fd, 0) < 0 || dup2(c->out_wr, 1) < 0 || dup2(c->err_wr, 2) < 0)
		fail(c, SBX_STEP_FILES);
	int fw = fcntl(c->fail_wr, F_DUPFD_CLOEXEC, 3);
	if (fw < 0)
		fail(c, SBX_STEP_FILES);
	struct sbx_child cc = *c;
	cc.fail_wr = fw;
	c = &cc;
	/* Nothing of the parent's other descriptors (other sandboxes' pipes, the harness's files). */
	if (fw > 3)
		syscall(SYS_close_range, 3, fw - 1, 0);
	syscall(SYS_close_range, fw + 1, ~0U, 0);

	if (setsid() < 0)
		fail(c, SBX_STEP_IDS);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (chdir((c->layers & SBX_L_MNTNS) ? WORK : c->host_work) != 0)
		fail(c, SBX_STEP_CHDIR);

	if (c->is_root) {
		/* Raw syscalls: glibc's setresuid and friends signal every thread it believes the
		 * process has and wait for them, and a clone of a threaded parent has only one. */
		if (syscall(SYS_setgroups, 0, NULL) != 0 || syscall(SYS_setresgid, c->gid, c->gid, c->gid) != 0 ||
		    syscall(SYS_setresuid, c->uid, c->uid, c->uid) != 0)
			fail(c, SBX_STEP_IDS);
	} else if (c->layers & SBX_L_USERNS) {
		/* uid 0 of our user namespace: exec must not hand it capabilities back. */
		if (prctl(PR_SET_SECUREBITS, SECBIT_NOROOT | SECBIT_NOROOT_LOCKED) != 0)
			fail(c, SBX_STEP_IDS);
	}

	rlim_t cpu = (rlim_t)l->cpu_s + ((double)(rlim_t)l->cpu_s < l->cpu_s);
	if (cpu < 1)
		cpu = 1;
	/* Address space: the limit itself without a cgroup; with one, a looser backstop so that the
	 * cgroup (which counts what is really used) decides and virtual reservations stay cheap. */
	rlim_t as = (c->layers & (SBX_L_CGROUP1 | SBX_L_CGROUP2)) ? 4 * (rlim_t)l->memory_bytes + (1u << 30)
							       : (rlim_t)l->memory_bytes;
	set_limit(c, RLIMIT_CPU, cpu, cpu + 1);
	set_limit(c, RLIMIT_AS, as, as);
	set_limit(c, RLIMIT_NPROC, (rlim_t)l->max_procs, (rlim_t)l->max_procs);
	set_limit(c, RLIMIT_FSIZE, (rlim_t)l->file_bytes, (rlim_t)l->file_bytes);
	set_limit(c, RLIMIT_NOFILE, (rlim_t)l->max_files, (rlim_t)l->max_files);
	set_limit(c, RLIMIT_CORE, 0, 0);
	set_limit(c, RLIMIT_MEMLOCK, 0, 0);
	set_limit(c, RLIMIT_MSGQUEUE, 0, 0);

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		fail(c, SBX_STEP_NNP);
	/* After no_new_privs, which an unprivileged Landlock domain needs. */
	if ((c->layers & SBX_L_LANDLOCK) && sbx_landlock_scope() != 0)
		fail(c, SBX_STEP_LANDLOCK);
	if (c->filter && prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, c->filter) != 0)
		fail(c, SBX_STEP_SECCOMP);
	execve(s->argv[0], (char *const *)s->argv, c->envp);
	fail(c, SBX_STEP_EXEC);
}

void sbx_child_main(const struct sbx_child *c)
{
	char go;
	prctl(PR_SET_PDEATHSIG, SIGKILL); /* the harness dies: so does the sandbox */
	close(c->sync_parent);
	/* The harness is not dumpable (its memory holds API keys), and a clone inherits that, which
	 * makes our /proc files root's: unprivileged, the parent could not write our uid_map. So we
	 * are dumpable only until the go, while nothing but the parent acts on us; init then stays
	 * undumpable, so the program cannot read the harness's memory through /proc/1/mem. */
	if ((c->layers & SBX_L_USERNS) &&
	    (prctl(PR_SET_DUMPABLE, 1) != 0 || write(c->sync_rd, "r", 1) != 1)) /* ready for the maps */
		fail(c, SBX_STEP_SYNC);
	if (read(c->sync_rd, &go, 1) != 1)
		fail(c, SBX_STEP_SYNC);
	close(c->sync_rd);
	if (c->layers & SBX_L_USERNS)
		prctl(PR_SET_DUMPABLE, 0);
	if (c->net_fd >= 0 && syscall(SYS_setns, c->net_fd, CLONE_NEWNET) != 0)
		fail(c, SBX_STEP_NET);
	if (c->layers & SBX_L_MNTNS)
		setup_root(c);
	/* Without a pid namespace, orphans of the program come back to us rather than to the host's
	 * init, so they stay in reach of the cgroup and the process group kill. */
	prctl(PR_SET_CHILD_SUBREAPER, 1);

	pid_t pid = (pid_t)syscall(SYS_clone, SIGCHLD, 0, NULL, NULL, 0);
	if (pid < 0)
		fail(c, SBX_STEP_FORK);
	if (pid == 0)
		program(c);

	/* init: keep only the status pipe, reap everything, report the program's end. */
	int sw = c->status_wr;
	if (sw > 0)
		syscall(SYS_close_range, 0, sw - 1, 0);
	syscall(SYS_close_range, sw + 1, ~0U, 0);
	struct sbx_status_msg m;
	memset(&m, 0, sizeof m);
	for (;;) {
		int st;
		pid_t w = waitpid(-1, &st, 0);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			_exit(126);
		if (w == pid) {
			m.status = st;
			break;
		}
	}
	getrusage(RUSAGE_CHILDREN, &m.ru);
	ssize_t wr = write(sw, &m, sizeof m);
	(void)wr;
	_exit(0);
}
