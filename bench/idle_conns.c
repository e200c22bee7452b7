/* SPDX-License-Identifier: MIT */
/*
 * bench/idle_conns.c: hold many idle keep-alive HTTP/1.1 connections open.
 *
 * Opens N TCP connections to HOST:PORT (loopback only), spread round-robin
 * over the source addresses 127.0.0.1 .. 127.0.0.K, sends one keep-alive
 * `GET PATH` on each and reads its whole response (Content-Length framing;
 * chunked or `Connection: close` answers are errors, since they would not
 * leave an idle keep-alive connection behind). When every connection has its
 * response it prints "ready N" on stdout and holds them, idle, until stdin
 * reaches end of file, SIGINT/SIGTERM/SIGHUP arrives or the hold timeout
 * passes; then it closes them all and exits.
 *
 * It is a measuring tool for bench/idle_memory.sh and
 * tests/integration/idle_memory.sh, not part of the library or its build:
 *   cc -O2 -Wall -Wextra -o idle_conns bench/idle_conns.c
 *   idle_conns [-n N] [-s K] [-b INFLIGHT] [-t SETUP_S] [-w HOLD_S]
 *              [-P PATH] HOST PORT
 *
 * One thread, non-blocking sockets and epoll. At most INFLIGHT connections
 * are in progress at once (connecting, sending or reading) so the server's
 * listen backlog never overflows into SYN retransmits. Setup is bounded by
 * SETUP_S seconds and the hold by HOLD_S seconds. It raises RLIMIT_NOFILE to
 * the hard limit itself.
 *
 * Exit status: 0 all connections were set up and held; 1 setup failed
 * (errors are reported on stderr, "ready" is not printed); 2 usage or system
 * error; 3 set up, but the server closed some connections while they were
 * idle (reported on stderr).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define HEAD_MAX 2048       /* response status line + headers, per conn */
#define MAX_REPORTED 5      /* individual errors printed before totals */
#define EV_STDIN UINT64_MAX /* epoll tags that are not connection indexes */
#define EV_SIGNAL (UINT64_MAX - 1)

enum state { CONNECTING, SENDING, READING, IDLE, FAILED, CLOSED };

typedef struct {
  int fd;
  unsigned char state;
  unsigned short sent;     /* request bytes sent */
  unsigned short head_len; /* bytes in head[] while the head is incomplete */
  long long body_left;     /* body bytes still expected; -1 before the head */
  char head[HEAD_MAX];
} conn_t;

static const char *prog = "idle_conns";
static conn_t *conns;
static char request[512];
static size_t request_len;
static unsigned n_sources = 4;
static struct in_addr dst_addr;
static unsigned short dst_port;
static int ep = -1;

/* Totals for the report. */
static unsigned long n_connect_err, n_response_err, n_reported;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s: ", prog);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

static void src_of(size_t i, char *out, size_t outlen) {
  snprintf(out, outlen, "127.0.0.%u", (unsigned)(1 + i % n_sources));
}

/* Mark connection i failed and report the first few failures in detail. */
static void fail(size_t i, int is_connect, const char *what, int err) {
  conn_t *c = &conns[i];
  if (is_connect)
    n_connect_err++;
  else
    n_response_err++;
  if (n_reported++ < MAX_REPORTED) {
    char src[32];
    src_of(i, src, sizeof src);
    fprintf(stderr, "%s: connection %zu (from %s): %s%s%s\n", prog, i, src,
            what, err ? ": " : "", err ? strerror(err) : "");
  }
  if (c->fd >= 0)
    close(c->fd); /* also removes it from the epoll set */
  c->fd = -1;
  c->state = FAILED;
}

static void set_events(size_t i, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u64 = i};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, conns[i].fd, &ev) < 0)
    die("epoll_ctl: %s", strerror(errno));
}

/* Start connecting connection i. Returns 0 when under way, -1 on failure. */
static int open_one(size_t i) {
  conn_t *c = &conns[i];
  c->fd = -1;
  c->sent = 0;
  c->head_len = 0;
  c->body_left = -1;
  c->state = CONNECTING;

  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    fail(i, 1, "socket", errno);
    return -1;
  }
  c->fd = fd;
  /* Let connect() pick the source port by the whole 4-tuple, rather than
     bind() reserving a port per source address, so each source address can
     carry the whole ephemeral range. */
  int one = 1;
  (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
  struct sockaddr_in src = {.sin_family = AF_INET};
  src.sin_addr.s_addr = htonl(0x7f000001u + (uint32_t)(i % n_sources));
  if (bind(fd, (struct sockaddr *)&src, sizeof src) < 0) {
    fail(i, 1, "bind", errno);
    return -1;
  }
  struct sockaddr_in dst = {.sin_family = AF_INET, .sin_port = dst_port};
  dst.sin_addr = dst_addr;
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) < 0 &&
      errno != EINPROGRESS) {
    fail(i, 1, "connect", errno);
    return -1;
  }
  struct epoll_event ev = {.events = EPOLLOUT, .data.u64 = i};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0)
    die("epoll_ctl: %s", strerror(errno));
  return 0;
}

