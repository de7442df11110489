/* fast_server.c — a canned-reply HTTP/1.1 server for benchmarks: one epoll thread, keep-alive,
 * every POST answered at once with the same chat completion (SSE when the body asks for
 * "stream":true, else JSON). It exists so that the server is never what a benchmark measures;
 * it is not a test double (that is fake_openai.py).
 * Usage: fast_server [PORT]   (0 or none: any free port; the port is printed on stdout) */
#define _GNU_SOURCE
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#define MAXCONN 4096
#define INBUF 65536

static const char json_body[] =
	"{\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion\",\"created\":0,\"model\":\"bench\","
	"\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\"The answer is \\\\boxed{5}.\"},"
	"\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":9,\"total_tokens\":23}}";
static const char sse_body[] =
	"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"},\"finish_reason\":null}]}\n\n"
	"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"The answer is \\\\boxed{5}.\"},\"finish_reason\":null}]}\n\n"
	"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"bench\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
	"data: {\"id\":\"chatcmpl-bench\",\"object\":\"chat.completion.chunk\",\"model\":\"bench\",\"choices\":[],\"usage\":{\"prompt_tokens\":14,\"completion_tokens\":9,\"total_tokens\":23}}\n\n"
	"data: [DONE]\n\n";

static char json_reply[2048], sse_reply[4096];
static size_t json_len, sse_len;

struct conn {
	int fd;
	char in[INBUF];
	size_t n;
	char *out; /* pending reply bytes (points into a canned reply) */
	size_t out_left;
};

static struct conn *conns[MAXCONN];

static void drop(int ep, struct conn *c)
{
	epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	conns[c->fd] = NULL;
	free(c);
}

/* Writes what is pending; returns 0, or -1 when the connection is gone. */
static int flush_out(int ep, struct conn *c)
{
	while (c->out_left) {
		ssize_t w = write(c->fd, c->out, c->out_left);
		if (w < 0 && errno == EAGAIN) {
			struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.fd = c->fd};
			epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
			return 0;
		}
		if (w <= 0)
			return -1;
		c->out += w;
		c->out_left -= (size_t)w;
	}
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = c->fd};
	epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
	return 0;
}

/* Answers every complete request in the input buffer. Returns -1 on a malformed one. */
static int serve(int ep, struct conn *c)
{
	while (!c->out_left) {
		char *hend = memmem(c->in, c->n, "\r\n\r\n", 4);
		if (!hend)
			return c->n == INBUF ? -1 : 0;
		size_t hlen = (size_t)(hend - c->in) + 4, blen = 0;
		for (char *p = c->in; p < hend; p++)
			if ((p == c->in || p[-1] == '\n') && !strncasecmp(p, "content-length:", 15))
				blen = strtoul(p + 15, NULL, 10);
		if (hlen + blen > INBUF)
			return -1;
		if (c->n < hlen + blen)
			return 0;
		int stream = memmem(c->in + hlen, blen, "\"stream\":true", 13) != NULL;
		c->out = stream ? sse_reply : json_reply;
		c->out_left = stream ? sse_len : json_len;
		memmove(c->in, c->in + hlen + blen, c->n - hlen - blen);
		c->n -= hlen + blen;
		if (flush_out(ep, c))
			return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	signal(SIGPIPE, SIG_IGN);
	json_len = (size_t)snprintf(json_reply, sizeof json_reply,
				    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
				    sizeof json_body - 1, json_body);
	sse_len = (size_t)snprintf(sse_reply, sizeof sse_reply,
				   "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nContent-Length: %zu\r\n\r\n%s",
				   sizeof sse_body - 1, sse_body);
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				.sin_port = htons(argc > 1 ? (unsigned short)atoi(argv[1]) : 0)};
	socklen_t al = sizeof a;
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1024) ||
	    getsockname(ls, (struct sockaddr *)&a, &al)) {
		perror("fast_server: bind/listen");
		return 1;
	}
	printf("%d\n", ntohs(a.sin_port));
	fflush(stdout);
	int ep = epoll_create1(0);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ls}, evs[256];
	epoll_ctl(ep, EPOLL_CTL_ADD, ls, &ev);
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ls) {
				int cfd;
				while ((cfd = accept4(ls, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (cfd >= MAXCONN) {
						close(cfd);
						continue;
					}
					setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					struct conn *c = calloc(1, sizeof *c);
					c->fd = cfd;
					conns[cfd] = c;
					struct epoll_event cev = {.events = EPOLLIN, .data.fd = cfd};
					epoll_ctl(ep, EPOLL_CTL_ADD, cfd, &cev);
				}
				continue;
			}
			struct conn *c = conns[fd];
			if (!c)
				continue;
			if ((evs[i].events & EPOLLOUT) && flush_out(ep, c)) {
				drop(ep, c);
				continue;
			}
			if (!(evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
				continue;
			ssize_t r = read(fd, c->in + c->n, INBUF - c->n);
			if (r == 0 || (r < 0 && errno != EAGAIN)) {
				drop(ep, c);
				continue;
			}
			if (r > 0)
				c->n += (size_t)r;
			if (serve(ep, c))
				drop(ep, c);
		}
	}
}
