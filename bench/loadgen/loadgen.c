/*
 * Bench load generator: one epoll thread that speaks SOCKS5 (optionally with
 * RFC 1929 user/password), SOCKS4 or SOCKS4a itself, optionally inside TLS
 * (--tls: a full handshake each time; --tls-resume: resuming the newest
 * session ticket),
 * or connects straight to the target (the direct baseline).
 *
 * Modes (--mode):
 *   conn  keep --concurrency connections in flight; each one connects,
 *         handshakes, sends one byte to an echo-close target and waits for the
 *         echo (its latency: connect() to first byte) and then for the
 *         target's close. Time-bound (--duration-ms, --warmup-ms) or
 *         count-bound (--count N, with --progress-every K lines for leak checks).
 *   bulk  --streams S connections to a sink (--direction up) or source
 *         (--direction down) target, moving bytes as fast as they go.
 *   idle  open --count N relayed connections (at most --concurrency
 *         handshaking at once), echo one byte on each, print a "ready" line,
 *         hold them until stdin has a line or closes (or --hold-ms passes),
 *         then reset them all.
 * Prints one JSON object per line on stdout; the last line is the result.
 * Every run is bounded: --max-ms (default 600000) ends it whatever happens.
 */
#include "common.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#ifndef LOADGEN_NO_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#else
typedef struct ssl_st SSL;
#endif

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

enum mode { M_CONN, M_BULK, M_IDLE };
enum proto { P_NONE, P_SOCKS5, P_SOCKS4, P_SOCKS4A };
enum state { S_FREE, S_CONNECTING, S_TLS, S_SEND, S_RECV, S_WAIT_EOF, S_BULK_UP, S_BULK_DOWN, S_IDLE };
enum phase { PH_S5_METHOD, PH_S5_AUTH, PH_S5_REPLY_HEAD, PH_S5_REPLY_REST, PH_S4_REPLY, PH_ECHO };
enum err { E_CONNECT, E_TLS, E_REJECTED, E_PROTOCOL, E_EOF, E_RESET, E_TIMEOUT, E_DROPPED, E_COUNT };
static const char *err_names[E_COUNT] = {"connect", "tls", "rejected", "protocol", "eof", "reset", "timeout", "dropped"};

#define IO_WANT_READ (-1)
#define IO_WANT_WRITE (-2)
#define IO_ERROR (-3)
#define BULK_BYTES (256 * 1024)
#define TLS_CHUNK (16 * 1024)
#define STDIN_TAG 0xffffffffu

struct conn {
  int fd;
  uint8_t state, phase;
  uint32_t want;
  SSL *ssl;
  uint64_t t_start, t_first, deadline;
  uint32_t target_addr;
  int in_have, in_need;
  int out_len, out_off;
  uint8_t in[300];
  uint8_t out[600];
};

/* options */
static enum mode mode = M_CONN;
static enum proto proto = P_SOCKS5;
static struct sockaddr_in proxy;
static int have_proxy;
static struct host_range targets, clients;
static int target_port = 20001;
static long concurrency = 50, count, streams = 1, progress_every;
static long duration_ms = 5000, warmup_ms = 1000, max_ms = 600000, timeout_ms = 10000, hold_ms = 300000;
static int direction_up = 1, use_tls, tls_resume;
/* --tls-resume: the newest session ticket, offered by every new connection. */
static long tls_resumed;
static const char *user, *pass;

/* state */
static struct conn *conns;
static long nslots;
static int epfd;
static volatile sig_atomic_t stopping;
static uint64_t t0, warm_at, end_at;
static long started, finished, active, handshaking, established, completed_window;
static uint64_t errors[E_COUNT];
static uint64_t bytes_total, bytes_window;
static uint32_t *samples;
static size_t nsamples, cap_samples;
static long next_client, next_target;
static uint8_t bulk[BULK_BYTES];
#ifndef LOADGEN_NO_TLS
static SSL_CTX *tls_ctx;
static SSL_SESSION *resume_session;

