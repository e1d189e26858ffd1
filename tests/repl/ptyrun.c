/* tests/repl/ptyrun.c — drives `avm repl` in a pseudo-terminal, as a
 * person at a terminal would, from a script (the tests/repl .pty files), and checks
 * what comes back.  Needs nothing but forkpty: no expect, tmux or python.
 *
 * Usage: ptyrun SCRIPT   (the avm binary is $AVM, else ../../avm)
 *
 * The script is run line by line; every wait has a timeout, so no test
 * can hang.  Commands:
 *   # ...                a comment (blank lines are ignored too)
 *   start ARG...         starts $AVM ARG... in a new 80x24 pty (TERM=xterm,
 *                        HOME a fresh temporary directory kept for the
 *                        whole script, cwd the script's directory)
 *   send TEXT            types TEXT; escapes: \r \n \t \e \\ \xHH and ^X
 *                        for a control character (^C, ^D, ^R)
 *   expect TEXT          waits until the output since the last match
 *                        contains TEXT (same escapes), with terminal escape
 *                        sequences and carriage returns removed
 *   absent TEXT          TEXT does not come before what the next expect
 *                        waits for (nor has it come since the last match)
 *   exit N               waits for the program to exit with status N
 *   file NAME TEXT       the file NAME under HOME contains TEXT
 *   timeout SECONDS      changes the wait limit (default 20)
 *   pause MS             waits a little (lets a running input start)
 * Exit status (automake's simple protocol): 0 pass, 1 fail, 99 error. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *script;
static int lineno;
static pid_t child = -1;
static int master = -1;
static char home[256];
static double limit = 20;
/* Everything read from the pty, cleaned; [mark] is where the next
 * expect starts looking. */
static char *out;
static size_t nout, capout, mark;
/* Escape-sequence state carried across reads. */
static int esc_state;
/* What must not come before the next expect's text (absent). */
static char *forbidden;
static size_t nforbidden;

static void cleanup(void) {
  if (child > 0) {
    kill(child, SIGKILL);
    waitpid(child, NULL, 0);
    child = -1;
  }
  if (home[0]) {
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", home);
    if (system(cmd) != 0) fprintf(stderr, "ptyrun: could not remove %s\n", home);
  }
}

static void show_output(void) {
  fprintf(stderr, "--- output since the last match (cleaned) ---\n%.*s\n--- end ---\n", (int)(nout - mark), out + mark);
}

static void fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: FAIL: ", script, lineno);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  show_output();
  printf("FAIL: %s\n", script);
  cleanup();
  exit(1);
}

static void hard_error(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void hard_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "%s:%d: error: ", script, lineno);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  cleanup();
  exit(99);
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Keeps the visible text: drops CSI and other escape sequences, carriage
 * returns, bells and backspaces. */
static void take(const char *buf, size_t n) {
  for (size_t j = 0; j < n; j++) {
    unsigned char c = (unsigned char)buf[j];
    if (esc_state == 1) {  /* after ESC */
      esc_state = c == '[' ? 2 : (c == ']' ? 3 : (c == '(' || c == ')' ? 4 : 0));
      continue;
    }
    if (esc_state == 2) {  /* CSI: parameters until a final byte */
      if (c >= 0x40 && c <= 0x7e) esc_state = 0;
      continue;
    }
    if (esc_state == 3) {  /* OSC: until BEL */
      if (c == 7) esc_state = 0;
      continue;
    }
    if (esc_state == 4) {  /* charset designation: one more byte */
      esc_state = 0;
      continue;
    }
    if (c == 0x1b) {
      esc_state = 1;
      continue;
    }
    if (c == '\r' || c == 7 || c == 8) continue;
    if (nout + 1 >= capout) {
      capout = capout ? capout * 2 : 4096;
      out = realloc(out, capout);
      if (!out) abort();
    }
    out[nout++] = (char)c;
    out[nout] = '\0';
  }
}

