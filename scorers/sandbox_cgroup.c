/* sandbox_cgroup.c — per-run cgroup with a memory and a pids limit: cgroup v2 where a child of our
 * own cgroup can be made with those controllers, else v1 memory + pids hierarchies (hybrid hosts),
 * else none (rlimits still apply). The backend is chosen once. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "scorers/sandbox_int.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static int backend;           /* SBX_L_CGROUP2, SBX_L_CGROUP1 or 0 */
static char base_mem[400];    /* v2: our cgroup folder; v1: our memory cgroup folder */
static char base_pids[400];   /* v1: our pids cgroup folder */
static const char *probe_why = "not probed";

static int write_file(const char *dir, const char *name, const char *val)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = write(fd, val, strlen(val));
	close(fd);
	return n == (ssize_t)strlen(val) ? 0 : -1;
}

static int read_file(const char *dir, const char *name, char *buf, size_t n)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t r = read(fd, buf, n - 1);
	close(fd);
	if (r < 0)
		return -1;
	buf[r] = 0;
	return 0;
}

static int exists(const char *dir, const char *name)
{
	char path[600];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	return access(path, F_OK) == 0;
}

/* `word` is one of the comma-separated items of `list` ("rw,memory" has "memory"). */
static int has_word(const char *list, const char *word)
{
	size_t wl = strlen(word);
	for (const char *p = list; p;) {
		size_t l = strcspn(p, ",");
		if (l == wl && strncmp(p, word, wl) == 0)
			return 1;
		p = p[l] ? p + l + 1 : NULL;
	}
	return 0;
}

/* Finds the mount point of the hierarchy that holds `controller` (v1, "cgroup" fstype) or the
 * cgroup2 mount (controller NULL), and joins our own cgroup path from /proc/self/cgroup. */
static int own_folder(const char *controller, char *out, size_t n)
{
	FILE *mi = fopen("/proc/self/mountinfo", "re");
	if (!mi)
		return -1;
	char line[1024], mnt_root[400] = "", mnt_point[400] = "";
	int found = 0;
	while (!found && fgets(line, sizeof line, mi)) {
		char root[400], point[400], fstype[64], super[400];
		const char *dash = strstr(line, " - ");
		if (!dash || sscanf(line, "%*s %*s %*s %399s %399s", root, point) != 2 ||
		    sscanf(dash + 3, "%63s %*s %399s", fstype, super) != 2)
			continue;
		if (controller ? strcmp(fstype, "cgroup") == 0 && strstr(super, controller)
			       : strcmp(fstype, "cgroup2") == 0) {
			if (controller && !has_word(super, controller))
				continue;
			snprintf(mnt_root, sizeof mnt_root, "%s", root);
			snprintf(mnt_point, sizeof mnt_point, "%s", point);
			found = 1;
		}
	}
	fclose(mi);
	if (!found)
		return -1;
	FILE *cg = fopen("/proc/self/cgroup", "re");
	if (!cg)
		return -1;
	found = 0;
	while (!found && fgets(line, sizeof line, cg)) {
		char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		if (!c2)
			continue;
		*c2 = 0;
		char *path = c2 + 1;
		path[strcspn(path, "\n")] = 0;
		int match;
		if (controller) {
			match = has_word(c1 + 1, controller);
		} else {
			match = strcmp(line, "0") == 0 && c1[1] == 0;
		}
		if (!match)
			continue;
		/* The mount may show a sub-tree (mount root != "/"): strip it from our path. */
		size_t rl = strlen(mnt_root);
		if (strcmp(mnt_root, "/") != 0 && strncmp(path, mnt_root, rl) == 0)
			path += rl;
		snprintf(out, n, "%s%s", mnt_point, strcmp(path, "/") == 0 ? "" : path);
		found = 1;
	}
	fclose(cg);
	return found ? 0 : -1;
}

/* A folder can be made under base, and it offers the files we need. */
static int try_child(const char *base, const char *const *need)
{
	char dir[600];
	snprintf(dir, sizeof dir, "%s/evalh-probe-%d", base, (int)getpid());
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -1;
	int ok = 1;
	for (; *need; need++)
		ok &= exists(dir, *need);
	rmdir(dir);
	return ok ? 0 : -1;
}

static void probe(void)
{
	static const char *const v2_need[] = {"memory.max", "pids.max", NULL};
	static const char *const v1_mem_need[] = {"memory.limit_in_bytes", NULL};
	static const char *const v1_pids_need[] = {"pids.max", NULL};
	if (own_folder(NULL, base_mem, sizeof base_mem) == 0) {
		if (try_child(base_mem, v2_need) != 0)
			/* Controllers may only need enabling for our children; fails harmlessly when
			 * our cgroup holds processes (the "no internal processes" rule). */
			write_file(base_mem, "cgroup.subtree_control", "+memory +pids");
		if (try_child(base_mem, v2_need) == 0) {
			backend = SBX_L_CGROUP2;
			probe_why = "";
			return;
		}
	}
	if (own_folder("memory", base_mem, sizeof base_mem) == 0 &&
	    own_folder("pids", base_pids, sizeof base_pids) == 0 && try_child(base_mem, v1_mem_need) == 0 &&
	    try_child(base_pids, v1_pids_need) == 0) {
		backend = SBX_L_CGROUP1;
		probe_why = "";
		return;
	}
	probe_why = "no writable cgroup v2 (memory, pids) nor v1 memory+pids hierarchy";
}

int sbx_cg_probe(const char **why)
{
	pthread_once(&once, probe);
	if (why)
		*why = probe_why;
	return backend;
}