static int on_new_session(SSL *ssl, SSL_SESSION *session) {
  (void)ssl;
  if (resume_session) SSL_SESSION_free(resume_session);
  resume_session = session;
  return 1; /* ours now */
}
#endif

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void usage_error(const char *what, const char *value) {
  fprintf(stderr, "loadgen: %s: %s\n", what, value ? value : "(missing)");
  exit(2);
}

static void record_sample(uint64_t ns) {
  if (nsamples == cap_samples) {
    cap_samples = cap_samples ? cap_samples * 2 : 65536;
    samples = realloc(samples, cap_samples * sizeof *samples);
    if (!samples) die("realloc");
  }
  uint64_t us = ns / 1000;
  samples[nsamples++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void set_want(struct conn *c, uint32_t events) {
  if (c->want == events) return;
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)(c - conns)};
  epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &ev);
  c->want = events;
}

static int io_read(struct conn *c, void *buf, int len) {
#ifndef LOADGEN_NO_TLS
  if (c->ssl) {
    int r = SSL_read(c->ssl, buf, len);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) return IO_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE) return IO_WANT_WRITE;
    if (e == SSL_ERROR_ZERO_RETURN) return 0;
    ERR_clear_error();
    return IO_ERROR;
  }
#endif
  ssize_t n = recv(c->fd, buf, (size_t)len, 0);
  if (n >= 0) return (int)n;
  return errno == EAGAIN ? IO_WANT_READ : IO_ERROR;
}

static int io_write(struct conn *c, const void *buf, int len) {
#ifndef LOADGEN_NO_TLS
  if (c->ssl) {
    int r = SSL_write(c->ssl, buf, len);
    if (r > 0) return r;
    int e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) return IO_WANT_READ;
    if (e == SSL_ERROR_WANT_WRITE) return IO_WANT_WRITE;
    ERR_clear_error();
    return IO_ERROR;
  }
#endif
  ssize_t n = send(c->fd, buf, (size_t)len, MSG_NOSIGNAL);
  if (n >= 0) return (int)n;
  return errno == EAGAIN ? IO_WANT_WRITE : IO_ERROR;
}

/* Closes with a reset (SO_LINGER 0), so no TIME_WAIT is left on client ports. */
static void release(struct conn *c, int reset) {
  if (reset) {
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  }
#ifndef LOADGEN_NO_TLS
  if (c->ssl) SSL_free(c->ssl);
#endif
  c->ssl = NULL;
  close(c->fd);
  if (c->state != S_IDLE && c->state != S_BULK_UP && c->state != S_BULK_DOWN && c->state != S_WAIT_EOF)
    handshaking--;
  if (c->state == S_IDLE) established--;
  c->fd = -1;
  c->state = S_FREE;
  active--;
  finished++;
}

static void fail(struct conn *c, enum err why) {
  errors[why]++;
  release(c, 1);
}

static uint32_t pick(const struct host_range *r, long *cursor) {
  uint32_t a = r->addrs[*cursor % r->count];
  (*cursor)++;
  return a;
}

static int start_conn(struct conn *c) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    errors[E_CONNECT]++;
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (clients.count > 0) {
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = pick(&clients, &next_client);
    if (bind(fd, (struct sockaddr *)&src, sizeof src) != 0) {
      close(fd);
      errors[E_CONNECT]++;
      return -1;
    }
  }
  c->target_addr = pick(&targets, &next_target);
  struct sockaddr_in dst;
  if (have_proxy) {
    dst = proxy;
  } else {
    dst = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)target_port)};
    dst.sin_addr.s_addr = c->target_addr;
  }
  c->t_start = now_ns();
  c->t_first = 0;
  c->deadline = c->t_start + (uint64_t)timeout_ms * 1000000ull;
  if (connect(fd, (struct sockaddr *)&dst, sizeof dst) != 0 && errno != EINPROGRESS) {
    close(fd);
    errors[E_CONNECT]++;
    return -1;
  }
  c->fd = fd;
  c->state = S_CONNECTING;
  c->ssl = NULL;
  c->want = EPOLLOUT;
  struct epoll_event ev = {.events = EPOLLOUT, .data.u32 = (uint32_t)(c - conns)};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl add");
  started++;
  active++;
  handshaking++;
  return 0;
}

