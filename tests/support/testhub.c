/* SPDX-License-Identifier: MIT */
/*
 * tests/support/testhub.c: the hcs-hub child process, /proc readings,
 * small requests to a hub and an SSE response reader (see testhub.h).
 * Test thread only; every wait is bounded.
 */
#include "testhub.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

/* ---- the hub process ----------------------------------------------------- */

const char *th_hub_binary(void) {
  static char path[PATH_MAX];
  const char *dir = getenv("HCS_BINARY_DIR");
  if (dir && *dir) {
    snprintf(path, sizeof path, "%s/tools/hcs-hub/hcs-hub", dir);
    return path;
  }
  /* build/tests/test_x -> build/tools/hcs-hub/hcs-hub */
  char self[PATH_MAX - 64];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0)
    return "hcs-hub";
  self[n] = '\0';
  char *slash = strrchr(self, '/');
  if (slash)
    *slash = '\0';
  snprintf(path, sizeof path, "%s/../tools/hcs-hub/hcs-hub", self);
  return path;
}

static bool reap(th_hub_t *h, int flags) {
  if (h->pid <= 0 || h->exited)
    return h->exited;
  int st;
  pid_t r;
  do
    r = waitpid(h->pid, &st, flags);
  while (r < 0 && errno == EINTR);
  if (r == h->pid) {
    h->status = st;
    h->exited = true;
  }
  return h->exited;
}

bool th_hub_alive(th_hub_t *h) {
  return h->pid > 0 && !reap(h, WNOHANG);
}

/* The port of the "listening on http://127.0.0.1:PORT/" line, or 0. */
static int logged_port(const th_hub_t *h) {
  FILE *f = fopen(h->log, "r");
  if (f == NULL)
    return 0;
  char line[512];
  int port = 0;
  while (port == 0 && fgets(line, sizeof line, f)) {
    const char *p = strstr(line, "listening on http://127.0.0.1:");
    if (p)
      port = atoi(p + strlen("listening on http://127.0.0.1:"));
  }
  fclose(f);
  return port;
}

int th_hub_startv(th_hub_t *h, long nofile, const char *const *args) {
  memset(h, 0, sizeof(*h));
  const char *tmpdir = getenv("TMPDIR");
  snprintf(h->log, sizeof h->log, "%s/hcs-abuse-hub.XXXXXX",
           tmpdir && *tmpdir ? tmpdir : "/tmp");
  int logfd = mkstemp(h->log);
  if (logfd < 0)
    return -errno;
  const char *argv[64];
  size_t argc = 0;
  argv[argc++] = th_hub_binary();
  argv[argc++] = "--listen";
  argv[argc++] = "127.0.0.1:0";
  argv[argc++] = "--access-log";
  argv[argc++] = "off";
  for (size_t i = 0; args && args[i] && argc < 63; i++)
    argv[argc++] = args[i];
  argv[argc] = NULL;

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    int e = errno;
    close(logfd);
    return -e;
  }
  if (pid == 0) {
    /* The child: only async-signal-safe calls until exec. */
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
      _exit(127);
    if (nofile > 0) {
      struct rlimit rl = {(rlim_t)nofile, (rlim_t)nofile};
      if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
        _exit(126);
    }
    int devnull = open("/dev/null", O_RDONLY);
    if (devnull >= 0)
      dup2(devnull, 0);
    dup2(logfd, 1);
    dup2(logfd, 2);
    /* Nothing else of the test's is inherited (its sockets are CLOEXEC,
     * the log and /dev/null are closed here). */
    if (devnull > 2)
      close(devnull);
    if (logfd > 2)
      close(logfd);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(logfd);
  h->pid = pid;
  int64_t deadline = tn_now_ms() + 10000;
  while (tn_now_ms() < deadline) {
    if ((h->port = logged_port(h)) > 0)
      return 0;
    if (!th_hub_alive(h)) {
      fprintf(stderr, "hcs-hub (%s) exited before listening; its log:\n",
              argv[0]);
      th_hub_print_log(h, 40);
      return -EPIPE;
    }
    tn_sleep_ms(10);
  }
  fprintf(stderr, "hcs-hub did not say it listens within 10 s; its log:\n");
  th_hub_print_log(h, 40);
  kill(h->pid, SIGKILL);
  reap(h, 0);
  return -ETIMEDOUT;
}

int th_hub_start(th_hub_t *h, long nofile, ...) {
  const char *args[48];
  size_t n = 0;
  va_list ap;
  va_start(ap, nofile);
  const char *a;
  while ((a = va_arg(ap, const char *)) != NULL && n < 47)
    args[n++] = a;
  va_end(ap);
  args[n] = NULL;
  return th_hub_startv(h, nofile, args);
}

