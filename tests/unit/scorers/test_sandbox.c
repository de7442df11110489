/* test_sandbox.c — the sandbox both ways: correct programs run and give their output; hostile ones
 * (loops, fork bombs, memory bombs, floods, network, snooping, writes outside, daemons) are stopped
 * with the right outcome and leave the host as it was. Runs real python3 programs; each hostile
 * case is bounded by a 1-2 s wall clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "scorers/code_int.h"
#include "scorers/sandbox.h"
#include "tests/unit/scorers/python_testutil.h"

static char py_exe[1024], py_prefix[1024];

/* Runs a python program given as source text (as the file main.py); stdin optional. */
static int run_py(const char *src, const char *in, double wall, struct sbx_result *r)
{
	const char *argv[] = {py_exe, "-I", "main.py", NULL};
	const char *ro[] = {py_prefix, NULL};
	struct sbx_file f = {"main.py", src, strlen(src), 0};
	struct sbx_spec s;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.ro_paths = py_prefix[0] ? ro : NULL;
	s.files = &f;
	s.n_files = 1;
	s.stdin_data = in;
	s.stdin_len = in ? strlen(in) : 0;
	sbx_limits_defaults(&s.limits);
	s.limits.wall_s = wall;
	s.limits.cpu_s = wall;
	s.limits.memory_bytes = 128u << 20;
	s.limits.max_procs = 32;
	s.limits.file_bytes = 8u << 20;
	s.limits.stdout_bytes = 1u << 20;
	struct evh_err e = {0};
	int rc = sbx_run(&s, r, &e);
	if (rc)
		fprintf(stderr, "sbx_run: %s\n", e.msg);
	return rc;
}

static long parent_of(long pid)
{
	char path[64], line[256];
	long pp = 0;
	snprintf(path, sizeof path, "/proc/%ld/status", pid);
	FILE *f = fopen(path, "r");
	while (f && fgets(line, sizeof line, f))
		if (strncmp(line, "PPid:", 5) == 0)
			pp = strtol(line + 5, NULL, 10);
	if (f)
		fclose(f);
	return pp;
}

/* Processes descending from this test program — none may outlive a run (other programs on the
 * host, other test programs' sandboxes included, are not counted). */
static int sandbox_procs_alive(void)
{
	DIR *d = opendir("/proc");
	long self = (long)getpid();
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		long pid = strtol(e->d_name, NULL, 10);
		for (long p = parent_of(pid), hops = 0; p > 1 && hops < 64; p = parent_of(p), hops++)
			if (p == self) {
				n++;
				break;
			}
	}
	if (d)
		closedir(d);
	return n;
}

static int setup(void **state)
{
	(void)state;
	return tu_find_python(py_exe, py_prefix, sizeof py_exe);
}

static void test_hello_and_stdin(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import sys\nprint('sum', sum(int(x) for x in sys.stdin.read().split()))\n",
				"1 2 3\n40\n", 5, &r), 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_status, 0);
	assert_string_equal(r.out, "sum 46\n");
	assert_false(r.timed_out);
	assert_true(r.isolation & SBX_L_RLIMIT);
	sbx_result_free(&r);
}

static void test_correct_programs(void **state)
{
	/* recursion, big integers, floats, threads, a temp file in the work folder */
	const char *src =
		"import sys, threading, tempfile, os\n"
		"sys.setrecursionlimit(5000)\n"
		"def f(n): return 1 if n == 0 else n * f(n - 1)\n"
		"print(len(str(f(1000))))\n"
		"print('%.6f' % (2 ** 0.5))\n"
		"out = []\n"
		"ts = [threading.Thread(target=lambda i=i: out.append(i * i)) for i in range(4)]\n"
		"[t.start() for t in ts]; [t.join() for t in ts]\n"
		"print(sorted(out))\n"
		"with tempfile.NamedTemporaryFile('w+', delete=False) as t: t.write('kept'); name = t.name\n"
		"print(open(name).read(), os.path.dirname(name) == os.getcwd())\n"
		"open('local.txt', 'w').write('x' * 1000); print(os.path.getsize('local.txt'))\n";
	struct sbx_result r;
	assert_int_equal(run_py(src, NULL, 5, &r), 0);
	if (r.exit_status != 0)
		fprintf(stderr, "%s\n", r.err);
	assert_int_equal(r.exit_status, 0);
	assert_string_equal(r.out, "2568\n1.414214\n[0, 1, 4, 9]\nkept True\n1000\n");
	sbx_result_free(&r);
}

