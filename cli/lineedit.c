/* cli/lineedit.c — the REPL's line editor on libedit's native API
 * (<histedit.h>): Emacs key bindings (Ctrl-R searches the history
 * incrementally), a history of up to HISTORY_SIZE lines loaded from and
 * saved to a file, and Tab bound to a completion function over the
 * caller's words.  Ctrl-C while a line is being typed abandons it: the
 * REPL's SIGINT handler sets its flag, and our own read function (below)
 * makes el_gets give up the line when it sees the flag. */
#include "cli/lineedit.h"
#include <errno.h>
#include <histedit.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <wchar.h>

#define HISTORY_SIZE 1000
/* Beyond this many candidates a listing says how many there are instead. */
#define LIST_MAX 300

struct LineEdit {
  EditLine *el;
  History *hist;
  char *history_file;
  const char *prompt;
  LeWords words;
  void *ctx;
  const volatile sig_atomic_t *interrupt;
  FILE *out;
  char *line;          /* the last line read, without its newline */
  size_t cap;
};

static char *prompt_of(EditLine *el) {
  LineEdit *le;
  el_get(el, EL_CLIENTDATA, &le);
  return (char *)le->prompt;
}

/* {===== Completion =====} */

/* Characters that end a symbol: the word to complete starts after the
 * last of them before the cursor. */
static bool delimiter(char c) { return c == '\0' || strchr(" \t\n\r()[]'`\",;", c) != NULL; }

typedef struct Words {
  char **v;
  size_t n, cap;
  const char *prefix;
  size_t plen;
} Words;

static void add_word(void *acc, const char *word) {
  Words *w = acc;
  if (strncmp(word, w->prefix, w->plen) != 0) return;
  if (w->n == w->cap) {
    w->cap = w->cap ? w->cap * 2 : 64;
    w->v = realloc(w->v, w->cap * sizeof *w->v);
    if (!w->v) abort();
  }
  w->v[w->n] = strdup(word);
  if (!w->v[w->n]) abort();
  w->n++;
}

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static int terminal_width(FILE *out) {
  struct winsize ws;
  if (ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) return ws.ws_col;
  return 80;
}

/* Lists the candidates in columns below the line being edited. */
static void list_words(LineEdit *le, Words *w) {
  FILE *out = le->out;
  fputc('\n', out);
  if (w->n > LIST_MAX) {
    fprintf(out, "(%zu names: type more of the name)\n", w->n);
    return;
  }
  size_t width = 0;
  for (size_t j = 0; j < w->n; j++)
    if (strlen(w->v[j]) > width) width = strlen(w->v[j]);
  width += 2;
  size_t cols = (size_t)terminal_width(out) / width;
  if (cols == 0) cols = 1;
  size_t rows = (w->n + cols - 1) / cols;
  for (size_t r = 0; r < rows; r++) {
    for (size_t c = 0; c < cols; c++) {
      size_t j = c * rows + r;
      if (j >= w->n) break;
      bool last = c + 1 == cols || (c + 1) * rows + r >= w->n;
      if (last) fputs(w->v[j], out);
      else fprintf(out, "%-*s", (int)width, w->v[j]);
    }
    fputc('\n', out);
  }
}

/* Tab: completes the word before the cursor as far as the candidates
 * agree; a unique candidate gets a space after it (unless it is a
 * directory); when they agree no further, lists them. */
static unsigned char complete(EditLine *el, int ch) {
  (void)ch;
  LineEdit *le;
  el_get(el, EL_CLIENTDATA, &le);
  const LineInfo *li = el_line(el);
  size_t cur = (size_t)(li->cursor - li->buffer);
  char *before = malloc(cur + 1);
  if (!before) abort();
  memcpy(before, li->buffer, cur);
  before[cur] = '\0';
  size_t start = cur;
  while (start > 0 && !delimiter(before[start - 1])) start--;
  Words w = { NULL, 0, 0, before + start, cur - start };
  le->words(le->ctx, before, start, add_word, &w);
  unsigned char result = CC_REFRESH_BEEP;
  if (w.n > 0) {
    qsort(w.v, w.n, sizeof *w.v, by_name);
    size_t u = 1;
    for (size_t j = 1; j < w.n; j++) {
      if (strcmp(w.v[j], w.v[u - 1]) == 0) free(w.v[j]);
      else w.v[u++] = w.v[j];
    }
    w.n = u;
    size_t common = strlen(w.v[0]);
    for (size_t j = 1; j < w.n; j++) {
      size_t k = 0;
      while (k < common && w.v[j][k] == w.v[0][k]) k++;
      common = k;
    }
    if (common > w.plen) {
      char *ins = strndup(w.v[0] + w.plen, common - w.plen);
      if (!ins) abort();
      el_insertstr(el, ins);
      free(ins);
      if (w.n == 1 && w.v[0][common - 1] != '/') el_insertstr(el, " ");
      result = CC_REFRESH;
    } else if (w.n == 1) {
      result = CC_REFRESH;  /* already complete */
    } else {
      list_words(le, &w);
      result = CC_REDISPLAY;
    }
  }
  for (size_t j = 0; j < w.n; j++) free(w.v[j]);
  free(w.v);
  free(before);
  return result;
}

