/* cli/repl.c — avm repl: reads inputs (a line, or more while an
 * expression is still open), evaluates them in one long-lived session
 * (cli/session.c) and prints their values, or runs them as meta-commands
 * (cli/meta.c).  At a terminal it edits lines with libedit
 * (cli/lineedit.c), keeps a history, completes names, and turns Ctrl-C
 * into an interrupt of the running input; otherwise (a pipe, a file) it
 * prints no prompts and touches no terminal. */
#include "cli/repl.h"
#include <locale.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/common.h"
#include "cli/lineedit.h"
#include "cli/meta.h"
#include "cli/session.h"
#include "lang/core.h"

#define PROMPT "avm> "
#define PROMPT_MORE "...> "

typedef struct Repl {
  Session *s;
  LineEdit *le;        /* NULL when stdin is not a terminal */
  int line;            /* number of the next line read */
  char *buf;           /* the input gathered so far (lines, each with its '\n') */
  size_t len, cap;
  int buf_line;        /* line number of the input's first line */
  int status;          /* exit status: of the first input that failed */
  bool quit;
} Repl;

/* Set by Ctrl-C (SIGINT); the runtime polls it through rt->interrupt. */
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
  (void)sig;
  interrupted = 1;
}

static void failed(Repl *r, int status) {
  if (status != EX_AVM_OK && r->status == EX_AVM_OK) r->status = status;
}

/* {===== Completion =====} */

/* Completion candidates: meta-command names after a comma that starts an
 * input, their arguments after them, behavior and pure function names
 * after a quote, and otherwise special forms (lang/keywords.def),
 * primitives (vm/prims.def), AVM instructions (vm/instrs.def) and every
 * global the session has defined. */
static void complete_words(void *ctx, const char *line, size_t start, LeAdd add, void *acc) {
  Repl *r = ctx;
  /* Names that start with '%' are the implementation's own. */
#define OFFER(name) do { if ((name)[0] != '%') add(acc, (name)); } while (0)
  if (r->len == 0 && line[strspn(line, " \t")] == ',') {
    meta_words(line, start, add, acc);
    return;
  }
  Runtime *rt = r->s->rt;
  if (start > 0 && line[start - 1] == '\'') {
    for (Value l = rt->behaviors; l.tag == T_PAIR; l = l.as.pair->cdr) OFFER(l.as.pair->car.as.pair->car.as.sym->name);
    for (size_t j = 0; j < rt->npures; j++) OFFER(rt->pures[j].name->name);
    return;
  }
#define KW(id, name, kind) if (kind != KW_AUX) OFFER(name);
#include "lang/keywords.def"
#undef KW
  for (int j = 0; j < PRIM__COUNT; j++) OFFER(prim_info[j].name);
  for (int j = 0; j < IN__COUNT; j++) OFFER(instr_info[j].name);
  const Globals *g = &r->s->vm->globals;
  for (size_t j = 0; j < g->count; j++)
    if (g->values[j].tag != T_UNDEF) OFFER(g->names[j]->name);
#undef OFFER
}

/* {===== The loop =====} */

static void append(Repl *r, const char *line) {
  size_t n = strlen(line);
  if (r->len + n + 2 > r->cap) {
    r->cap = (r->len + n + 2) * 2;
    r->buf = realloc(r->buf, r->cap);
    if (!r->buf) abort();
  }
  memcpy(r->buf + r->len, line, n);
  r->len += n;
  r->buf[r->len++] = '\n';
  r->buf[r->len] = '\0';
}

static bool is_meta(const Repl *r) { return r->buf[strspn(r->buf, " \t")] == ','; }

static bool blank(const char *s) { return s[strspn(s, " \t\r\n")] == '\0'; }

/* Evaluates or runs the gathered input. */
static void dispatch(Repl *r) {
  if (is_meta(r)) failed(r, meta_run(r->s, r->buf, r->buf_line, &r->quit));
  else failed(r, session_eval(r->s, r->buf, r->len, r->buf_line));
  r->len = 0;
  r->buf[0] = '\0';
  if (r->s->vm->exit_requested) r->quit = true;
}

