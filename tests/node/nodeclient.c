/* tests/node/nodeclient.c — a small client for the node tests: connects
 * to a node on loopback and runs a script given as arguments, so a test
 * can send what a well-behaved peer never would.
 *
 *   nodeclient PORT STEP...
 *   nodeclient listen:FILE STEP...   (listens on a free port, writes it
 *                                     to FILE, and takes one connection)
 *     json TEXT     send TEXT as one frame (the 4-byte length, then TEXT)
 *     raw HEX       send the bytes HEX spells, as they are (no frame)
 *     recv TYPE     read frames until one whose "type" is TYPE arrives
 *                   (others are skipped), and print it on a line
 *     answer RESULT read frames until a "call" arrives, print it on a
 *                   line, and answer it: a call_response with its
 *                   request id and RESULT ({"Ok":...} or {"Err":...})
 *     strict        from here on, act as the reference node would: a
 *                   frame of a type it does not know (anything but call,
 *                   call_response, create_notify, destroy_notify) is
 *                   printed and ends the client with exit status 4
 *     closed        wait until the node closes the connection; print
 *                   "closed"
 *     quit          end the script here
 * At the end the client shuts its sending side down and reads (and
 * drops) what comes until the node closes the connection.
 *
 * Every wait gives up after 10 seconds (exit status 2), so a test never
 * hangs; a connection that cannot be made is exit status 3. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define WAIT_MS 10000

static int fd = -1;

static void die(int status, const char *msg) {
  fprintf(stderr, "nodeclient: %s\n", msg);
  exit(status);
}

static void send_all(const void *p, size_t n) {
  const char *s = p;
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) die(1, strerror(errno));
    s += w;
    n -= (size_t)w;
  }
}

/* Reads exactly [n] bytes; false if the connection ends first. */
static bool read_all(void *p, size_t n) {
  char *s = p;
  while (n > 0) {
    struct pollfd pf = { .fd = fd, .events = POLLIN };
    int r = poll(&pf, 1, WAIT_MS);
    if (r == 0) die(2, "timed out");
    if (r < 0 && errno == EINTR) continue;
    ssize_t got = read(fd, s, n);
    if (got < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (got <= 0) return false;
    s += got;
    n -= (size_t)got;
  }
  return true;
}

/* The next frame's payload (malloc'd, NUL-terminated), or NULL at the end. */
static char *read_frame(void) {
  unsigned char h[4];
  if (!read_all(h, 4)) return NULL;
  uint32_t n = (uint32_t)h[0] << 24 | (uint32_t)h[1] << 16 | (uint32_t)h[2] << 8 | h[3];
  char *p = malloc((size_t)n + 1);
  if (!p || !read_all(p, n)) die(1, "connection ended inside a frame");
  p[n] = '\0';
  return p;
}

static bool strict;

/* Whether frame [f] is a message the reference node knows. */
static bool reference_knows(const char *f) {
  static const char *const types[] = { "call", "call_response", "create_notify", "destroy_notify" };
  for (size_t k = 0; k < sizeof types / sizeof *types; k++) {
    char want[64];
    snprintf(want, sizeof want, "{\"type\":\"%s\",", types[k]);
    if (strncmp(f, want, strlen(want)) == 0) return true;
  }
  return false;
}

/* The next frame, checked when strict. */
static char *next_frame(void) {
  char *f = read_frame();
  if (f && strict && !reference_knows(f)) {
    printf("not a reference message: %s\n", f);
    exit(4);
  }
  return f;
}

static void send_frame(const char *t) {
  uint32_t n = (uint32_t)strlen(t);
  unsigned char h[4] = { (unsigned char)(n >> 24), (unsigned char)(n >> 16), (unsigned char)(n >> 8),
                         (unsigned char)n };
  send_all(h, 4);
  send_all(t, n);
}

/* Reads frames until one of type [type] arrives (others are dropped). */
static char *frame_of_type(const char *type) {
  char want[128];
  snprintf(want, sizeof want, "{\"type\":\"%s\"", type);
  for (;;) {
    char *f = next_frame();
    if (!f) die(1, "recv: the connection was closed");
    if (strncmp(f, want, strlen(want)) == 0) return f;
    free(f);
  }
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

static void connect_to(int port) {
  fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) die(3, strerror(errno));
}

/* Listens on a port the system picks, written to [file] once listening,
 * and takes the first connection (10 seconds at most). */
static void accept_one(const char *file) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = { .sin_family = AF_INET };
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof a;
  if (bind(l, (struct sockaddr *)&a, sizeof a) < 0 || listen(l, 1) < 0 ||
      getsockname(l, (struct sockaddr *)&a, &len) < 0)
    die(3, strerror(errno));
  /* Written under another name and renamed: whoever waits for [file]
   * never reads half of it. */
  char tmp[4096];
  snprintf(tmp, sizeof tmp, "%s.tmp", file);
  FILE *f = fopen(tmp, "w");
  if (!f) die(3, strerror(errno));
  fprintf(f, "%d\n", ntohs(a.sin_port));
  if (fclose(f) != 0 || rename(tmp, file) != 0) die(3, strerror(errno));
  struct pollfd pf = { .fd = l, .events = POLLIN };
  if (poll(&pf, 1, WAIT_MS) <= 0) die(2, "timed out waiting for a connection");
  fd = accept(l, NULL, NULL);
  if (fd < 0) die(3, strerror(errno));
  close(l);
}