static void send_then_recv(struct conn *c, int len, int need, enum phase phase) {
  c->out_len = len;
  c->out_off = 0;
  c->in_have = 0;
  c->in_need = need;
  c->phase = (uint8_t)phase;
  c->state = S_SEND;
}

static void put_port_addr(uint8_t *p, struct conn *c) {
  uint16_t port = htons((uint16_t)target_port);
  memcpy(p, &port, 2);
  memcpy(p + 2, &c->target_addr, 4);
}

static void send_socks5_request(struct conn *c) {
  uint8_t *o = c->out;
  o[0] = 5, o[1] = 1, o[2] = 0, o[3] = 1;
  memcpy(o + 4, &c->target_addr, 4);
  uint16_t port = htons((uint16_t)target_port);
  memcpy(o + 8, &port, 2);
  send_then_recv(c, 10, 5, PH_S5_REPLY_HEAD);
}

static void begin_socks(struct conn *c);

/* The SOCKS reply arrived (or, direct, the TCP connection is up). */
static void on_established(struct conn *c) {
  if (mode == M_BULK) {
    c->state = direction_up ? S_BULK_UP : S_BULK_DOWN;
    set_want(c, direction_up ? EPOLLOUT : EPOLLIN);
    handshaking--;
    return;
  }
  c->out[0] = 'p'; /* handshaking until the echo comes back */
  send_then_recv(c, 1, 1, PH_ECHO);
}

static void begin_socks(struct conn *c) {
  uint8_t *o = c->out;
  switch (proto) {
    case P_NONE:
      on_established(c);
      return;
    case P_SOCKS5:
      o[0] = 5, o[1] = 1, o[2] = user ? 2 : 0;
      send_then_recv(c, 3, 2, PH_S5_METHOD);
      return;
    case P_SOCKS4:
    case P_SOCKS4A: {
      o[0] = 4, o[1] = 1;
      put_port_addr(o + 2, c);
      int len = 8;
      const char *id = user ? user : "";
      size_t idlen = strlen(id);
      memcpy(o + len, id, idlen + 1);
      len += (int)idlen + 1;
      if (proto == P_SOCKS4A) {
        uint8_t fake[4] = {0, 0, 0, 1};
        memcpy(o + 4, fake, 4);
        char host[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &c->target_addr, host, sizeof host);
        size_t hlen = strlen(host);
        memcpy(o + len, host, hlen + 1);
        len += (int)hlen + 1;
      }
      send_then_recv(c, len, 8, PH_S4_REPLY);
      return;
    }
  }
}

/* A full reply (or echo) arrived; returns 0 to go on, -1 when the connection failed. */
static int on_received(struct conn *c) {
  uint8_t *in = c->in;
  switch ((enum phase)c->phase) {
    case PH_S5_METHOD:
      if (in[0] != 5) return fail(c, E_PROTOCOL), -1;
      if (in[1] != (user ? 2 : 0)) return fail(c, E_REJECTED), -1;
      if (user) {
        size_t ul = strlen(user), pl = strlen(pass);
        uint8_t *o = c->out;
        o[0] = 1;
        o[1] = (uint8_t)ul;
        memcpy(o + 2, user, ul);
        o[2 + ul] = (uint8_t)pl;
        memcpy(o + 3 + ul, pass, pl);
        send_then_recv(c, (int)(3 + ul + pl), 2, PH_S5_AUTH);
      } else {
        send_socks5_request(c);
      }
      return 0;
    case PH_S5_AUTH:
      if (in[1] != 0) return fail(c, E_REJECTED), -1;
      send_socks5_request(c);
      return 0;
    case PH_S5_REPLY_HEAD:
      if (in[0] != 5) return fail(c, E_PROTOCOL), -1;
      if (in[1] != 0) return fail(c, E_REJECTED), -1;
      c->in_need = in[3] == 1 ? 10 : in[3] == 4 ? 22 : in[3] == 3 ? 7 + in[4] : -1;
      if (c->in_need < 0) return fail(c, E_PROTOCOL), -1;
      c->phase = PH_S5_REPLY_REST;
      return 0;
    case PH_S5_REPLY_REST:
      on_established(c);
      return 0;
    case PH_S4_REPLY:
      if (in[0] != 0) return fail(c, E_PROTOCOL), -1;
      if (in[1] != 0x5a) return fail(c, E_REJECTED), -1;
      on_established(c);
      return 0;
    case PH_ECHO:
      c->t_first = now_ns();
      handshaking--;
      if (mode == M_IDLE) {
        c->state = S_IDLE;
        established++;
      } else {
        c->state = S_WAIT_EOF;
      }
      return 0;
  }
  return 0;
}