/* Reads the next line: from the editor at a terminal, else from stdin.
 * NULL at end of input; *cancelled when Ctrl-C abandoned the line. */
static const char *next_line(Repl *r, char **plain, size_t *plain_cap, bool *cancelled) {
  *cancelled = false;
  if (r->le) return le_read(r->le, r->len ? PROMPT_MORE : PROMPT, cancelled);
  ssize_t n = getline(plain, plain_cap, stdin);
  if (n < 0) return NULL;
  while (n > 0 && ((*plain)[n - 1] == '\n' || (*plain)[n - 1] == '\r')) (*plain)[--n] = '\0';
  return *plain;
}

static char *history_path(void) {
  const char *env = getenv("AVM_HISTORY");
  if (env) return *env ? strdup(env) : NULL;  /* AVM_HISTORY= keeps none */
  const char *home = getenv("HOME");
  if (!home || !*home) return NULL;
  char *p = malloc(strlen(home) + sizeof "/.avm_history");
  if (!p) abort();
  sprintf(p, "%s/.avm_history", home);
  return p;
}

int repl_main(const ReplOptions *o) {
  bool terminal = isatty(STDIN_FILENO);
  Repl r = { 0 };
  r.s = session_new(terminal ? "<repl>" : "<stdin>", o->allow_unsafe);
  r.s->vm->max_depth = o->max_depth;
  r.s->gas = o->gas;
  r.s->vm->command_line = v_nil();
  r.line = 1;
  r.cap = 256;
  r.buf = malloc(r.cap);
  if (!r.buf) abort();
  r.buf[0] = '\0';
  if (o->trace) session_trace(r.s, true);
  if (terminal) {
    setlocale(LC_CTYPE, "");
    /* Ctrl-C sets the flag (and interrupts system calls: no SA_RESTART):
     * the runtime stops the running input, the editor abandons the line. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    r.s->rt->interrupt = &interrupted;
    r.s->echoes_ctrl_c = isatty(STDERR_FILENO);
  }
  for (int j = 0; j < o->nfiles && !r.s->vm->exit_requested; j++) failed(&r, session_load(r.s, o->files[j]));
  if (terminal) {
    char *hist = history_path();
    r.le = le_new("avm", hist, &interrupted, complete_words, &r);
    free(hist);
  }
  char *plain = NULL;
  size_t plain_cap = 0;
  while (!r.quit && !r.s->vm->exit_requested) {
    interrupted = 0;
    bool cancelled;
    const char *line = next_line(&r, &plain, &plain_cap, &cancelled);
    if (!line) {
      if (cancelled) {
        /* Ctrl-C at the prompt: drop what was typed, start afresh. */
        fputs("^C\n", stdout);
        fflush(stdout);
        r.len = 0;
        r.buf[0] = '\0';
        continue;
      }
      if (r.len) {
        /* Input ended inside an expression: say so.  At a terminal that
         * Ctrl-D only gives up the expression; the next one leaves. */
        if (r.le) fputc('\n', stdout);
        dispatch(&r);
        if (r.le) continue;
      }
      if (r.le) fputc('\n', stdout);
      break;
    }
    int lineno = r.line++;
    if (r.le) le_remember(r.le, line);
    if (r.len == 0) {
      if (blank(line)) continue;
      r.buf_line = lineno;
    }
    append(&r, line);
    bool complete = is_meta(&r) ? meta_complete(r.buf) : !read_is_incomplete(r.s->name, r.buf, r.len);
    if (complete) dispatch(&r);
  }
  fflush(stdout);
  free(plain);
  free(r.buf);
  le_free(r.le);
  if (r.s->vm->exit_requested) return r.s->vm->exit_requested - 1;
  /* At a terminal the user has seen every error; a piped session says
   * whether all its inputs went well. */
  return terminal ? EX_AVM_OK : r.status;
}
