/*
 * Bench targets: one epoll thread serving four kinds of TCP endpoint on every
 * address of a range, each kind on its own port (base+0 .. base+3):
 *   echo-close  echoes the first chunk, then half-closes (the server side
 *               closes first, so TIME_WAIT lands here, not on client ports)
 *   echo        echoes everything, for idle connections held open
 *   sink        reads and discards (upload throughput)
 *   source      writes without pause (download throughput)
 * Usage: target --hosts 127.0.0.3-127.0.0.16 --port-base 20001 [--max-seconds 3600]
 * Prints "ready" once listening; exits on SIGTERM/SIGINT, when its parent
 * dies, or after --max-seconds.
 */
#include "common.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

enum kind { K_ECHO_CLOSE, K_ECHO, K_SINK, K_SOURCE, K_KINDS };

#define BULK_BYTES (256 * 1024)
#define LISTENER_TAG 0x80000000u

struct conn {
  uint8_t kind;
  uint8_t open;
  uint8_t half_closed;
  char *pending; /* echo bytes the peer has not taken yet */
  int pending_len;
  int pending_off;
};

static struct conn *conns;
static long max_fds;
static int epfd;
static volatile sig_atomic_t stopping;
static uint8_t bulk[BULK_BYTES];

static void on_signal(int sig) {
  (void)sig;
  stopping = 1;
}

static void set_events(int fd, uint32_t events) {
  struct epoll_event ev = {.events = events, .data.u32 = (uint32_t)fd};
  epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

static void close_conn(int fd) {
  struct conn *c = &conns[fd];
  free(c->pending);
  memset(c, 0, sizeof *c);
  close(fd); /* also removes it from the epoll set */
}

static void accept_all(int lfd, enum kind kind) {
  for (int i = 0; i < 256; i++) {
    int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) return;
    if (fd >= max_fds) {
      close(fd);
      continue;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    conns[fd] = (struct conn){.kind = (uint8_t)kind, .open = 1};
    uint32_t events = kind == K_SOURCE ? (EPOLLIN | EPOLLOUT) : EPOLLIN;
    struct epoll_event ev = {.events = events | EPOLLRDHUP, .data.u32 = (uint32_t)fd};
    if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) close_conn(fd);
  }
}

/* Writes what is pending; returns 1 when all is out, 0 when blocked, -1 on error. */
static int flush_pending(int fd) {
  struct conn *c = &conns[fd];
  while (c->pending_off < c->pending_len) {
    ssize_t n = send(fd, c->pending + c->pending_off, (size_t)(c->pending_len - c->pending_off),
                     MSG_NOSIGNAL);
    if (n < 0) return errno == EAGAIN ? 0 : -1;
    c->pending_off += (int)n;
  }
  free(c->pending);
  c->pending = NULL;
  c->pending_len = c->pending_off = 0;
  return 1;
}

static void echo_readable(int fd) {
  struct conn *c = &conns[fd];
  for (int round = 0; round < 16; round++) {
    ssize_t n = recv(fd, bulk, sizeof bulk, 0);
    if (n == 0 || (n < 0 && errno != EAGAIN)) {
      close_conn(fd);
      return;
    }
    if (n < 0) return;
    if (c->half_closed) continue; /* echo-close: drain until the peer closes */
    ssize_t w = send(fd, bulk, (size_t)n, MSG_NOSIGNAL);
    if (w < 0 && errno != EAGAIN) {
      close_conn(fd);
      return;
    }
    if (w < 0) w = 0;
    if (w < n) {
      c->pending_len = (int)(n - w);
      c->pending_off = 0;
      c->pending = malloc((size_t)c->pending_len);
      if (!c->pending) die("malloc");
      memcpy(c->pending, bulk + w, (size_t)c->pending_len);
      set_events(fd, EPOLLOUT | EPOLLRDHUP); /* stop reading until the echo is out */
      return;
    }
    if (c->kind == K_ECHO_CLOSE) {
      shutdown(fd, SHUT_WR);
      c->half_closed = 1;
    }
  }
}