static void test_exit_status_and_signal(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import sys; sys.exit(3)\n", NULL, 5, &r), 0);
	assert_true(r.exited);
	assert_int_equal(r.exit_status, 3);
	sbx_result_free(&r);
	assert_int_equal(run_py("import os, signal; os.kill(os.getpid(), signal.SIGSEGV)\n", NULL, 5, &r), 0);
	assert_false(r.exited);
	assert_int_equal(r.signal, SIGSEGV);
	sbx_result_free(&r);
}

/* A work file with its mode run as ./NAME (how compiled C programs run); the umask cannot cut the
 * mode, and a file without the x bit cannot be run. */
static void test_work_file_executable(void **state)
{
	const char *script = "#!/bin/sh\necho \"ran $0 in $(pwd)\"\nls -l data.txt | cut -c1-10\n";
	struct sbx_file f[] = {{"run.sh", script, strlen(script), 0755}, {"data.txt", "d", 1, 0}};
	const char *argv[] = {"./run.sh", NULL};
	struct sbx_spec s;
	memset(&s, 0, sizeof s);
	s.argv = argv;
	s.files = f;
	s.n_files = 2;
	sbx_limits_defaults(&s.limits);
	s.limits.wall_s = 5;
	struct sbx_result r;
	struct evh_err e = {0};
	assert_int_equal(sbx_run(&s, &r, &e), 0);
	assert_int_equal(r.exit_status, 0);
	assert_non_null(strstr(r.out, "ran ./run.sh in /"));
	assert_non_null(strstr(r.out, "-rw-r--r--"));
	sbx_result_free(&r);
	f[0].mode = 0;
	assert_int_equal(sbx_run(&s, &r, &e), EVH_ESANDBOX); /* not executable: exec refused */
	const char *up[] = {"./../run.sh", NULL};
	s.argv = up;
	evh_err_clear(&e);
	assert_int_equal(sbx_run(&s, &r, &e), EVH_EMISUSE);
}

static void test_infinite_loop_times_out(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("while True: pass\n", NULL, 1, &r), 0);
	assert_true(r.timed_out || r.cpu_exceeded);
	assert_false(r.exited && r.exit_status == 0);
	sbx_result_free(&r);
}

static void test_sigterm_ignored_sleep_times_out(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
				"print('start', flush=True)\ntime.sleep(30)\n", NULL, 1, &r), 0);
	assert_true(r.timed_out);
	assert_int_equal(r.signal, SIGKILL);
	assert_string_equal(r.out, "start\n"); /* output before the kill is kept */
	sbx_result_free(&r);
	assert_int_equal(sandbox_procs_alive(), 0);
}

static void test_fork_bomb_contained(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import os\nn = 0\nwhile True:\n  try:\n    os.fork(); n += 1\n"
				"  except OSError:\n    pass\n", NULL, 1, &r), 0);
	assert_false(r.exited && r.exit_status == 0);
	sbx_result_free(&r);
	assert_int_equal(sandbox_procs_alive(), 0);
	/* the host can still start processes */
	assert_int_equal(run_py("print('ok')\n", NULL, 5, &r), 0);
	assert_string_equal(r.out, "ok\n");
	sbx_result_free(&r);
}

static void test_memory_bomb(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("x = []\nwhile True: x.append(bytearray(1 << 20))\n", NULL, 5, &r), 0);
	if (r.isolation & (SBX_L_CGROUP1 | SBX_L_CGROUP2)) {
		assert_true(r.memory_exceeded);
		assert_true(r.peak_memory >= (100u << 20));
	} else {
		assert_non_null(strstr(r.err, "MemoryError"));
	}
	assert_false(r.exited && r.exit_status == 0);
	sbx_result_free(&r);
}