static void complete(struct conn *c) {
  uint64_t t = now_ns();
  if (count > 0 || (t >= warm_at && t < end_at)) {
    record_sample(c->t_first - c->t_start);
    completed_window++;
    if (progress_every > 0 && completed_window % progress_every == 0) {
      printf("{\"event\":\"progress\",\"completed\":%ld}\n", completed_window);
      fflush(stdout);
    }
  }
  release(c, 0);
}

/* Moves one connection on until it blocks, fails or finishes. */
static void drive(struct conn *c, uint32_t events) {
  for (int guard = 0; guard < 64 && c->state != S_FREE; guard++) {
    switch ((enum state)c->state) {
      case S_FREE:
        return;
      case S_CONNECTING: {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return fail(c, E_CONNECT);
        if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
#ifndef LOADGEN_NO_TLS
        if (use_tls) {
          c->ssl = SSL_new(tls_ctx);
          SSL_set_fd(c->ssl, c->fd);
          SSL_set_connect_state(c->ssl);
          if (tls_resume && resume_session) SSL_set_session(c->ssl, resume_session);
          c->state = S_TLS;
          continue;
        }
#endif
        begin_socks(c);
        continue;
      }
      case S_TLS: {
#ifndef LOADGEN_NO_TLS
        int r = SSL_do_handshake(c->ssl);
        if (r == 1) {
          if (SSL_session_reused(c->ssl)) tls_resumed++;
          begin_socks(c);
          continue;
        }
        int e = SSL_get_error(c->ssl, r);
        if (e == SSL_ERROR_WANT_READ) return set_want(c, EPOLLIN);
        if (e == SSL_ERROR_WANT_WRITE) return set_want(c, EPOLLOUT);
        ERR_clear_error();
#endif
        return fail(c, E_TLS);
      }
      case S_SEND: {
        int r = io_write(c, c->out + c->out_off, c->out_len - c->out_off);
        if (r == IO_WANT_READ) return set_want(c, EPOLLIN);
        if (r == IO_WANT_WRITE) return set_want(c, EPOLLOUT);
        if (r < 0) return fail(c, E_RESET);
        c->out_off += r;
        if (c->out_off == c->out_len) c->state = S_RECV;
        continue;
      }
      case S_RECV: {
        int r = io_read(c, c->in + c->in_have, c->in_need - c->in_have);
        if (r == IO_WANT_READ) return set_want(c, EPOLLIN);
        if (r == IO_WANT_WRITE) return set_want(c, EPOLLOUT);
        if (r == 0) return fail(c, E_EOF);
        if (r < 0) return fail(c, E_RESET);
        c->in_have += r;
        if (c->in_have == c->in_need && on_received(c) < 0) return;
        continue;
      }
      case S_WAIT_EOF: {
        int r = io_read(c, bulk, sizeof bulk);
        if (r == IO_WANT_READ) return set_want(c, EPOLLIN);
        if (r == IO_WANT_WRITE) return set_want(c, EPOLLOUT);
        if (r <= 0) return complete(c); /* EOF, or a reset after the echo: the cycle is done */
        continue;
      }
      case S_IDLE: {
        int r = io_read(c, bulk, sizeof bulk);
        if (r == IO_WANT_READ) return set_want(c, EPOLLIN);
        if (r == IO_WANT_WRITE) return set_want(c, EPOLLOUT);
        if (r <= 0) return fail(c, E_DROPPED);
        continue;
      }
      case S_BULK_UP:
      case S_BULK_DOWN: {
        uint64_t t = now_ns();
        int up = c->state == S_BULK_UP;
        int chunk = c->ssl ? TLS_CHUNK : BULK_BYTES;
        for (int round = 0; round < 16; round++) {
          int r = up ? io_write(c, bulk, chunk) : io_read(c, bulk, chunk);
          if (r == IO_WANT_READ) return set_want(c, EPOLLIN);
          if (r == IO_WANT_WRITE) return set_want(c, EPOLLOUT);
          if (r <= 0) return fail(c, r == 0 ? E_EOF : E_RESET);
          bytes_total += (uint64_t)r;
          if (t >= warm_at && t < end_at) bytes_window += (uint64_t)r;
        }
        return; /* level-triggered epoll calls again; let other streams run */
      }
    }
  }
}