static void handle(int fd, uint32_t events) {
  struct conn *c = &conns[fd];
  if (!c->open) return;
  switch (c->kind) {
    case K_ECHO:
    case K_ECHO_CLOSE:
      if (c->pending) {
        if (events & (EPOLLERR | EPOLLHUP)) {
          close_conn(fd);
          return;
        }
        int r = flush_pending(fd);
        if (r < 0) {
          close_conn(fd);
          return;
        }
        if (r == 0) return;
        if (c->kind == K_ECHO_CLOSE) {
          shutdown(fd, SHUT_WR);
          c->half_closed = 1;
        }
        set_events(fd, EPOLLIN | EPOLLRDHUP);
        return;
      }
      echo_readable(fd);
      return;
    case K_SINK:
      for (int round = 0; round < 64; round++) {
        ssize_t n = recv(fd, bulk, sizeof bulk, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
          close_conn(fd);
          return;
        }
        if (n < 0) return;
      }
      return;
    case K_SOURCE:
      if (events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)) {
        ssize_t n = recv(fd, bulk, sizeof bulk, 0);
        if (n == 0 || (n < 0 && errno != EAGAIN)) {
          close_conn(fd);
          return;
        }
      }
      for (int round = 0; round < 64; round++) {
        ssize_t n = send(fd, bulk, sizeof bulk, MSG_NOSIGNAL);
        if (n < 0) {
          if (errno != EAGAIN) close_conn(fd);
          return;
        }
      }
      return;
  }
}

static int listen_on(uint32_t addr, int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) die("socket");
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = addr;
  if (bind(fd, (struct sockaddr *)&sa, sizeof sa) != 0) die("bind");
  if (listen(fd, 4096) != 0) die("listen");
  return fd;
}

int main(int argc, char **argv) {
  struct host_range hosts = {0};
  int port_base = 20001;
  long max_seconds = 3600;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!strcmp(argv[i], "--hosts")) {
      if (parse_host_range(argv[i + 1], &hosts) != 0) {
        fprintf(stderr, "target: bad --hosts %s\n", argv[i + 1]);
        return 2;
      }
    } else if (!strcmp(argv[i], "--port-base")) {
      port_base = atoi(argv[i + 1]);
    } else if (!strcmp(argv[i], "--max-seconds")) {
      max_seconds = atol(argv[i + 1]);
    } else {
      fprintf(stderr, "target: unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  if (hosts.count == 0) parse_host_range("127.0.0.1", &hosts);
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  struct sigaction sa = {.sa_handler = on_signal};
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGINT, &sa, NULL);

  max_fds = raise_nofile();
  conns = calloc((size_t)max_fds, sizeof *conns);
  if (!conns) die("calloc");
  memset(bulk, 'x', sizeof bulk);
  epfd = epoll_create1(EPOLL_CLOEXEC);
  if (epfd < 0) die("epoll_create1");

  int listeners[MAX_HOSTS * K_KINDS];
  int nlisteners = 0;
  for (int h = 0; h < hosts.count; h++) {
    for (int k = 0; k < K_KINDS; k++) {
      int fd = listen_on(hosts.addrs[h], port_base + k);
      listeners[nlisteners++] = fd;
      struct epoll_event ev = {.events = EPOLLIN, .data.u32 = LISTENER_TAG | (uint32_t)(k << 24) | (uint32_t)fd};
      if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0) die("epoll_ctl listener");
    }
  }
  printf("ready\n");
  fflush(stdout);

  uint64_t deadline = now_ns() + (uint64_t)max_seconds * 1000000000ull;
  struct epoll_event events[512];
  while (!stopping && now_ns() < deadline) {
    int n = epoll_wait(epfd, events, 512, 200);
    if (n < 0 && errno != EINTR) die("epoll_wait");
    for (int i = 0; i < n; i++) {
      uint32_t tag = events[i].data.u32;
      if (tag & LISTENER_TAG) {
        accept_all((int)(tag & 0xffffff), (enum kind)((tag >> 24) & 0x7f));
      } else {
        handle((int)tag, events[i].events);
      }
    }
  }
  for (int i = 0; i < nlisteners; i++) close(listeners[i]);
  return 0;
}