/* Find header `name` in the head (lines after the status line); returns a
   pointer to its value, or NULL. */
static const char *find_header(const char *head, const char *name) {
  size_t nlen = strlen(name);
  const char *p = strstr(head, "\r\n");
  while (p != NULL && p[2] != '\0') {
    p += 2;
    if (strncasecmp(p, name, nlen) == 0 && p[nlen] == ':') {
      const char *v = p + nlen + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      return v;
    }
    p = strstr(p, "\r\n");
  }
  return NULL;
}

/* The head of connection i is complete (head[] holds it, NUL-terminated at
   the blank line); check it and set body_left. `extra` body bytes followed it.
   Returns 0, or -1 after fail(). */
static int parse_head(size_t i, size_t extra) {
  conn_t *c = &conns[i];
  int status = 0;
  if (sscanf(c->head, "HTTP/1.%*1[01] %3d", &status) != 1) {
    fail(i, 0, "malformed status line", 0);
    return -1;
  }
  if (status < 200 || status > 299) {
    char what[64];
    snprintf(what, sizeof what, "status %d", status);
    fail(i, 0, what, 0);
    return -1;
  }
  if (find_header(c->head, "Transfer-Encoding") != NULL) {
    fail(i, 0, "chunked response (only Content-Length is supported)", 0);
    return -1;
  }
  const char *conn_hdr = find_header(c->head, "Connection");
  if (conn_hdr != NULL && strncasecmp(conn_hdr, "close", 5) == 0) {
    fail(i, 0, "server answered Connection: close", 0);
    return -1;
  }
  const char *cl = find_header(c->head, "Content-Length");
  if (cl == NULL) {
    fail(i, 0, "no Content-Length", 0);
    return -1;
  }
  char *end;
  long long len = strtoll(cl, &end, 10);
  if (end == cl || len < 0) {
    fail(i, 0, "bad Content-Length", 0);
    return -1;
  }
  if ((long long)extra > len) {
    fail(i, 0, "more bytes than Content-Length", 0);
    return -1;
  }
  c->body_left = len - (long long)extra;
  return 0;
}

/* Read what connection i has for us. Returns 1 once the response is
   complete, 0 if more is to come, -1 after fail(). */
static int read_response(size_t i) {
  conn_t *c = &conns[i];
  for (;;) {
    char scratch[4096];
    char *dst;
    size_t room;
    if (c->body_left < 0) {
      dst = c->head + c->head_len;
      room = HEAD_MAX - 1 - c->head_len;
      if (room == 0) {
        fail(i, 0, "response head larger than 2047 bytes", 0);
        return -1;
      }
    } else {
      dst = scratch;
      room = sizeof scratch;
    }
    ssize_t r = recv(c->fd, dst, room, 0);
    if (r < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK)
        return 0;
      if (errno == EINTR)
        continue;
      fail(i, 0, "recv", errno);
      return -1;
    }
    if (r == 0) {
      fail(i, 0, "connection closed before the full response", 0);
      return -1;
    }
    if (c->body_left < 0) {
      c->head_len += (unsigned short)r;
      c->head[c->head_len] = '\0';
      char *blank = strstr(c->head, "\r\n\r\n");
      if (blank == NULL)
        continue;
      size_t head_end = (size_t)(blank - c->head) + 4;
      size_t extra = c->head_len - head_end;
      blank[2] = '\0'; /* keep the last header's CRLF for find_header */
      if (parse_head(i, extra) < 0)
        return -1;
    } else {
      if (r > c->body_left) {
        fail(i, 0, "more bytes than Content-Length", 0);
        return -1;
      }
      c->body_left -= r;
    }
    if (c->body_left == 0)
      return 1;
  }
}

/* Drive connection i on an event during setup. Returns 1 when it became
   idle, -1 when it failed, 0 otherwise. */