static void check_timeouts(uint64_t t) {
  for (long i = 0; i < nslots; i++) {
    struct conn *c = &conns[i];
    if (c->state == S_FREE || c->state == S_IDLE || c->state == S_BULK_UP || c->state == S_BULK_DOWN) continue;
    if (t > c->deadline) fail(c, E_TIMEOUT);
  }
}

static void print_result(void) {
  uint64_t t = now_ns();
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  double cpu = (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
               ru.ru_stime.tv_usec / 1e6;
  double wall = (double)(t - t0) / 1e9;
  uint64_t win_end = t < end_at ? t : end_at;
  double window = win_end > warm_at ? (double)(win_end - warm_at) / 1e9 : 0;
  if (count > 0 && mode == M_CONN) window = wall;
  uint32_t p50 = 0, p99 = 0, pmax = 0;
  if (nsamples > 0) {
    qsort(samples, nsamples, sizeof *samples, cmp_u32);
    p50 = samples[(size_t)((nsamples - 1) * 0.50)];
    p99 = samples[(size_t)((nsamples - 1) * 0.99)];
    pmax = samples[nsamples - 1];
  }
  printf("{\"event\":\"result\",\"mode\":\"%s\",\"started\":%ld,\"completed\":%ld,\"established\":%ld,",
         mode == M_CONN ? "conn" : mode == M_BULK ? "bulk" : "idle", started, completed_window, established);
  printf("\"window_s\":%.4f,\"rate_per_s\":%.1f,\"p50_us\":%u,\"p99_us\":%u,\"max_us\":%u,", window,
         window > 0 ? completed_window / window : 0.0, p50, p99, pmax);
  printf("\"bytes_total\":%llu,\"bytes_window\":%llu,\"bytes_per_s\":%.1f,",
         (unsigned long long)bytes_total, (unsigned long long)bytes_window,
         window > 0 ? bytes_window / window : 0.0);
  printf("\"cpu_s\":%.3f,\"wall_s\":%.3f,\"tls_resumed\":%ld,\"errors\":{", cpu, wall, tls_resumed);
  for (int i = 0; i < E_COUNT; i++) printf("%s\"%s\":%llu", i ? "," : "", err_names[i], (unsigned long long)errors[i]);
  printf("}}\n");
  fflush(stdout);
}

static long arg_long(const char *flag, const char *v) {
  char *end;
  long n = strtol(v, &end, 10);
  if (*v == 0 || *end != 0 || n < 0) usage_error(flag, v);
  return n;
}

static void parse_args(int argc, char **argv) {
  for (int i = 1; i < argc; i += 2) {
    const char *f = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(f, "--tls") || !strcmp(f, "--tls-resume")) {
      use_tls = 1;
      tls_resume = !strcmp(f, "--tls-resume");
      i--;
      continue;
    }
    if (!v) usage_error("missing value for", f);
    if (!strcmp(f, "--mode")) {
      if (!strcmp(v, "conn")) mode = M_CONN;
      else if (!strcmp(v, "bulk")) mode = M_BULK;
      else if (!strcmp(v, "idle")) mode = M_IDLE;
      else usage_error("--mode (conn|bulk|idle)", v);
    } else if (!strcmp(f, "--proto")) {
      if (!strcmp(v, "none")) proto = P_NONE;
      else if (!strcmp(v, "socks5")) proto = P_SOCKS5;
      else if (!strcmp(v, "socks4")) proto = P_SOCKS4;
      else if (!strcmp(v, "socks4a")) proto = P_SOCKS4A;
      else usage_error("--proto (none|socks5|socks4|socks4a)", v);
    } else if (!strcmp(f, "--proxy")) {
      char host[64];
      const char *colon = strrchr(v, ':');
      if (!colon || (size_t)(colon - v) >= sizeof host) usage_error("--proxy HOST:PORT", v);
      memcpy(host, v, (size_t)(colon - v));
      host[colon - v] = 0;
      proxy = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1))};
      if (inet_pton(AF_INET, host, &proxy.sin_addr) != 1) usage_error("--proxy HOST:PORT", v);
      have_proxy = 1;
    } else if (!strcmp(f, "--targets")) {
      if (parse_host_range(v, &targets) != 0) usage_error("--targets", v);
    } else if (!strcmp(f, "--clients")) {
      if (parse_host_range(v, &clients) != 0) usage_error("--clients", v);
    } else if (!strcmp(f, "--target-port")) target_port = (int)arg_long(f, v);
    else if (!strcmp(f, "--concurrency")) concurrency = arg_long(f, v);
    else if (!strcmp(f, "--count")) count = arg_long(f, v);
    else if (!strcmp(f, "--streams")) streams = arg_long(f, v);
    else if (!strcmp(f, "--progress-every")) progress_every = arg_long(f, v);
    else if (!strcmp(f, "--duration-ms")) duration_ms = arg_long(f, v);
    else if (!strcmp(f, "--warmup-ms")) warmup_ms = arg_long(f, v);
    else if (!strcmp(f, "--max-ms")) max_ms = arg_long(f, v);
    else if (!strcmp(f, "--timeout-ms")) timeout_ms = arg_long(f, v);
    else if (!strcmp(f, "--hold-ms")) hold_ms = arg_long(f, v);
    else if (!strcmp(f, "--direction")) {
      if (!strcmp(v, "up")) direction_up = 1;
      else if (!strcmp(v, "down")) direction_up = 0;
      else usage_error("--direction (up|down)", v);
    } else if (!strcmp(f, "--user")) user = v;
    else if (!strcmp(f, "--pass")) pass = v;
    else usage_error("unknown flag", f);
  }
  if (!have_proxy) proto = P_NONE;
  if (have_proxy && proto == P_NONE) usage_error("--proto", "none needs no --proxy");
  if (targets.count == 0) parse_host_range("127.0.0.1", &targets);
  if (user && (!pass || strlen(user) > 255 || strlen(pass) > 255)) usage_error("--user/--pass", user);
  if (concurrency < 1 || streams < 1) usage_error("--concurrency/--streams", "must be >= 1");
