/* comm_rendezvous.c — how the nodes of a multi-node run learn rank 0's NCCL unique id: node 0
 * listens on the master address and writes the id to every node that connects (what
 * torch.distributed's TCPStore does for NCCL, reduced to one value). Plain blocking sockets with
 * poll() deadlines: a node that never comes yields ENG_ECOMM after timeout_ms, not a hang. */
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "engine/comm.h"
#include "engine/err.h"

static double now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec * 1e-6;
}

static int left_ms(double deadline)
{
	double l = deadline - now_ms();
	return l > 0 ? (int)l + 1 : 0;
}

/* "host:port" (host may be [v6]) -> getaddrinfo list. */
static int resolve(const char *master, int passive, struct addrinfo **out, struct eng_err *err)
{
	char host[256];
	const char *colon = strrchr(master, ':');
	if (!colon || colon == master || !colon[1] || (size_t)(colon - master) >= sizeof host)
		return eng_errf(err, ENG_EMISUSE, "master address '%s': expected HOST:PORT", master);
	const char *h = master;
	size_t hl = (size_t)(colon - master);
	if (h[0] == '[' && hl > 2 && h[hl - 1] == ']') {
		h++;
		hl -= 2;
	}
	memcpy(host, h, hl);
	host[hl] = 0;
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return eng_errf(err, ENG_EMISUSE, "master address '%s': port must be 1..65535", master);
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
	int g = getaddrinfo(host, colon + 1, &hints, out);
	if (g)
		return eng_errf(err, ENG_ECOMM, "master address '%s': %s", master, gai_strerror(g));
	return ENG_OK;
}

static int io_all(int fd, unsigned char *p, size_t len, int writing, double deadline)
{
	while (len) {
		struct pollfd pf = {.fd = fd, .events = writing ? POLLOUT : POLLIN};
		int pr = poll(&pf, 1, left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0)
			return -1;
		ssize_t n = writing ? send(fd, p, len, MSG_NOSIGNAL) : recv(fd, p, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int serve(const char *master, int n_nodes, const unsigned char *blob, size_t len, double deadline,
		 struct eng_err *err)
{
	struct addrinfo *ai = NULL;
	int rc = resolve(master, 1, &ai, err);
	if (rc)
		return rc;
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
		int one = 1;
		if (fd >= 0 && (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) || bind(fd, a->ai_addr, a->ai_addrlen) ||
				listen(fd, n_nodes))) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		return eng_errf(err, ENG_ECOMM, "rendezvous: cannot listen on %s: %s", master, strerror(errno));
	int served = 0;
	while (served < n_nodes - 1) {
		struct pollfd pf = {.fd = fd, .events = POLLIN};
		int pr = poll(&pf, 1, left_ms(deadline));
		if (pr < 0 && errno == EINTR)
			continue;
		if (pr <= 0) {
			close(fd);
			return eng_errf(err, ENG_ECOMM, "rendezvous on %s: %d of %d nodes joined before the timeout", master,
					served + 1, n_nodes);
		}
		int c = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (io_all(c, (unsigned char *)blob, len, 1, deadline) == 0)
			served++;
		close(c);
	}
	close(fd);
	return ENG_OK;
}

static int join(const char *master, unsigned char *blob, size_t len, double deadline, struct eng_err *err)
{
	struct addrinfo *ai = NULL;
	int rc = resolve(master, 0, &ai, err);
	if (rc)
		return rc;
	int got = 0;
	while (!got && now_ms() < deadline) {
		for (struct addrinfo *a = ai; a && !got; a = a->ai_next) {
			int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
			if (fd < 0)
				continue;
			if (connect(fd, a->ai_addr, a->ai_addrlen) == 0 && io_all(fd, blob, len, 0, deadline) == 0)
				got = 1;
			close(fd);
		}
		if (!got) { /* node 0 may not be listening yet */
			struct timespec ts = {0, 50 * 1000 * 1000};
			nanosleep(&ts, NULL);
		}
	}
	freeaddrinfo(ai);
	return got ? ENG_OK : eng_errf(err, ENG_ECOMM, "rendezvous: no id from node 0 at %s before the timeout", master);
}

int eng_comm_rendezvous(const char *master, int n_nodes, int node_rank, unsigned char *blob, size_t len, int timeout_ms,
			struct eng_err *err)
{
	if (n_nodes < 1 || node_rank < 0 || node_rank >= n_nodes || timeout_ms < 1 || !len)
		return eng_errf(err, ENG_EMISUSE, "rendezvous: node %d of %d (timeout %d ms, %zu bytes) is not valid", node_rank,
				n_nodes, timeout_ms, len);
	if (n_nodes == 1)
		return ENG_OK;
	double deadline = now_ms() + timeout_ms;
	return node_rank == 0 ? serve(master, n_nodes, blob, len, deadline, err) : join(master, blob, len, deadline, err);
}