/* Reads what the pty has within [wait] seconds; false at its end. */
static bool pump(double wait) {
  struct pollfd pfd = { master, POLLIN, 0 };
  int ms = (int)(wait * 1000);
  if (ms < 0) ms = 0;
  int r = poll(&pfd, 1, ms);
  if (r < 0 && errno != EINTR) hard_error("poll: %s", strerror(errno));
  if (r <= 0) return true;
  char buf[4096];
  ssize_t n = read(master, buf, sizeof buf);
  if (n <= 0) return false;  /* EIO once the child has gone */
  take(buf, (size_t)n);
  return true;
}

/* Decodes the escapes of a script argument. */
static char *unescape(const char *s, size_t *len) {
  char *r = malloc(strlen(s) + 1);
  if (!r) abort();
  size_t n = 0;
  for (size_t j = 0; s[j]; j++) {
    if (s[j] == '^' && s[j + 1] >= '@' && s[j + 1] <= '_') {
      r[n++] = (char)(s[++j] - '@');
      continue;
    }
    if (s[j] != '\\' || !s[j + 1]) {
      r[n++] = s[j];
      continue;
    }
    switch (s[++j]) {
      case 'r': r[n++] = '\r'; break;
      case 'n': r[n++] = '\n'; break;
      case 't': r[n++] = '\t'; break;
      case 'e': r[n++] = 0x1b; break;
      case '^': r[n++] = '^'; break;
      case 'x': {
        unsigned v = 0;
        int k = 0;
        while (k < 2 && s[j + 1] && strchr("0123456789abcdefABCDEF", s[j + 1])) {
          char h = s[++j];
          v = v * 16 + (unsigned)(h <= '9' ? h - '0' : (h | 32) - 'a' + 10);
          k++;
        }
        r[n++] = (char)v;
        break;
      }
      default: r[n++] = s[j]; break;
    }
  }
  r[n] = '\0';
  *len = n;
  return r;
}

static void start(char *args, const char *avm, const char *dir) {
  if (child > 0) hard_error("start: the previous program is still running (exit N first)");
  char *argv[64];
  int argc = 0;
  argv[argc++] = (char *)avm;
  for (char *t = strtok(args, " \t"); t && argc < 63; t = strtok(NULL, " \t")) argv[argc++] = t;
  argv[argc] = NULL;
  struct winsize ws = { 24, 80, 0, 0 };
  esc_state = 0;
  mark = nout;
  child = forkpty(&master, NULL, NULL, &ws);
  if (child < 0) hard_error("forkpty: %s", strerror(errno));
  if (child == 0) {
    if (dir && chdir(dir) != 0) _exit(127);
    setenv("HOME", home, 1);
    setenv("TERM", "xterm", 1);
    unsetenv("AVM_HISTORY");
    unsetenv("EDITRC");
    unsetenv("NO_COLOR");
    execv(avm, argv);
    _exit(127);
  }
}

static void send_text(const char *text) {
  if (child <= 0) hard_error("send: no program is running");
  size_t n;
  char *s = unescape(text, &n);
  /* One byte at a time, as typed, so the editor sees each key. */
  for (size_t j = 0; j < n; j++) {
    if (write(master, s + j, 1) != 1) fail("send: write: %s", strerror(errno));
    pump(0.002);
  }
  free(s);
}

static void expect(const char *text) {
  size_t n;
  char *want = unescape(text, &n);
  double end = now() + limit;
  for (;;) {
    char *hit = memmem(out + mark, nout - mark, want, n);
    if (hit) {
      if (forbidden && memmem(out + mark, (size_t)(hit - out) - mark, forbidden, nforbidden))
        fail("\"%s\" came before \"%s\"", forbidden, text);
      mark = (size_t)(hit - out) + n;
      free(want);
      free(forbidden);
      forbidden = NULL;
      return;
    }
    double left = end - now();
    if (left <= 0) fail("expected \"%s\" within %g s", text, limit);
    if (!pump(left > 0.1 ? 0.1 : left)) {
      /* The program has gone: one last look. */
      if (!memmem(out + mark, nout - mark, want, n)) fail("expected \"%s\", but the program ended", text);
    }
  }
}