int th_hub_signal_wait(th_hub_t *h, int sig, int timeout_ms) {
  if (h->pid <= 0)
    return -EINVAL;
  if (!h->exited)
    kill(h->pid, sig);
  int64_t deadline = tn_now_ms() + timeout_ms;
  while (!reap(h, WNOHANG)) {
    if (tn_now_ms() >= deadline)
      return -ETIMEDOUT;
    tn_sleep_ms(5);
  }
  return 0;
}

int th_hub_stop(th_hub_t *h, int timeout_ms) {
  if (h->pid <= 0)
    return -EINVAL;
  if (th_hub_signal_wait(h, SIGTERM, timeout_ms) < 0) {
    kill(h->pid, SIGKILL);
    reap(h, 0);
    return -ETIMEDOUT;
  }
  if (WIFEXITED(h->status))
    return WEXITSTATUS(h->status);
  return 128 + WTERMSIG(h->status);
}

void th_hub_cleanup(th_hub_t *h) {
  if (h->pid > 0 && !h->exited) {
    kill(h->pid, SIGKILL);
    reap(h, 0);
  }
  if (h->log[0])
    unlink(h->log);
  memset(h, 0, sizeof(*h));
}

bool th_hub_log_has(const th_hub_t *h, const char *needle) {
  FILE *f = fopen(h->log, "r");
  if (f == NULL)
    return false;
  char line[4096];
  bool found = false;
  while (!found && fgets(line, sizeof line, f))
    found = strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

void th_hub_print_log(const th_hub_t *h, int lines) {
  FILE *f = fopen(h->log, "r");
  if (f == NULL)
    return;
  /* A ring of the last `lines` lines. */
  typedef char line_t[512];
  line_t *ring = calloc((size_t)lines, sizeof(*ring));
  int n = 0;
  if (ring) {
    while (fgets(ring[n % lines], sizeof ring[0], f))
      n++;
    int first = n > lines ? n - lines : 0;
    for (int i = first; i < n; i++)
      fprintf(stderr, "  hub: %s", ring[i % lines]);
    free(ring);
  }
  fclose(f);
}

/* ---- /proc --------------------------------------------------------------- */

long th_proc_kib(pid_t pid, const char *field) {
  char path[64], line[256];
  snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  size_t fl = strlen(field);
  long v = -1;
  while (fgets(line, sizeof line, f)) {
    if (strncmp(line, field, fl) == 0 && line[fl] == ':') {
      v = strtol(line + fl + 1, NULL, 10);
      break;
    }
  }
  fclose(f);
  return v;
}

long th_proc_cpu_ticks(pid_t pid) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (f == NULL)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  /* After "(comm)": state is field 3; utime and stime are fields 14, 15. */
  char *p = strrchr(buf, ')');
  if (p == NULL)
    return -1;
  p += 2;
  long utime = 0, stime = 0;
  for (int field = 3; field <= 15 && *p; field++) {
    if (field == 14)
      utime = strtol(p, NULL, 10);
    if (field == 15)
      stime = strtol(p, NULL, 10);
    p = strchr(p, ' ');
    if (p == NULL)
      break;
    p++;
  }
  return utime + stime;
}

int th_proc_fds(pid_t pid) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/fd", (int)pid);
  DIR *d = opendir(path);
  if (d == NULL)
    return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (e->d_name[0] != '.')
      n++;
  closedir(d);
  return n;
}

long th_clk_tck(void) {
  long t = sysconf(_SC_CLK_TCK);
  return t > 0 ? t : 100;
}

/* ---- requests ------------------------------------------------------------ */