/* {===== Reading keys =====} */

/* Reads one character for libedit.  SIGINT stays blocked except while
 * waiting in ppoll, which unblocks it atomically: a Ctrl-C that comes while
 * a key is being handled is seen before the next wait instead of being
 * lost (libedit's own read only notices one that interrupts its read()).
 * The flag set, el_gets gets EINTR and gives up the line. */
static int read_char(EditLine *el, wchar_t *wc) {
  LineEdit *le;
  el_get(el, EL_CLIENTDATA, &le);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigprocmask(SIG_BLOCK, &block, &old);
  char buf[MB_LEN_MAX];
  size_t n = 0;
  int result;
  for (;;) {
    if (le->interrupt && *le->interrupt) {
      errno = EINTR;
      result = -1;
      break;
    }
    struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
    if (ppoll(&p, 1, NULL, &old) < 0) {
      if (errno == EINTR) continue;  /* a signal: look at the flag again */
      result = -1;
      break;
    }
    char c;
    ssize_t k = read(STDIN_FILENO, &c, 1);
    if (k < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (k <= 0) {
      result = (int)k;
      break;
    }
    /* UTF-8 (the locale's encoding) comes a byte at a time. */
    buf[n++] = c;
    mbstate_t st;
    memset(&st, 0, sizeof st);
    size_t m = mbrtowc(wc, buf, n, &st);
    if (m == (size_t)-2 && n < sizeof buf) continue;
    if (m == (size_t)-1 || m == (size_t)-2) {
      n = 0;  /* not a character: dropped */
      continue;
    }
    result = 1;
    break;
  }
  sigprocmask(SIG_SETMASK, &old, NULL);
  return result;
}

/* {===== The editor =====} */

LineEdit *le_new(const char *prog, const char *history_file, const volatile sig_atomic_t *interrupt, LeWords words,
                 void *ctx) {
  LineEdit *le = calloc(1, sizeof *le);
  if (!le) abort();
  le->words = words;
  le->ctx = ctx;
  le->interrupt = interrupt;
  le->prompt = "";
  /* Prompts and redisplay go where the terminal is: stdout, or stderr
   * when stdout is redirected. */
  le->out = isatty(STDOUT_FILENO) ? stdout : stderr;
  le->el = el_init(prog, stdin, le->out, stderr);
  if (!le->el) abort();
  el_set(le->el, EL_CLIENTDATA, le);
  el_set(le->el, EL_PROMPT, prompt_of);
  el_set(le->el, EL_EDITOR, "emacs");
  /* libedit's signal handling puts the terminal back in order around
   * Ctrl-Z and window resizes (and passes SIGINT on to the REPL's handler). */
  el_set(le->el, EL_SIGNAL, 1);
  el_set(le->el, EL_GETCFN, read_char);
  HistEvent ev;
  le->hist = history_init();
  if (!le->hist) abort();
  history(le->hist, &ev, H_SETSIZE, HISTORY_SIZE);
  history(le->hist, &ev, H_SETUNIQUE, 1);
  el_set(le->el, EL_HIST, history, le->hist);
  if (history_file) {
    le->history_file = strdup(history_file);
    if (!le->history_file) abort();
    history(le->hist, &ev, H_LOAD, le->history_file);  /* none yet is fine */
  }
  el_set(le->el, EL_ADDFN, "avm-complete", "complete the name before the cursor", complete);
  el_set(le->el, EL_BIND, "^I", "avm-complete", NULL);
  /* ~/.editrc (or $EDITRC) may rebind keys, as in other libedit programs. */
  el_source(le->el, NULL);
  return le;
}

const char *le_read(LineEdit *le, const char *prompt, bool *interrupted) {
  le->prompt = prompt;
  *interrupted = false;
  int n = 0;
  /* The terminal goes raw before the prompt shows, not at the first key:
   * keys typed right after the prompt are then never taken by the
   * terminal's own line editing (which would swallow a Ctrl-D). */
  el_set(le->el, EL_PREP_TERM, 1);
  errno = 0;
  const char *s = el_gets(le->el, &n);
  if (!s || n <= 0) {
    *interrupted = n < 0 && errno == EINTR;
    return NULL;
  }
  size_t len = (size_t)n;
  if (len + 1 > le->cap) {
    le->cap = len + 1;
    le->line = realloc(le->line, le->cap);
    if (!le->line) abort();
  }
  memcpy(le->line, s, len);
  while (len > 0 && (le->line[len - 1] == '\n' || le->line[len - 1] == '\r')) len--;
  le->line[len] = '\0';
  return le->line;
}

void le_remember(LineEdit *le, const char *line) {
  if (!line[strspn(line, " \t")]) return;
  HistEvent ev;
  history(le->hist, &ev, H_ENTER, line);
  if (le->history_file) history(le->hist, &ev, H_SAVE, le->history_file);
}

void le_free(LineEdit *le) {
  if (!le) return;
  el_end(le->el);
  history_end(le->hist);
  free(le->history_file);
  free(le->line);
  free(le);
}