static void test_network_refused(void **state)
{
	/* a real listener on the host's loopback: the sandbox must not reach it */
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(ls, 4), 0);
	socklen_t al = sizeof a;
	getsockname(ls, (struct sockaddr *)&a, &al);
	char src[1024];
	snprintf(src, sizeof src,
		 "import socket\n"
		 "def tcp(h, p):\n"
		 "    try:\n"
		 "        s = socket.create_connection((h, p), timeout=0.5); return 'connected'\n"
		 "    except OSError as e: return 'refused'\n"
		 "def udp():\n"
		 "    try:\n"
		 "        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.sendto(b'x', ('8.8.8.8', 53)); return 'sent'\n"
		 "    except OSError: return 'refused'\n"
		 "def v6():\n"
		 "    try:\n"
		 "        socket.socket(socket.AF_INET6); return 'created'\n"
		 "    except OSError: return 'refused'\n"
		 "print(tcp('127.0.0.1', %d), tcp('1.1.1.1', 80), udp(), v6())\n"
		 "a, b = socket.socketpair(); a.send(b'u'); print(b.recv(1).decode())\n",
		 ntohs(a.sin_port));
	struct sbx_result r;
	assert_int_equal(run_py(src, NULL, 5, &r), 0);
	assert_string_equal(r.out, "refused refused refused refused\nu\n");
	sbx_result_free(&r);
	close(ls);
}

/* Two runs at once cannot talk over an abstract unix socket (they may share an empty net namespace,
 * which is where those names live; Landlock scopes them to the run), while one run still can. */
struct xrun {
	const char *src;
	struct sbx_result r;
	int rc;
};

static void *xrun_main(void *arg)
{
	struct xrun *x = arg;
	x->rc = run_py(x->src, NULL, 8, &x->r);
	return NULL;
}

static void test_runs_cannot_meet_over_abstract_sockets(void **state)
{
	char name[64], a_src[1024], b_src[1024];
	snprintf(name, sizeof name, "evalh-xrun-%d", (int)getpid());
	snprintf(a_src, sizeof a_src,
		 "import socket, os\n"
		 "s = socket.socket(socket.AF_UNIX); s.bind('\\0%s'); s.listen(4)\n"
		 "me = socket.socket(socket.AF_UNIX); me.connect('\\0%s'); c, _ = s.accept()\n"
		 "me.send(b'y'); print('self', c.recv(1).decode())\n"
		 "s.settimeout(2.5)\n"
		 "try:\n"
		 "    s.accept(); print('met')\n"
		 "except socket.timeout: print('alone')\n", name, name);
	snprintf(b_src, sizeof b_src,
		 "import socket, time\n"
		 "res = 'refused'\n"
		 "for i in range(20):\n"
		 "    try:\n"
		 "        socket.socket(socket.AF_UNIX).connect('\\0%s'); res = 'connected'; break\n"
		 "    except OSError: time.sleep(0.05)\n"
		 "print(res)\n", name);
	struct xrun a = {.src = a_src}, b = {.src = b_src};
	pthread_t ta, tb;
	assert_int_equal(pthread_create(&ta, NULL, xrun_main, &a), 0);
	usleep(500000); /* a is listening by then; b keeps trying for another second */
	assert_int_equal(pthread_create(&tb, NULL, xrun_main, &b), 0);
	pthread_join(tb, NULL);
	pthread_join(ta, NULL);
	assert_int_equal(a.rc, 0);
	assert_int_equal(b.rc, 0);
	assert_string_equal(b.r.out, "refused\n");
	assert_string_equal(a.r.out, "self y\nalone\n");
	sbx_result_free(&a.r);
	sbx_result_free(&b.r);
}

static void test_secrets_invisible(void **state)
{
	setenv("OPENAI_API_KEY", "sk-evalh-test-planted-secret", 1);
	char host_secret[] = "/tmp/evalh-test-secret-XXXXXX";
	int fd = mkstemp(host_secret);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "PLANTED-FILE-SECRET", 19), 19);
	close(fd);
	chmod(host_secret, 0644);
	char cwd[1024];
	assert_non_null(getcwd(cwd, sizeof cwd));
	char src[4096];
	snprintf(src, sizeof src,
		 "import os, glob\n"
		 "print(dict(os.environ))\n"
		 "for p in ['/proc/self/environ', '/proc/1/environ', '/proc/1/cmdline', '/etc/shadow',\n"
		 "          '%s', '%s/Makefile', '/root/.bashrc', '/root/.ssh/id_rsa']:\n"
		 "    try:\n"
		 "        print(p, open(p, 'rb').read()[:200])\n"
		 "    except OSError as e:\n"
		 "        print(p, 'unreadable')\n"
		 "print(glob.glob('/tmp/evalh-test-secret-*'), os.path.exists('%s'))\n",
		 host_secret, cwd, cwd);
	struct sbx_result r;
	assert_int_equal(run_py(src, NULL, 5, &r), 0);
	assert_int_equal(r.exit_status, 0);
	assert_null(strstr(r.out, "sk-evalh-test-planted-secret"));
	assert_null(strstr(r.out, "PLANTED-FILE-SECRET"));
	assert_non_null(strstr(r.out, "\n[] False\n")); /* the host's /tmp is not there at all */
	assert_null(strstr(r.out, "Makefile b'"));   /* the harness's own files */
	assert_null(strstr(r.out, "shadow b'"));
	assert_non_null(strstr(r.out, "/etc/shadow unreadable"));
	sbx_result_free(&r);
	unlink(host_secret);
	unsetenv("OPENAI_API_KEY");
}