int sbx_cg_create(struct sbx_cg *cg, const struct sbx_limits *l, unsigned long id)
{
	memset(cg, 0, sizeof *cg);
	if (!sbx_cg_probe(NULL))
		return 0;
	char mem[32], pids[32];
	snprintf(mem, sizeof mem, "%zu", l->memory_bytes);
	snprintf(pids, sizeof pids, "%d", l->max_procs);
	snprintf(cg->mem, sizeof cg->mem, "%s/evalh-%d-%lu", base_mem, (int)getpid(), id);
	if (mkdir(cg->mem, 0755) != 0)
		goto fail;
	if (backend == SBX_L_CGROUP2) {
		if (write_file(cg->mem, "memory.max", mem) || write_file(cg->mem, "pids.max", pids))
			goto fail;
		write_file(cg->mem, "memory.swap.max", "0"); /* absent without swap accounting */
	} else {
		snprintf(cg->pids, sizeof cg->pids, "%s/evalh-%d-%lu", base_pids, (int)getpid(), id);
		if (mkdir(cg->pids, 0755) != 0)
			goto fail;
		if (write_file(cg->mem, "memory.limit_in_bytes", mem) || write_file(cg->pids, "pids.max", pids))
			goto fail;
		write_file(cg->mem, "memory.memsw.limit_in_bytes", mem); /* no swapping past it */
	}
	cg->layer = backend;
	cg->procs = l->max_procs;
	return 0;
fail:
	sbx_cg_destroy(cg);
	return -1;
}

int sbx_cg_attach(const struct sbx_cg *cg, pid_t pid)
{
	if (!cg->layer)
		return 0;
	char s[32];
	snprintf(s, sizeof s, "%d", (int)pid);
	if (write_file(cg->mem, "cgroup.procs", s))
		return -1;
	if (cg->layer == SBX_L_CGROUP1 && write_file(cg->pids, "cgroup.procs", s))
		return -1;
	return 0;
}

/* Writing a pid to cgroup.procs takes the kernel's global threadgroup lock, whose write side waits
 * for an RCU grace period: 9-16 ms per run measured here, most of what the sandbox cost beyond
 * bare execution. v1 lets a thread move itself (pid "0" in `tasks`) without that lock, and a clone
 * inherits the cgroups of the thread that made it. The thread is in the run's pids cgroup while it
 * clones, so that needs room for two. (v2's equivalent is clone3's CLONE_INTO_CGROUP; not used:
 * no host here has the v2 controllers to test it on.) */
int sbx_cg_enter(const struct sbx_cg *cg)
{
	if (cg->layer != SBX_L_CGROUP1 || cg->procs < 2)
		return 0;
	if (write_file(cg->mem, "tasks", "0"))
		return 0;
	if (write_file(cg->pids, "tasks", "0")) {
		write_file(base_mem, "tasks", "0");
		return 0;
	}
	return 1;
}

int sbx_cg_leave(void)
{
	int a = write_file(base_mem, "tasks", "0"), b = write_file(base_pids, "tasks", "0");
	return a || b ? -1 : 0;
}

/* SIGKILL to every process listed; returns how many were listed. */
static int kill_listed(const char *dir)
{
	char buf[8192];
	if (read_file(dir, "cgroup.procs", buf, sizeof buf))
		return 0;
	int n = 0;
	for (char *p = buf; *p;) {
		char *end;
		long pid = strtol(p, &end, 10);
		if (end == p)
			break;
		if (pid > 0) {
			kill((pid_t)pid, SIGKILL);
			n++;
		}
		p = end + (*end != 0);
	}
	return n;
}

void sbx_cg_kill(const struct sbx_cg *cg)
{
	if (!cg->layer)
		return;
	if (cg->layer == SBX_L_CGROUP2 && write_file(cg->mem, "cgroup.kill", "1") == 0)
		return;
	/* v1 (or v2 before 5.14): kill what is listed until nothing is; a fork racing the listing is
	 * caught by the next round, and pids.max bounds how many rounds that can take. */
	for (int round = 0; round < 100; round++) {
		int n = kill_listed(cg->mem) + (cg->layer == SBX_L_CGROUP1 ? kill_listed(cg->pids) : 0);
		if (n == 0)
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

static long field(const char *text, const char *key)
{
	const char *p = strstr(text, key);
	return p ? strtol(p + strlen(key), NULL, 10) : 0;
}

void sbx_cg_stats(const struct sbx_cg *cg, int *oom, size_t *peak)
{
	char buf[4096];
	*oom = 0;
	*peak = 0;
	if (cg->layer == SBX_L_CGROUP2) {
		if (read_file(cg->mem, "memory.events", buf, sizeof buf) == 0)
			*oom = field(buf, "oom_kill ") > 0;
		if (read_file(cg->mem, "memory.peak", buf, sizeof buf) == 0)
			*peak = strtoull(buf, NULL, 10);
	} else if (cg->layer == SBX_L_CGROUP1) {
		if (read_file(cg->mem, "memory.oom_control", buf, sizeof buf) == 0)
			*oom = field(buf, "oom_kill ") > 0;
		if (read_file(cg->mem, "memory.max_usage_in_bytes", buf, sizeof buf) == 0)
			*peak = strtoull(buf, NULL, 10);
	}
}

/* rmdir fails with EBUSY while the last processes are being torn down: retry briefly. */
static void remove_dir(const char *dir)
{
	for (int i = 0; i < 200 && dir[0]; i++) {
		if (rmdir(dir) == 0 || errno == ENOENT)
			return;
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
	}
}

void sbx_cg_destroy(struct sbx_cg *cg)
{
	if (!cg)
		return;
	remove_dir(cg->mem);
	remove_dir(cg->pids);
	memset(cg, 0, sizeof *cg);
}