static int on_setup_event(size_t i, uint32_t events) {
  conn_t *c = &conns[i];
  if (c->state == CONNECTING) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
      err = errno;
    if (err != 0) {
      fail(i, 1, "connect", err);
      return -1;
    }
    if (!(events & EPOLLOUT))
      return 0;
    c->state = SENDING;
  }
  if (c->state == SENDING) {
    while (c->sent < request_len) {
      ssize_t w = send(c->fd, request + c->sent, request_len - c->sent,
                       MSG_NOSIGNAL);
      if (w < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
          return 0; /* still registered for EPOLLOUT */
        if (errno == EINTR)
          continue;
        fail(i, 0, "send", errno);
        return -1;
      }
      c->sent += (unsigned short)w;
    }
    c->state = READING;
    set_events(i, EPOLLIN | EPOLLRDHUP);
    return 0; /* the response comes with a later event */
  }
  if (c->state == READING) {
    int r = read_response(i);
    if (r <= 0)
      return r;
    /* Stay registered for EPOLLIN|EPOLLRDHUP: while idle, an event means
       the server closed the connection (or sent something unasked). */
    c->state = IDLE;
    return 1;
  }
  return 0;
}

static void usage(void) {
  fprintf(stderr,
          "usage: %s [-n N] [-s K] [-b INFLIGHT] [-t SETUP_S] [-w HOLD_S] "
          "[-P PATH] HOST PORT\n"
          "  -n N         connections to open (default 10000)\n"
          "  -s K         source addresses 127.0.0.1..127.0.0.K (default 4)\n"
          "  -b INFLIGHT  connections in progress at once (default 256)\n"
          "  -t SETUP_S   give up setting up after this long (default 30)\n"
          "  -w HOLD_S    hold at most this long (default 300)\n"
          "  -P PATH      request target (default /)\n"
          "HOST must be an IPv4 loopback address (127.0.0.0/8).\n",
          prog);
  exit(2);
}

static long parse_num(const char *s, long lo, long hi, const char *what) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
    die("%s must be an integer in %ld..%ld, got '%s'", what, lo, hi, s);
  return v;
}