static void test_writes_outside_refused(void **state)
{
	char host_dir[] = "/tmp/evalh-test-dir-XXXXXX";
	assert_non_null(mkdtemp(host_dir));
	chmod(host_dir, 0777); /* even a world-writable host folder stays out of reach */
	char src[2048];
	snprintf(src, sizeof src,
		 "import os\n"
		 "for p in ['/evil', '/usr/evil', '/etc/evil', '/dev/evil', '%s/evil', '/root/evil']:\n"
		 "    try:\n"
		 "        open(p, 'w').write('x'); print(p, 'written')\n"
		 "    except OSError as e:\n"
		 "        print(p, 'refused')\n"
		 "try:\n"
		 "    os.symlink('/etc/passwd', 'link'); open('link', 'a').write('x'); print('link written')\n"
		 "except OSError: print('link refused')\n",
		 host_dir);
	struct sbx_result r;
	assert_int_equal(run_py(src, NULL, 5, &r), 0);
	assert_null(strstr(r.out, "written"));
	sbx_result_free(&r);
	char path[300];
	snprintf(path, sizeof path, "%s/evil", host_dir);
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_not_equal(access("/evil", F_OK), 0);
	rmdir(host_dir);
}

static void test_huge_output_truncated(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import sys\nb = b'y' * (1 << 20)\nfor i in range(64): sys.stdout.buffer.write(b)\n",
				NULL, 5, &r), 0);
	assert_true(r.stdout_truncated);
	assert_int_equal(r.out_len, 1u << 20);
	assert_int_equal(r.out[0], 'y');
	/* past the cap the tree is killed at once (an output limit), not left to write 63 MiB more */
	assert_false(r.exited);
	assert_int_equal(r.signal, SIGKILL);
	assert_false(r.timed_out);
	sbx_result_free(&r);
}

static void test_binary_garbage(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import sys\nsys.stdout.buffer.write(bytes(range(256)) * 4)\n", NULL, 5, &r), 0);
	assert_int_equal(r.out_len, 1024);
	for (int i = 0; i < 1024; i++)
		assert_int_equal((unsigned char)r.out[i], i % 256);
	sbx_result_free(&r);
}

/* A process anywhere on the host whose command line holds `marker`. */
static int marker_alive(const char *marker)
{
	DIR *d = opendir("/proc");
	int n = 0;
	struct dirent *e;
	while (d && (e = readdir(d))) {
		char path[300], buf[4096];
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof path, "/proc/%s/cmdline", e->d_name);
		FILE *f = fopen(path, "r");
		size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
		if (f)
			fclose(f);
		for (size_t i = 0; i < len; i++)
			if (buf[i] == 0)
				buf[i] = ' ';
		buf[len] = 0;
		n += strstr(buf, marker) != NULL;
	}
	if (d)
		closedir(d);
	return n;
}

static void test_daemon_does_not_survive(void **state)
{
	char marker[64], src[1024];
	snprintf(marker, sizeof marker, "evalh-daemon-%d", (int)getpid());
	snprintf(src, sizeof src,
		 "import os, sys, time\n"
		 "if os.fork() == 0:\n"
		 "    os.setsid()\n"
		 "    if os.fork() == 0:\n"
		 "        os.execv(sys.executable, [sys.executable, '-c', 'import time; time.sleep(60)', '%s'])\n"
		 "    os._exit(0)\n"
		 "time.sleep(0.3)\nprint('parent done')\n", marker);
	struct sbx_result r;
	assert_int_equal(run_py(src, NULL, 5, &r), 0);
	assert_string_equal(r.out, "parent done\n");
	assert_false(r.timed_out); /* the run ends with the program, not with its daemon */
	sbx_result_free(&r);
	assert_int_equal(sandbox_procs_alive(), 0);
	assert_int_equal(marker_alive(marker), 0);
}

