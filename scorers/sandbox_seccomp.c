/* sandbox_seccomp.c — the seccomp-bpf filter of the sandbox, built once with libseccomp and
 * exported to raw BPF so the cloned child only needs prctl (no allocation after clone).
 * Default allow, with a deny list in the spirit of Docker's default profile. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "scorers/sandbox_int.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct sock_fprog prog;
static const char *fail_why;

/* Refused outright: tracing other processes, mounting, kernel keyrings, eBPF, perf, reboot, module
 * loading, namespaces, clocks, swap, kexec, raw handles that bypass paths, io_uring (a second
 * syscall surface seccomp cannot see). */
static const char *const denied[] = {
	"ptrace", "process_vm_readv", "process_vm_writev", "mount", "umount2", "pivot_root", "chroot",
	"move_mount", "open_tree", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
	"keyctl", "add_key", "request_key", "bpf", "perf_event_open", "reboot", "init_module",
	"finit_module", "delete_module", "kexec_load", "kexec_file_load", "swapon", "swapoff", "unshare",
	"setns", "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "syslog", "acct",
	"quotactl", "userfaultfd", "open_by_handle_at", "name_to_handle_at", "lookup_dcookie",
	"io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "vhangup",
	"iopl", "ioperm", "personality", "uselib", "nfsservctl", "sethostname", "setdomainname",
};

static void build(void)
{
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
	int fd = -1;
	if (!ctx) {
		fail_why = "seccomp_init failed";
		return;
	}
	int rc = 0;
	for (size_t i = 0; i < sizeof denied / sizeof denied[0] && rc == 0; i++) {
		int nr = seccomp_syscall_resolve_name(denied[i]);
		if (nr == __NR_SCMP_ERROR)
			continue; /* not on this architecture */
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
	}
	/* Sockets: only AF_UNIX (Python's multiprocessing and socketpair use it); inet, netlink,
	 * packet and the rest fail as if the family did not exist. */
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EAFNOSUPPORT), SCMP_SYS(socket), 1,
				      SCMP_A0(SCMP_CMP_NE, AF_UNIX));
	/* clone with a namespace flag: refused; clone3 hides its flags in memory seccomp cannot read,
	 * so it reports ENOSYS and glibc falls back to clone. */
	static const unsigned long nsflags[] = {CLONE_NEWUSER, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWNET,
						CLONE_NEWIPC, CLONE_NEWUTS, CLONE_NEWCGROUP};
	for (size_t i = 0; i < sizeof nsflags / sizeof nsflags[0] && rc == 0; i++)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), SCMP_SYS(clone), 1,
				      SCMP_A0(SCMP_CMP_MASKED_EQ, nsflags[i], nsflags[i]));
	if (rc == 0)
		rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
	if (rc != 0) {
		fail_why = "seccomp_rule_add failed";
		goto out;
	}
	fd = memfd_create("evalh-seccomp", MFD_CLOEXEC);
	if (fd < 0 || seccomp_export_bpf(ctx, fd) != 0) {
		fail_why = "seccomp_export_bpf failed";
		goto out;
	}
	off_t len = lseek(fd, 0, SEEK_END);
	if (len <= 0 || len % (off_t)sizeof(struct sock_filter) != 0 || lseek(fd, 0, SEEK_SET) != 0) {
		fail_why = "seccomp export has an odd size";
		goto out;
	}
	struct sock_filter *f = malloc((size_t)len);
	if (!f || pread(fd, f, (size_t)len, 0) != len) {
		free(f);
		fail_why = "cannot read the exported seccomp program";
		goto out;
	}
	/* Kept for the life of the process: every sandbox uses it. */
	prog.filter = f;
	prog.len = (unsigned short)(len / (off_t)sizeof(struct sock_filter));
out:
	if (fd >= 0)
		close(fd);
	seccomp_release(ctx);
}

const struct sock_fprog *sbx_seccomp_filter(const char **why)
{
	pthread_once(&once, build);
	if (!prog.filter) {
		if (why)
			*why = fail_why;
		return NULL;
	}
	return &prog;
}
