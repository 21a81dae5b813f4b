/* Shared helpers for the bench's native programs: address ranges, clocks, limits. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define MAX_HOSTS 64

struct host_range {
  uint32_t addrs[MAX_HOSTS]; /* network byte order */
  int count;
};

static inline uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static inline void die(const char *what) {
  fprintf(stderr, "fatal: %s: %s\n", what, strerror(errno));
  exit(1);
}

/* "127.0.0.3-127.0.0.16" or "127.0.0.1": consecutive IPv4 addresses. */
static inline int parse_host_range(const char *text, struct host_range *out) {
  char first[64], last[64];
  const char *dash = strchr(text, '-');
  if (dash) {
    size_t n = (size_t)(dash - text);
    if (n >= sizeof first) return -1;
    memcpy(first, text, n);
    first[n] = 0;
    snprintf(last, sizeof last, "%s", dash + 1);
  } else {
    snprintf(first, sizeof first, "%s", text);
    snprintf(last, sizeof last, "%s", text);
  }
  struct in_addr a, b;
  if (inet_pton(AF_INET, first, &a) != 1 || inet_pton(AF_INET, last, &b) != 1) return -1;
  uint32_t lo = ntohl(a.s_addr), hi = ntohl(b.s_addr);
  if (hi < lo || hi - lo + 1 > MAX_HOSTS) return -1;
  out->count = 0;
  for (uint32_t ip = lo; ip <= hi; ip++) out->addrs[out->count++] = htonl(ip);
  return 0;
}

/* Raise the open-file soft limit to the hard limit; returns the new soft limit. */
static inline long raise_nofile(void) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) != 0) return 1024;
  rl.rlim_cur = rl.rlim_max;
  setrlimit(RLIMIT_NOFILE, &rl);
  getrlimit(RLIMIT_NOFILE, &rl);
  return (long)rl.rlim_cur;
}

#endif