static void test_kernel_interfaces_refused(void **state)
{
	/* ptrace, raising rlimits, mounting, new namespaces, killing its parent */
	const char *src =
		"import ctypes, os, resource\n"
		"libc = ctypes.CDLL(None, use_errno=True)\n"
		"print('ptrace', libc.ptrace(0, 0, 0, 0))\n"
		"try:\n"
		"    s, h = resource.getrlimit(resource.RLIMIT_NPROC)\n"
		"    resource.setrlimit(resource.RLIMIT_NPROC, (h + 100, h + 100)); print('raised')\n"
		"except (ValueError, OSError): print('rlimit kept')\n"
		"print('mount', libc.mount(b'none', b'/work', b'tmpfs', 0, None))\n"
		"print('unshare', libc.unshare(0x10000000))\n"
		"try:\n"
		"    os.kill(os.getppid(), 9)\n"
		"except OSError: pass\n"
		"print('alive')\n";
	struct sbx_result r;
	assert_int_equal(run_py(src, NULL, 5, &r), 0);
	assert_string_equal(r.out, "ptrace -1\nrlimit kept\nmount -1\nunshare -1\nalive\n");
	sbx_result_free(&r);
}

static void test_many_files_and_disk_fill(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import os\nn = 0\ntry:\n"
				"    for i in range(100000): open('f%d' % i, 'w').close(); n += 1\n"
				"except OSError as e: print('stopped', e.errno)\n"
				"try:\n"
				"    with open('big', 'wb') as f:\n"
				"        while True: f.write(b'z' * (1 << 20))\n"
				"except OSError as e: print('full', e.errno)\n",
				NULL, 5, &r), 0);
	assert_non_null(strstr(r.out, "stopped"));
	assert_non_null(strstr(r.out, "full"));
	sbx_result_free(&r);
}

static void test_recursion_and_proc_snooping(void **state)
{
	struct sbx_result r;
	assert_int_equal(run_py("import sys\nsys.setrecursionlimit(10 ** 7)\n"
				"def f(n): return f(n + 1) + 1\nf(0)\n", NULL, 5, &r), 0);
	assert_false(r.exited && r.exit_status == 0); /* a stack overflow kills only the program */
	sbx_result_free(&r);
	/* only the sandbox's own processes are visible in /proc */
	assert_int_equal(run_py("import os\nprint(sorted(int(p) for p in os.listdir('/proc') if p.isdigit()))\n",
				NULL, 5, &r), 0);
	if (r.isolation & SBX_L_PIDNS)
		assert_string_equal(r.out, "[2]\n");
	sbx_result_free(&r);
}

struct par {
	int id;
	int rc;
	char out[64];
};

static void *par_run(void *arg)
{
	struct par *p = arg;
	char src[128];
	snprintf(src, sizeof src, "import time\ntime.sleep(0.1)\nprint('worker', %d * %d)\n", p->id, p->id);
	struct sbx_result r;
	p->rc = run_py(src, NULL, 10, &r);
	if (p->rc == 0)
		snprintf(p->out, sizeof p->out, "%s", r.out);
	if (p->rc == 0 && (r.exit_status != 0 || !r.out_len))
		fprintf(stderr, "worker %d: exit %d signal %d timed out %d: %s\n", p->id, r.exit_status,
			r.signal, r.timed_out, r.err);
	sbx_result_free(&r);
	return NULL;
}

