/* bench/node-rtt.c — round trips to an avm node, next to raw loopback TCP
 * round trips measured in the same run (bench/node.sh builds and runs it).
 *
 *   node-rtt PORT OBJECT N
 *
 * Calls OBJECT on the node at 127.0.0.1:PORT N times, one at a time, as a
 * peer would (a call frame, then its call_response), and times each; then
 * sends the same frames N times to an echo server of its own (a child
 * process: read, write back) over loopback.  Prints, for both, round trips
 * per second and latency percentiles, and the ratio of the medians. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_us(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

static int dial(int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) { perror("connect"); exit(1); }
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  return fd;
}

static void read_n(int fd, char *p, size_t n) {
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) { fprintf(stderr, "node-rtt: connection closed\n"); exit(1); }
    p += r;
    n -= (size_t)r;
  }
}

/* Reads frames until a call_response; returns its payload length. */
static size_t read_response(int fd, char *buf, size_t cap) {
  for (;;) {
    unsigned char h[4];
    read_n(fd, (char *)h, 4);
    size_t n = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (n >= cap) { fprintf(stderr, "node-rtt: frame too large\n"); exit(1); }
    read_n(fd, buf, n);
    buf[n] = '\0';
    if (strncmp(buf, "{\"type\":\"call_response\"", 23) == 0) return n;
  }
}

static int by_value(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double report(const char *what, double *lat, int n, double total_us) {
  qsort(lat, (size_t)n, sizeof *lat, by_value);
  double p50 = lat[n / 2], p90 = lat[n * 9 / 10], p99 = lat[n * 99 / 100];
  printf("%-28s %9.0f round trips/s   p50 %6.1f us   p90 %6.1f us   p99 %6.1f us\n", what, n / (total_us / 1e6),
         p50, p90, p99);
  return p50;
}

int main(int argc, char **argv) {
  if (argc != 4) { fprintf(stderr, "usage: node-rtt PORT OBJECT N\n"); return 64; }
  int port = atoi(argv[1]), n = atoi(argv[3]);
  const char *object = argv[2];
  double *lat = malloc((size_t)n * sizeof *lat);
  static char buf[1 << 16];
  char frames[2][256];
  size_t flen[2];
  for (int k = 0; k < 2; k++) {  /* two request ids, alternately: the frames are ready before timing */
    int len = snprintf(frames[k] + 4, sizeof frames[k] - 4,
                       "{\"type\":\"call\",\"request_id\":%d,\"target\":%s,\"input\":{\"Nat\":42},\"sender\":1,"
                       "\"sender_machine\":\"bench\"}", k + 1, object);
    frames[k][0] = frames[k][1] = 0;
    frames[k][2] = (char)(len >> 8);
    frames[k][3] = (char)len;
    flen[k] = (size_t)len + 4;
  }

  int fd = dial(port);
  for (int j = 0; j < 1000; j++) {  /* warm up */
    if (write(fd, frames[j & 1], flen[j & 1]) < 0) return 1;
    read_response(fd, buf, sizeof buf);
  }
  double t0 = now_us();
  for (int j = 0; j < n; j++) {
    double s = now_us();
    if (write(fd, frames[j & 1], flen[j & 1]) < 0) return 1;
    read_response(fd, buf, sizeof buf);
    lat[j] = now_us() - s;
  }
  double node_total = now_us() - t0;
  if (!strstr(buf, "\"Ok\"")) { fprintf(stderr, "node-rtt: the call failed: %s\n", buf); return 1; }
  close(fd);
  double node_p50 = report("avm node call", lat, n, node_total);

  /* The raw round trip: an echo server over loopback, the same frames. */
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  bind(l, (struct sockaddr *)&a, sizeof a);
  listen(l, 1);
  getsockname(l, (struct sockaddr *)&a, &al);
  pid_t child = fork();
  if (child == 0) {
    int c = accept(l, NULL, NULL), one = 1;
    setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    ssize_t r;
    while ((r = read(c, buf, sizeof buf)) > 0)
      if (write(c, buf, (size_t)r) < 0) break;
    _exit(0);
  }
  fd = dial(ntohs(a.sin_port));
  for (int j = 0; j < 1000 + n; j++) {
    double s = now_us();
    if (write(fd, frames[0], flen[0]) < 0) return 1;
    read_n(fd, buf, flen[0]);
    if (j >= 1000) lat[j - 1000] = now_us() - s;
    if (j == 999) t0 = now_us();
  }
  double raw_total = now_us() - t0;
  close(fd);
  waitpid(child, NULL, 0);
  double raw_p50 = report("raw loopback TCP", lat, n, raw_total);
  printf("median ratio (node / raw): %.2f\n", node_p50 / raw_p50);
  return 0;
}