int th_get_status(int port, const char *path, char **body) {
  char req[512];
  snprintf(req, sizeof req,
           "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
  tn_response_t r;
  int rc = tn_roundtrip(port, req, &r);
  if (body)
    *body = NULL;
  if (rc == 0) {
    rc = r.status;
    if (body)
      *body = strdup(r.body ? r.body : "");
  }
  tn_response_free(&r);
  return rc;
}

int th_metric(int port, const char *name, uint64_t *out) {
  char *body;
  int st = th_get_status(port, "/metrics", &body);
  if (st < 0)
    return st;
  int rc = -ENOENT;
  if (st == 200 && body) {
    size_t nl = strlen(name);
    for (char *line = body; line && *line;) {
      char *next = strchr(line, '\n');
      if (next)
        *next++ = '\0';
      if (strncmp(line, name, nl) == 0 && line[nl] == ' ') {
        *out = strtoull(line + nl + 1, NULL, 10);
        rc = 0;
        break;
      }
      line = next;
    }
  } else if (st != 200) {
    rc = -EPROTO;
  }
  free(body);
  return rc;
}

int th_metric_wait(int port, const char *name, uint64_t want, int timeout_ms,
                   uint64_t *last) {
  int64_t deadline = tn_now_ms() + timeout_ms;
  uint64_t v = UINT64_MAX;
  for (;;) {
    if (th_metric(port, name, &v) == 0 && v == want) {
      if (last)
        *last = v;
      return 0;
    }
    if (tn_now_ms() >= deadline)
      break;
    tn_sleep_ms(20);
  }
  if (last)
    *last = v;
  return -ETIMEDOUT;
}

int th_dev_token(int port, char *out, size_t cap) {
  char *body;
  int st = th_get_status(port, "/hub/info", &body);
  if (st < 0)
    return st;
  int rc = -ENOENT;
  const char *key = "\"dev_token\":\"";
  const char *p = body ? strstr(body, key) : NULL;
  if (st == 200 && p) {
    p += strlen(key);
    const char *end = strchr(p, '"');
    if (end && (size_t)(end - p) < cap) {
      memcpy(out, p, (size_t)(end - p));
      out[end - p] = '\0';
      rc = 0;
    }
  }
  free(body);
  return rc;
}

int th_publish_send(tn_conn_t *c, const char *token, const char *topic,
                    const char *id, const char *data, size_t data_len) {
  size_t form_len = strlen("topic=") + strlen(topic) + strlen("&data=") +
                    data_len + (id ? strlen("&id=") + strlen(id) : 0);
  int rc = tn_sendf(c,
                    "POST /.well-known/mercure HTTP/1.1\r\nHost: t\r\n"
                    "Authorization: Bearer %s\r\n"
                    "Content-Type: application/x-www-form-urlencoded\r\n"
                    "Content-Length: %zu\r\n\r\ntopic=%s%s%s&data=",
                    token, form_len, topic, id ? "&id=" : "", id ? id : "");
  if (rc == 0)
    rc = tn_send(c, data, data_len);
  return rc;
}

int th_publish_read(tn_conn_t *c) {
  tn_response_t r;
  int rc = tn_read_response(c, &r, 0, TN_WAIT_MS);
  if (rc == 0)
    rc = r.status;
  tn_response_free(&r);
  return rc;
}

int th_subscribe_send(tn_conn_t *c, const char *query) {
  return tn_sendf(c, "GET /.well-known/mercure?%s HTTP/1.1\r\nHost: t\r\n\r\n",
                  query);
}

/* ---- SSE responses ------------------------------------------------------- */

enum {
  S_HEAD,
  S_SIZE,
  S_EXT,
  S_SIZE_LF,
  S_DATA,
  S_DATA_CR,
  S_DATA_LF,
  S_TRAILER,
  S_TRAILER_LF,
  S_DONE
};

void th_sse_init(th_sse_t *s, tn_conn_t *c) {
  memset(s, 0, sizeof(*s));
  s->c = c;
  s->st = S_HEAD;
}

void th_sse_free(th_sse_t *s) {
  free(s->data);
  memset(s, 0, sizeof(*s));
}

static int data_append(th_sse_t *s, const char *p, size_t n) {
  if (s->len + n + 1 > s->cap) {
    /* Drop what was handed out already before growing. */
    if (s->taken > 0) {
      memmove(s->data, s->data + s->taken, s->len - s->taken);
      s->len -= s->taken;
      s->taken = 0;
    }
    size_t cap = s->cap ? s->cap : 4096;
    while (cap < s->len + n + 1)
      cap *= 2;
    if (cap != s->cap) {
      char *d = realloc(s->data, cap);
      if (d == NULL)
        return -ENOMEM;
      s->data = d;
      s->cap = cap;
    }
  }
  memcpy(s->data + s->len, p, n);
  s->len += n;
  s->data[s->len] = '\0';
  return 0;
}

static int sse_bad(th_sse_t *s) {
  s->bad = true;
  return -EPROTO;
}

int th_sse_parse(th_sse_t *s) {
  tn_conn_t *c = s->c;
  if (s->bad)
    return -EPROTO;
  size_t i = 0;
  if (s->st == S_HEAD) {
    const char *end = c->buf ? memmem(c->buf, c->len, "\r\n\r\n", 4) : NULL;
    if (end == NULL)
      return 0;
    size_t hl = (size_t)(end - c->buf) + 4;
    if (hl < 13 || strncmp(c->buf, "HTTP/1.1 ", 9) != 0)
      return sse_bad(s);
    s->status = atoi(c->buf + 9);
    /* Only "Transfer-Encoding: chunked" matters here. */
    for (const char *p = c->buf; p < end; p++) {
      if (strncasecmp(p, "\r\ntransfer-encoding: chunked\r\n", 30) == 0)
        s->chunked = true;
    }
    i = hl;
    s->st = s->chunked ? S_SIZE : S_DONE;
    if (!s->chunked) {
      /* A fixed error response: keep its body as data for messages. */
      tn_consume(c, i);
      return 0;
    }
  }
  while (i < c->len && s->st != S_DONE) {
    char ch = c->buf[i];
    switch (s->st) {
    case S_SIZE:
      if (isxdigit((unsigned char)ch)) {
        if (s->left > (UINT64_MAX >> 4))
          return sse_bad(s);
        s->left = s->left * 16 + (uint64_t)(isdigit((unsigned char)ch)
                                                ? ch - '0'
                                                : (tolower(ch) - 'a' + 10));
        i++;
      } else if (ch == ';') {
        s->st = S_EXT;
        i++;
      } else if (ch == '\r') {
        s->st = S_SIZE_LF;
        i++;
      } else {
        return sse_bad(s);
      }
      break;
    case S_EXT:
      if (ch == '\r')
        s->st = S_SIZE_LF;
      i++;
      break;
    case S_SIZE_LF:
      if (ch != '\n')
        return sse_bad(s);
      i++;
      s->st = s->left == 0 ? S_TRAILER : S_DATA;
      break;
    case S_DATA: {
      size_t avail = c->len - i;
      size_t take = avail < s->left ? avail : (size_t)s->left;
      if (data_append(s, c->buf + i, take) < 0)
        return -ENOMEM;
      i += take;
      s->left -= take;
      if (s->left == 0)
        s->st = S_DATA_CR;
      break;
    }
    case S_DATA_CR:
      if (ch != '\r')
        return sse_bad(s);
      s->st = S_DATA_LF;
      i++;
      break;
    case S_DATA_LF:
      if (ch != '\n')
        return sse_bad(s);
      s->st = S_SIZE;
      i++;
      break;
    case S_TRAILER:
      /* The hub sends no trailer fields: the empty line ends the body. */
      if (ch != '\r')
        return sse_bad(s);
      s->st = S_TRAILER_LF;
      i++;
      break;
    case S_TRAILER_LF:
      if (ch != '\n')
        return sse_bad(s);
      s->st = S_DONE;
      s->last_chunk = true;
      i++;
      break;
    }
  }
  tn_consume(c, i);
  return 0;
}

int th_sse_pump(th_sse_t *s, int timeout_ms) {
  int n = tn_fill(s->c, timeout_ms);
  if (n < 0 && n != -ETIMEDOUT)
    return n;
  int rc = th_sse_parse(s);
  if (rc < 0)
    return rc;
  return n;
}

int th_sse_wait_head(th_sse_t *s, int timeout_ms) {
  int64_t deadline = tn_now_ms() + timeout_ms;
  while (s->status == 0) {
    int rc = th_sse_parse(s);
    if (rc < 0)
      return rc;
    if (s->status)
      break;
    if (s->c->eof)
      return -EPIPE;
    int left = (int)(deadline - tn_now_ms());
    if (left <= 0)
      return -ETIMEDOUT;
    rc = tn_fill(s->c, left);
    if (rc < 0)
      return rc;
  }
  return 0;
}

bool th_sse_next(th_sse_t *s, th_event_t *ev) {
  for (;;) {
    const char *start = s->data ? s->data + s->taken : NULL;
    size_t avail = s->len - s->taken;
    const char *end = start ? memmem(start, avail, "\n\n", 2) : NULL;
    if (end == NULL)
      return false;
    size_t block = (size_t)(end - start) + 2;
    memset(ev, 0, sizeof(*ev));
    ev->comment = true;
    /* Fields: "id: x", "data: y" (several join with '\n'), ": comment".
     * Data is copied in place over the block, which is consumed. */
    char *out = (char *)start;
    size_t out_len = 0;
    bool any_data = false;
    for (const char *line = start; line < end + 1;) {
      const char *eol = memchr(line, '\n', (size_t)(end + 1 - line));
      size_t ll = (size_t)(eol - line);
      if (ll >= 4 && strncmp(line, "id: ", 4) == 0) {
        size_t n = ll - 4 < sizeof ev->id - 1 ? ll - 4 : sizeof ev->id - 1;
        memcpy(ev->id, line + 4, n);
        ev->id[n] = '\0';
        ev->comment = false;
      } else if (ll >= 5 && strncmp(line, "data:", 5) == 0) {
        size_t off = ll > 5 && line[5] == ' ' ? 6 : 5;
        if (any_data)
          out[out_len++] = '\n';
        memmove(out + out_len, line + off, ll - off);
        out_len += ll - off;
        any_data = true;
        ev->comment = false;
      } else if (ll > 0 && line[0] != ':') {
        ev->comment = false; /* event:, retry: */
      }
      line = eol + 1;
    }
    ev->data = out;
    ev->data_len = out_len;
    s->taken += block;
    s->events++;
    return true;
  }
}