static void test_parallel_sandboxes(void **state)
{
	pthread_t th[8];
	struct par p[8];
	for (int i = 0; i < 8; i++) {
		p[i].id = i + 1;
		assert_int_equal(pthread_create(&th[i], NULL, par_run, &p[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		char want[64];
		pthread_join(th[i], NULL);
		assert_int_equal(p[i].rc, 0);
		snprintf(want, sizeof want, "worker %d\n", (i + 1) * (i + 1));
		assert_string_equal(p[i].out, want);
	}
	assert_int_equal(sandbox_procs_alive(), 0);
}

/* --sandbox-workers: with a limit of 2, six threads asking at once never have more than two
 * sandboxes running, and every program still runs to its right output. */
static void test_workers_limit(void **state)
{
	(void)state;
	sbx_set_workers(2);
	assert_int_equal(sbx_workers(), 2);
	pthread_t th[6];
	struct par p[6];
	for (int i = 0; i < 6; i++) {
		p[i].id = i + 1;
		assert_int_equal(pthread_create(&th[i], NULL, par_run, &p[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		char want[64];
		pthread_join(th[i], NULL);
		assert_int_equal(p[i].rc, 0);
		snprintf(want, sizeof want, "worker %d\n", (i + 1) * (i + 1));
		assert_string_equal(p[i].out, want);
	}
	assert_true(sbx_peak_running() >= 1 && sbx_peak_running() <= 2);
	sbx_set_workers(0);
	assert_true(sbx_workers() >= 1);
}

static void test_misuse(void **state)
{
	const char *rel[] = {"python3", NULL};
	struct sbx_spec s;
	struct sbx_result r;
	struct evh_err e = {0};
	memset(&s, 0, sizeof s);
	sbx_limits_defaults(&s.limits);
	s.argv = rel;
	assert_int_equal(sbx_run(&s, &r, &e), EVH_EMISUSE);
	const char *abs[] = {py_exe, NULL};
	struct sbx_file f = {"../escape.py", "x", 1, 0};
	s.argv = abs;
	s.files = &f;
	s.n_files = 1;
	evh_err_clear(&e);
	assert_int_equal(sbx_run(&s, &r, &e), EVH_EMISUSE);
	assert_non_null(strstr(e.msg, "../escape.py"));
	const char *missing[] = {"/nonexistent/interpreter", NULL};
	s.argv = missing;
	s.n_files = 0;
	evh_err_clear(&e);
	assert_int_equal(sbx_run(&s, &r, &e), EVH_ESANDBOX); /* no verdict: never the model's fault */
	assert_non_null(strstr(e.msg, "exec"));
}

static void test_caps_describe(void **state)
{
	char buf[2048];
	sbx_caps_describe(buf, sizeof buf);
	assert_non_null(strstr(buf, "rlimits"));
	printf("# sandbox layers on this host: %s\n", buf);
	/* every layer in effect was wanted, and none in effect carries a refusal note */
	int caps = sbx_caps(), wanted = sbx_caps_wanted();
	assert_int_equal(caps & ~wanted, 0);
	assert_true(wanted & SBX_L_SECCOMP);
	for (int b = 1; b <= SBX_L_LAST; b <<= 1) {
		assert_non_null(sbx_layer_name(b));
		if (caps & b)
			assert_null(sbx_layer_note(b));
	}
	assert_string_equal(sbx_layer_name(SBX_L_CGROUP2), "cgroup-v2");
	assert_null(sbx_layer_name(3));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_caps_describe),
		cmocka_unit_test(test_hello_and_stdin),
		cmocka_unit_test(test_correct_programs),
		cmocka_unit_test(test_exit_status_and_signal),
		cmocka_unit_test(test_work_file_executable),
		cmocka_unit_test(test_infinite_loop_times_out),
		cmocka_unit_test(test_sigterm_ignored_sleep_times_out),
		cmocka_unit_test(test_fork_bomb_contained),
		cmocka_unit_test(test_memory_bomb),
		cmocka_unit_test(test_network_refused),
		cmocka_unit_test(test_runs_cannot_meet_over_abstract_sockets),
		cmocka_unit_test(test_secrets_invisible),
		cmocka_unit_test(test_writes_outside_refused),
		cmocka_unit_test(test_huge_output_truncated),
		cmocka_unit_test(test_binary_garbage),
		cmocka_unit_test(test_daemon_does_not_survive),
		cmocka_unit_test(test_kernel_interfaces_refused),
		cmocka_unit_test(test_many_files_and_disk_fill),
		cmocka_unit_test(test_recursion_and_proc_snooping),
		cmocka_unit_test(test_parallel_sandboxes),
		cmocka_unit_test(test_workers_limit),
		cmocka_unit_test(test_misuse),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