#ifdef LOADGEN_NO_TLS
  if (use_tls) usage_error("--tls", "built without OpenSSL");
#endif
}

int main(int argc, char **argv) {
  parse_args(argc, argv);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGALRM, &sa, NULL);
  alarm((unsigned)((max_ms + 999) / 1000));
  long fds = raise_nofile();

#ifndef LOADGEN_NO_TLS
  if (use_tls) {
    tls_ctx = SSL_CTX_new(TLS_client_method());
    SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL); /* the bench's self-signed certificate */
    if (tls_resume) {
      /* Returning clients: each connection offers the newest ticket the server issued. */
      SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
      SSL_CTX_sess_set_new_cb(tls_ctx, on_new_session);
      SSL_CTX_set_options(tls_ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    } else {
      SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_OFF); /* every connection a full handshake */
      SSL_CTX_set_options(tls_ctx, SSL_OP_NO_TICKET | SSL_OP_IGNORE_UNEXPECTED_EOF);
    }
    SSL_CTX_set_mode(tls_ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  }
#endif

  nslots = mode == M_BULK ? streams : mode == M_IDLE ? count : concurrency;
  if (mode == M_IDLE && count < 1) usage_error("--count", "idle mode needs --count N");
  if (nslots + 16 > fds) {
    fprintf(stderr, "loadgen: %ld connections need more than the %ld open files allowed\n", nslots, fds);
    return 2;
  }
  conns = calloc((size_t)nslots, sizeof *conns);
  if (!conns) die("calloc");
  for (long i = 0; i < nslots; i++) conns[i].fd = -1;
  memset(bulk, 'u', sizeof bulk);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");

  t0 = now_ns();
  warm_at = t0 + (uint64_t)warmup_ms * 1000000ull;
  end_at = t0 + (uint64_t)duration_ms * 1000000ull;
  uint64_t hard_end = t0 + (uint64_t)max_ms * 1000000ull;
  if (mode == M_IDLE || (mode == M_CONN && count > 0)) end_at = hard_end, warm_at = t0;

  int ready_printed = 0, holding = 0;
  uint64_t hold_until = 0, last_scan = t0;
  uint64_t error_cap = 1000;
  struct epoll_event evs[1024];
  long cursor = 0; /* next free slot to look at */

  while (!stopping) {
    uint64_t t = now_ns();
    if (t >= hard_end) break;
    uint64_t nerr = 0;
    for (int i = 0; i < E_COUNT; i++) nerr += errors[i];
    if (nerr > error_cap + (uint64_t)completed_window / 10 + (uint64_t)established / 10) {
      fprintf(stderr, "loadgen: giving up after %llu errors\n", (unsigned long long)nerr);
      break;
    }

    /* start connections */
    if (mode == M_CONN) {
      if (count == 0 && t >= end_at) break;
      int budget = 256;
      while (active < concurrency && (count == 0 || started < count) && budget-- > 0) {
        while (conns[cursor].state != S_FREE) cursor = (cursor + 1) % nslots;
        start_conn(&conns[cursor]);
      }
      if (count > 0 && started >= count && active == 0) break;
    } else if (mode == M_BULK) {
      if (t >= end_at) break;
      while (started < streams) {
        if (start_conn(&conns[started]) != 0) break;
      }
      if (active == 0 && started >= streams) break;
    } else {
      int budget = 256;
      while (started < count && handshaking < concurrency && budget-- > 0) {
        if (start_conn(&conns[started]) != 0) started++; /* counted as a connect error */
      }
      if (!ready_printed && started >= count && handshaking == 0) {
        printf("{\"event\":\"ready\",\"established\":%ld}\n", established);
        fflush(stdout);
        ready_printed = 1;
        holding = 1;
        hold_until = t + (uint64_t)hold_ms * 1000000ull;
        struct epoll_event ev = {.events = EPOLLIN, .data.u32 = STDIN_TAG};
        epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &ev);
      }
      if (holding && t >= hold_until) break;
    }

    int n = epoll_wait(epfd, evs, 1024, 10);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      if (evs[i].data.u32 == STDIN_TAG) {
        holding = 0;
        stopping = 1;
        break;
      }
      drive(&conns[evs[i].data.u32], evs[i].events);
    }
    t = now_ns();
    if (t - last_scan > 100000000ull) {
      check_timeouts(t);
      last_scan = t;
    }
  }
  if (mode == M_IDLE && !ready_printed) {
    printf("{\"event\":\"ready\",\"established\":%ld}\n", established);
    fflush(stdout);
  }
  print_result();
  for (long i = 0; i < nslots; i++)
    if (conns[i].state != S_FREE) release(&conns[i], 1);
  return 0;
}