int main(int argc, char **argv) {
  if (argc < 2) die(64, "usage: nodeclient PORT STEP...");
  if (strncmp(argv[1], "listen:", 7) == 0) accept_one(argv[1] + 7);
  else connect_to(atoi(argv[1]));
  for (int j = 2; j < argc; j++) {
    const char *step = argv[j];
    if (strcmp(step, "json") == 0 && j + 1 < argc) {
      send_frame(argv[++j]);
    } else if (strcmp(step, "raw") == 0 && j + 1 < argc) {
      const char *h = argv[++j];
      size_t n = strlen(h) / 2;
      unsigned char *b = malloc(n + 1);
      for (size_t k = 0; k < n; k++) {
        int hi = hexval(h[2 * k]), lo = hexval(h[2 * k + 1]);
        if (hi < 0 || lo < 0) die(64, "raw: not hexadecimal");
        b[k] = (unsigned char)(hi << 4 | lo);
      }
      send_all(b, n);
      free(b);
    } else if (strcmp(step, "recv") == 0 && j + 1 < argc) {
      char *f = frame_of_type(argv[++j]);
      printf("%s\n", f);
      free(f);
    } else if (strcmp(step, "answer") == 0 && j + 1 < argc) {
      char *f = frame_of_type("call");
      printf("%s\n", f);
      const char *id = strstr(f, "\"request_id\":");
      if (!id) die(1, "answer: a call without a request id");
      char reply[4096];
      snprintf(reply, sizeof reply, "{\"type\":\"call_response\",\"request_id\":%llu,\"result\":%s}",
               strtoull(id + strlen("\"request_id\":"), NULL, 10), argv[++j]);
      free(f);
      send_frame(reply);
    } else if (strcmp(step, "strict") == 0) {
      strict = true;
    } else if (strcmp(step, "closed") == 0) {
      for (;;) {
        char *f = next_frame();
        if (!f) break;
        free(f);
      }
      printf("closed\n");
    } else if (strcmp(step, "quit") == 0) {
      break;
    } else {
      die(64, "unknown step");
    }
    fflush(stdout);
  }
  /* Our end is done: the node sees the stream end (not a reset, which
   * unread data at close would cause), and closes its end in turn. */
  shutdown(fd, SHUT_WR);
  for (char *f; (f = next_frame());) free(f);
  close(fd);
  return 0;
}