int main(int argc, char **argv) {
  size_t n = 10000, inflight_max = 256;
  double setup_s = 30, hold_s = 300;
  const char *path = "/";
  int opt;
  while ((opt = getopt(argc, argv, "n:s:b:t:w:P:h")) != -1) {
    switch (opt) {
    case 'n': n = (size_t)parse_num(optarg, 1, 1000000, "-n"); break;
    case 's': n_sources = (unsigned)parse_num(optarg, 1, 254, "-s"); break;
    case 'b': inflight_max = (size_t)parse_num(optarg, 1, 65536, "-b"); break;
    case 't': setup_s = (double)parse_num(optarg, 1, 3600, "-t"); break;
    case 'w': hold_s = (double)parse_num(optarg, 0, 86400, "-w"); break;
    case 'P': path = optarg; break;
    default: usage();
    }
  }
  if (argc - optind != 2)
    usage();
  const char *host = argv[optind];
  if (inet_pton(AF_INET, host, &dst_addr) != 1 ||
      (ntohl(dst_addr.s_addr) >> 24) != 127)
    die("HOST must be an IPv4 loopback address (127.0.0.0/8), got '%s'", host);
  dst_port = htons((unsigned short)parse_num(argv[optind + 1], 1, 65535, "PORT"));
  int rl = snprintf(request, sizeof request,
                    "GET %s HTTP/1.1\r\nHost: %s:%s\r\n"
                    "User-Agent: idle_conns\r\nConnection: keep-alive\r\n\r\n",
                    path, host, argv[optind + 1]);
  if (rl < 0 || (size_t)rl >= sizeof request || path[0] != '/')
    die("bad PATH '%s'", path);
  request_len = (size_t)rl;

  /* Every connection is a descriptor; keep a few for stdio, epoll and the
     signalfd. */
  struct rlimit lim;
  if (getrlimit(RLIMIT_NOFILE, &lim) < 0)
    die("getrlimit: %s", strerror(errno));
  lim.rlim_cur = lim.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &lim) < 0)
    die("setrlimit: %s", strerror(errno));
  if (lim.rlim_cur != RLIM_INFINITY && n + 16 > lim.rlim_cur)
    die("%zu connections need %zu descriptors; the hard limit is %llu", n,
        n + 16, (unsigned long long)lim.rlim_cur);

  conns = calloc(n, sizeof *conns);
  if (conns == NULL)
    die("out of memory for %zu connections", n);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0)
    die("epoll_create1: %s", strerror(errno));

  /* Signals arrive through a descriptor so that both phases can wait on them
     with everything else. SIGPIPE cannot happen (MSG_NOSIGNAL) but a closed
     stdout must not kill us either. */
  signal(SIGPIPE, SIG_IGN);
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  sigaddset(&sigs, SIGHUP);
  if (sigprocmask(SIG_BLOCK, &sigs, NULL) < 0)
    die("sigprocmask: %s", strerror(errno));
  int sfd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
  if (sfd < 0)
    die("signalfd: %s", strerror(errno));
  struct epoll_event sev = {.events = EPOLLIN, .data.u64 = EV_SIGNAL};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, sfd, &sev) < 0)
    die("epoll_ctl: %s", strerror(errno));

  /* ---- setup: connect, one request each, read the responses ---- */
  double t0 = now_s(), deadline = t0 + setup_s;
  size_t opened = 0, inflight = 0, idle = 0;
  int got_signal = 0;
  static struct epoll_event evs[1024];
  while (idle + n_connect_err + n_response_err < n && !got_signal) {
    while (inflight < inflight_max && opened < n) {
      if (open_one(opened++) == 0)
        inflight++;
    }
    double left = deadline - now_s();
    if (left <= 0)
      break;
    int ms = left > 1 ? 1000 : (int)(left * 1000) + 1;
    int nev = epoll_wait(ep, evs, 1024, ms);
    if (nev < 0) {
      if (errno == EINTR)
        continue;
      die("epoll_wait: %s", strerror(errno));
    }
    for (int e = 0; e < nev; e++) {
      if (evs[e].data.u64 == EV_SIGNAL) {
        got_signal = 1;
        continue;
      }
      size_t i = (size_t)evs[e].data.u64;
      if (conns[i].state > READING)
        continue; /* failed earlier in this batch, or already idle */
      int r = on_setup_event(i, evs[e].events);
      if (r != 0)
        inflight--;
      if (r == 1)
        idle++;
    }
  }
  double t_setup = now_s() - t0;

  if (idle < n) {
    size_t by_state[CLOSED + 1] = {0};
    for (size_t i = 0; i < opened; i++)
      by_state[conns[i].state]++;
    fprintf(stderr,
            "%s: setup failed after %.1f s: %zu of %zu connections idle; "
            "%lu connect errors, %lu response errors; unfinished: %zu "
            "connecting, %zu sending, %zu reading, %zu not started%s\n",
            prog, t_setup, idle, n, n_connect_err, n_response_err,
            by_state[CONNECTING], by_state[SENDING], by_state[READING],
            n - opened, got_signal ? " (interrupted by a signal)" : "");
    for (size_t i = 0; i < opened; i++)
      if (conns[i].fd >= 0)
        close(conns[i].fd);
    return 1;
  }

  /* ---- hold: idle until stdin ends, a signal, or the hold timeout ---- */
  printf("ready %zu\n", n);
  fflush(stdout);
  fprintf(stderr, "%s: %zu connections idle after %.2f s\n", prog, n, t_setup);

  int stdin_open = 1;
  struct epoll_event iev = {.events = EPOLLIN, .data.u64 = EV_STDIN};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, STDIN_FILENO, &iev) < 0) {
    /* A regular file or /dev/null cannot be polled; it is "at its end". */
    if (errno != EPERM)
      die("epoll_ctl(stdin): %s", strerror(errno));
    stdin_open = 0;
  }
  size_t closed_by_server = 0, unasked_data = 0;
  double hold_end = now_s() + hold_s;
  const char *why = stdin_open ? "hold timeout" : "stdin is not pollable";
  while (stdin_open && !got_signal) {
    double left = hold_end - now_s();
    if (left <= 0)
      break;
    int ms = left > 1 ? 1000 : (int)(left * 1000) + 1;
    int nev = epoll_wait(ep, evs, 1024, ms);
    if (nev < 0) {
      if (errno == EINTR)
        continue;
      die("epoll_wait: %s", strerror(errno));
    }
    for (int e = 0; e < nev; e++) {
      uint64_t tag = evs[e].data.u64;
      if (tag == EV_SIGNAL) {
        got_signal = 1;
        why = "signal";
      } else if (tag == EV_STDIN) {
        char buf[256];
        ssize_t r = read(STDIN_FILENO, buf, sizeof buf);
        if (r == 0 || (r < 0 && errno != EINTR && errno != EAGAIN)) {
          stdin_open = 0;
          why = "end of stdin";
        }
      } else {
        size_t i = (size_t)tag;
        conn_t *c = &conns[i];
        if (c->state != IDLE)
          continue;
        char buf[512];
        ssize_t r = recv(c->fd, buf, sizeof buf, 0);
        if (r > 0) {
          unasked_data++;
          continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
          continue;
        closed_by_server++;
        close(c->fd);
        c->fd = -1;
        c->state = CLOSED;
      }
    }
  }
  double t_hold = now_s() - t0 - t_setup;
  for (size_t i = 0; i < n; i++)
    if (conns[i].fd >= 0)
      close(conns[i].fd);
  fprintf(stderr,
          "%s: held %zu connections for %.2f s, closed them (%s); "
          "%zu closed by the server while idle, %zu got unasked data\n",
          prog, n, t_hold, why, closed_by_server, unasked_data);
  return closed_by_server > 0 ? 3 : 0;
}