static void absent(const char *text) {
  free(forbidden);
  forbidden = unescape(text, &nforbidden);
  pump(0.05);
  if (memmem(out + mark, nout - mark, forbidden, nforbidden)) fail("unexpected \"%s\"", text);
}

static void wait_exit(int want) {
  if (child <= 0) hard_error("exit: no program is running");
  double end = now() + limit;
  int status;
  for (;;) {
    pid_t r = waitpid(child, &status, WNOHANG);
    if (r == child) break;
    if (now() > end) fail("the program did not exit within %g s", limit);
    pump(0.05);
  }
  while (pump(0.01)) {
    struct pollfd pfd = { master, POLLIN, 0 };
    if (poll(&pfd, 1, 0) <= 0) break;
  }
  child = -1;
  close(master);
  master = -1;
  if (WIFSIGNALED(status)) fail("the program was killed by signal %d", WTERMSIG(status));
  if (WEXITSTATUS(status) != want) fail("exit status %d, expected %d", WEXITSTATUS(status), want);
}

static void file_contains(char *args) {
  char *name = strtok(args, " \t");
  char *text = name ? strtok(NULL, "") : NULL;
  if (!name || !text) hard_error("file: expected NAME TEXT");
  char path[600];
  snprintf(path, sizeof path, "%s/%s", home, name);
  FILE *f = fopen(path, "r");
  if (!f) fail("file %s: %s", name, strerror(errno));
  char buf[65536];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  size_t len;
  char *want = unescape(text, &len);
  if (!memmem(buf, n, want, len)) fail("file %s does not contain \"%s\":\n%s", name, text, buf);
  free(want);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: ptyrun SCRIPT\n");
    return 99;
  }
  script = argv[1];
  const char *avm = getenv("AVM");
  if (!avm || !*avm) avm = "../../avm";
  char *avm_abs = realpath(avm, NULL);
  if (!avm_abs) {
    fprintf(stderr, "ptyrun: no avm binary at %s (set AVM)\n", avm);
    return 99;
  }
  FILE *f = fopen(script, "r");
  if (!f) {
    fprintf(stderr, "ptyrun: cannot read %s: %s\n", script, strerror(errno));
    return 99;
  }
  char *dir = strdup(script);
  char *slash = strrchr(dir, '/');
  if (slash) *slash = '\0';
  else strcpy(dir, ".");
  const char *tmp = getenv("TMPDIR");
  snprintf(home, sizeof home, "%s/ptyrun.XXXXXX", tmp && *tmp ? tmp : "/tmp");
  if (!mkdtemp(home)) {
    home[0] = '\0';
    fprintf(stderr, "ptyrun: mkdtemp: %s\n", strerror(errno));
    return 99;
  }
  signal(SIGPIPE, SIG_IGN);
  capout = 4096;
  out = malloc(capout);
  if (!out) abort();
  out[0] = '\0';
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while ((n = getline(&line, &cap, f)) >= 0) {
    lineno++;
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = '\0';
    char *p = line + strspn(line, " \t");
    if (!*p || *p == '#') continue;
    char *cmd = p;
    size_t k = strcspn(p, " \t");
    char *arg = p + k;
    if (*arg) *arg++ = '\0';
    if (strcmp(cmd, "start") == 0) start(arg, avm_abs, dir);
    else if (strcmp(cmd, "send") == 0) send_text(arg);
    else if (strcmp(cmd, "expect") == 0) expect(arg);
    else if (strcmp(cmd, "absent") == 0) absent(arg);
    else if (strcmp(cmd, "exit") == 0) wait_exit(atoi(arg));
    else if (strcmp(cmd, "file") == 0) file_contains(arg);
    else if (strcmp(cmd, "timeout") == 0) limit = atof(arg);
    else if (strcmp(cmd, "pause") == 0) {
      double end = now() + atof(arg) / 1000;
      while (now() < end) pump(end - now());
    } else hard_error("unknown command '%s'", cmd);
  }
  if (child > 0) fail("the script ended with the program still running (end it with exit N)");
  free(line);
  fclose(f);
  free(dir);
  free(avm_abs);
  cleanup();
  printf("PASS: %s\n", script);
  return 0;
}
