/* cli/repl.c — avm repl: reads inputs (a line, or more while an
 * expression is still open), evaluates them in one long-lived session
 * (cli/session.c) and prints their values; runs the meta-commands of
 * cli/meta.def.  At a terminal it edits lines with libedit
 * (cli/lineedit.c), keeps a history, completes names, and turns Ctrl-C
 * into an interrupt of the running input; otherwise (a pipe, a file) it
 * prints no prompts and touches no terminal. */
#include "cli/repl.h"
#include <dirent.h>
#include <errno.h>
#include <gc.h>
#include <inttypes.h>
#include <locale.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "cli/common.h"
#include "cli/lineedit.h"
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

static void repl_error(Repl *r, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void repl_error(Repl *r, int status, const char *fmt, ...) {
  fflush(stdout);
  va_list ap;
  va_start(ap, fmt);
  fputs("error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  failed(r, status);
}

/* {===== Meta-commands =====} */

typedef enum MetaArg { MA_NONE, MA_WORD, MA_EXPR } MetaArg;

typedef struct Meta {
  const char *name;
  MetaArg arg;
  const char *synopsis;
  const char *help;
  void (*run)(Repl *r, const char *arg, int line);
} Meta;

#define META(id, name, kind, syn, help) static void meta_##id(Repl *r, const char *arg, int line);
#include "cli/meta.def"
#undef META

static const Meta metas[] = {
#define META(id, name, kind, syn, help) { name, kind, syn, help, meta_##id },
#include "cli/meta.def"
#undef META
};
#define NMETAS (sizeof metas / sizeof metas[0])

/* The one place the REPL touches the trace (runtime/trace.c's interface is
 * being reworked; adapt this function to it). */
static void set_trace(Repl *r, bool on) {
  Runtime *rt = r->s->rt;
  rt->trace.enabled = on;
  rt->trace_out = on ? stdout : NULL;
}

static bool trace_on(const Repl *r) { return r->s->rt->trace.enabled; }

static void meta_help(Repl *r, const char *arg, int line) {
  (void)r, (void)arg, (void)line;
  int width = 0;
  for (size_t j = 0; j < NMETAS; j++) {
    int w = (int)(strlen(metas[j].name) + strlen(metas[j].synopsis)) + 2;
    if (w > width) width = w;
  }
  for (size_t j = 0; j < NMETAS; j++) {
    char head[64];
    snprintf(head, sizeof head, ",%s%s%s", metas[j].name, metas[j].synopsis[0] ? " " : "", metas[j].synopsis);
    printf("  %-*s  %s\n", width, head, metas[j].help);
  }
  printf("A meta-command may be shortened to a prefix of its name (,q).  Anything\n"
         "else is evaluated.  Ctrl-C interrupts a running input, Ctrl-D leaves.\n");
}

/* A word argument: surrounding blanks and quotes dropped, ~/ expanded. */
static char *word_arg(const char *arg) {
  while (*arg == ' ' || *arg == '\t') arg++;
  size_t n = strlen(arg);
  while (n > 0 && (arg[n - 1] == ' ' || arg[n - 1] == '\t' || arg[n - 1] == '\n')) n--;
  if (n >= 2 && arg[0] == '"' && arg[n - 1] == '"') {
    arg++;
    n -= 2;
  }
  const char *home = getenv("HOME");
  if (n >= 2 && arg[0] == '~' && arg[1] == '/' && home) {
    char *w = malloc(strlen(home) + n);
    if (!w) abort();
    sprintf(w, "%s%.*s", home, (int)n - 1, arg + 1);
    return w;
  }
  return strndup(arg, n);
}

static void meta_load(Repl *r, const char *arg, int line) {
  (void)line;
  char *path = word_arg(arg);
  if (!*path) repl_error(r, EX_AVM_USAGE, ",load: which file? (,load FILE)");
  else failed(r, session_load(r->s, path));
  free(path);
}

static void meta_trace(Repl *r, const char *arg, int line) {
  (void)line;
  char *w = word_arg(arg);
  if (!*w) printf("trace is %s\n", trace_on(r) ? "on" : "off");
  else if (strcmp(w, "on") == 0) set_trace(r, true);
  else if (strcmp(w, "off") == 0) set_trace(r, false);
  else repl_error(r, EX_AVM_USAGE, ",trace: expected on or off, got '%s'", w);
  free(w);
}

static bool blank(const char *s) { return s[strspn(s, " \t\r\n")] == '\0'; }

static void meta_disasm(Repl *r, const char *arg, int line) {
  if (blank(arg)) {
    repl_error(r, EX_AVM_USAGE, ",disasm: which expression? (,disasm EXPR)");
    return;
  }
  Module *m = session_compile(r->s, arg, strlen(arg), line);
  if (!m) {
    failed(r, EX_AVM_COMPILE);
    return;
  }
  disasm_module(stdout, m, false);
}

static const char *sym_name(const Symbol *s) { return s ? s->name : "-"; }

static void meta_objects(Repl *r, const char *arg, int line) {
  (void)arg, (void)line;
  Runtime *rt = r->s->rt;
  Object **objs;
  size_t n = store_sorted(&rt->store, &objs);
  Tx *tx = session_tx(r->s);
  /* Objects the open transaction created are not in the store yet. */
  size_t pending = 0;
  for (size_t j = 0; tx && j < tx->n; j++) pending += tx->entries[j]->created;
  if (n + pending == 0) {
    printf("no objects\n");
    return;
  }
  int wb = 8, wc = 10;
  for (size_t j = 0; j < n; j++) {
    if ((int)strlen(sym_name(objs[j]->behavior)) > wb) wb = (int)strlen(sym_name(objs[j]->behavior));
    if ((int)strlen(sym_name(objs[j]->controller)) > wc) wc = (int)strlen(sym_name(objs[j]->controller));
  }
  printf("%-6s %-*s %-*s %s\n", "id", wb, "behavior", wc, "controller", "machine");
  for (size_t j = 0; j < n; j++) {
    Object *o = objs[j];
    TxEntry *e = tx ? tx_find_entry(tx, o->id) : NULL;
    printf("%-6" PRIu64 " %-*s %-*s %s%s\n", o->id, wb, sym_name(o->behavior), wc, sym_name(o->controller),
           sym_name(o->machine), e && e->destroyed ? "  (destroyed in the open transaction)" : "");
  }
  for (size_t j = 0; tx && j < tx->n; j++) {
    Object *o = tx->entries[j]->obj;
    if (!tx->entries[j]->created) continue;
    printf("%-6" PRIu64 " %-*s %-*s %s  (created in the open transaction)\n", o->id, wb, sym_name(o->behavior), wc,
           sym_name(o->controller), sym_name(o->machine));
  }
}

static void meta_state(Repl *r, const char *arg, int line) {
  if (blank(arg)) {
    repl_error(r, EX_AVM_USAGE, ",state: which object? (,state ID)");
    return;
  }
  char *end;
  unsigned long long id = strtoull(arg, &end, 10);
  if (!blank(end) || end == arg || arg[strspn(arg, " \t")] == '-') {
    /* Not a number: an expression that gives an object id. */
    Value v;
    int st = session_value(r->s, arg, strlen(arg), line, &v);
    if (st != EX_AVM_OK) {
      failed(r, st);
      return;
    }
    if (v.tag != T_OBJREF) {
      repl_error(r, EX_AVM_RUNTIME, ",state: expected an object id, got %s", v_write_to_string(v, false));
      return;
    }
    id = v.as.u;
  }
  Program *p = r->s->last;
  TxEntry *e = NULL;
  Object *o = p ? rt_find(r->s->rt, p, id, &e) : store_get(&r->s->rt->store, id);
  if (!o || (e && e->destroyed)) {
    repl_error(r, EX_AVM_RUNTIME, ",state: no object %llu", id);
    return;
  }
  v_write(stdout, p ? rt_state_of(p, o, e) : o->state);
  fputc('\n', stdout);
}

static void meta_tx(Repl *r, const char *arg, int line) {
  (void)arg, (void)line;
  Tx *tx = session_tx(r->s);
  if (!tx) {
    printf("no transaction is open\n");
    return;
  }
  printf("#<tx %" PRIu64 "> is open (controller %s), %zu object%s touched\n", tx->id, sym_name(tx->controller),
         tx->n, tx->n == 1 ? "" : "s");
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The REPL runs every input in the metered loop (its time slices are
 * where Ctrl-C is seen), which counts VM instructions as it goes. */
static void meta_time(Repl *r, const char *arg, int line) {
  if (blank(arg)) {
    repl_error(r, EX_AVM_USAGE, ",time: which expression? (,time EXPR)");
    return;
  }
  VM *vm = r->s->vm;
  Runtime *rt = r->s->rt;
  uint64_t vm0 = vm->executed, avm0 = rt->avm_instructions;
  size_t bytes0 = GC_get_total_bytes();
  double t0 = now();
  int st = session_eval(r->s, arg, strlen(arg), line);
  double t = now() - t0;
  failed(r, st);
  if (vm->exit_requested) return;
  printf("; %.6f s, %" PRIu64 " VM instructions, %" PRIu64 " AVM instructions, %zu bytes allocated\n", t,
         vm->executed - vm0, rt->avm_instructions - avm0, (size_t)GC_get_total_bytes() - bytes0);
}

static void meta_gas(Repl *r, const char *arg, int line) {
  (void)line;
  char *w = word_arg(arg);
  if (!*w) {
    if (r->s->gas < 0) printf("gas: no limit\n");
    else printf("gas: %" PRId64 " units per input\n", r->s->gas);
  } else if (strcmp(w, "off") == 0) {
    r->s->gas = -1;
  } else {
    char *end;
    errno = 0;
    long long g = strtoll(w, &end, 10);
    if (*end || end == w || g < 0 || errno) repl_error(r, EX_AVM_USAGE, ",gas: expected a non-negative number or off, got '%s'", w);
    else r->s->gas = g;
  }
  free(w);
}

static void meta_quit(Repl *r, const char *arg, int line) {
  (void)arg, (void)line;
  r->quit = true;
}

/* The meta-command [name] (of [n] bytes) names: exactly, or as the only
 * one it is a prefix of.  NULL after reporting. */
static const Meta *find_meta(Repl *r, const char *name, size_t n) {
  const Meta *found = NULL;
  int matches = 0;
  for (size_t j = 0; j < NMETAS; j++) {
    if (strncmp(metas[j].name, name, n) != 0) continue;
    if (strlen(metas[j].name) == n) return &metas[j];
    found = &metas[j];
    matches++;
  }
  if (matches == 1) return found;
  if (matches == 0) {
    repl_error(r, EX_AVM_USAGE, "unknown meta-command ',%.*s' (,help lists them)", (int)n, name);
    return NULL;
  }
  char list[256] = "";
  for (size_t j = 0; j < NMETAS; j++)
    if (strncmp(metas[j].name, name, n) == 0) {
      if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, ",", sizeof list - strlen(list) - 1);
      strncat(list, metas[j].name, sizeof list - strlen(list) - 1);
    }
  repl_error(r, EX_AVM_USAGE, "ambiguous meta-command ',%.*s': %s", (int)n, name, list);
  return NULL;
}

/* Splits ",name arg" into the name and where its argument starts. */
static const char *meta_name(const char *text, size_t *n) {
  const char *p = text + strspn(text, " \t") + 1;
  size_t k = 0;
  while (p[k] && !strchr(" \t\r\n", p[k])) k++;
  *n = k;
  return p;
}

/* Whether a meta-command input is complete: an expression argument that
 * is still open goes on over the next lines. */
static bool meta_complete(const char *text) {
  size_t n;
  const char *name = meta_name(text, &n);
  const Meta *m = NULL;
  int matches = 0;
  for (size_t j = 0; j < NMETAS; j++)
    if (strncmp(metas[j].name, name, n) == 0) {
      m = &metas[j];
      if (strlen(m->name) == n) {
        matches = 1;
        break;
      }
      matches++;
    }
  if (matches != 1 || m->arg != MA_EXPR) return true;
  const char *arg = name + n;
  return !read_is_incomplete("<meta>", arg, strlen(arg));
}

static void run_meta(Repl *r, const char *text, int line) {
  size_t n;
  const char *name = meta_name(text, &n);
  if (n == 0) {
    repl_error(r, EX_AVM_USAGE, "a meta-command name must follow the comma (,help lists them)");
    return;
  }
  const Meta *m = find_meta(r, name, n);
  if (!m) return;
  const char *arg = name + n;
  arg += strspn(arg, " \t");
  if (m->arg == MA_NONE && !blank(arg)) {
    repl_error(r, EX_AVM_USAGE, ",%s takes no argument", m->name);
    return;
  }
  m->run(r, arg, line);
  fflush(stdout);
}

/* {===== Completion =====} */

/* Adds the file names that could complete [word] (a path). */
static void file_words(const char *word, LeAdd add, void *acc) {
  const char *slash = strrchr(word, '/');
  size_t dlen = slash ? (size_t)(slash - word) + 1 : 0;
  char *dir = dlen ? strndup(word, dlen) : strdup("./");
  if (!dir) abort();
  DIR *d = opendir(dir);
  if (d) {
    const char *base = word + dlen;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
      if (e->d_name[0] == '.' && base[0] != '.') continue;
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      size_t n = dlen + strlen(e->d_name) + 2;
      char *cand = malloc(n);
      if (!cand) abort();
      snprintf(cand, n, "%.*s%s", (int)dlen, word, e->d_name);
      char *full = malloc(strlen(dir) + strlen(e->d_name) + 1);
      if (!full) abort();
      sprintf(full, "%s%s", dir, e->d_name);
      struct stat st;
      if (stat(full, &st) == 0 && S_ISDIR(st.st_mode)) strcat(cand, "/");
      add(acc, cand);
      free(full);
      free(cand);
    }
    closedir(d);
  }
  free(dir);
}

/* The words of a meta-command's argument: the lower-case alternatives of
 * its synopsis in cli/meta.def ("on|off"), or file names for FILE. */
static void meta_arg_words(const Meta *m, const char *word, LeAdd add, void *acc) {
  if (strcmp(m->synopsis, "FILE") == 0) {
    file_words(word, add, acc);
    return;
  }
  const char *p = m->synopsis;
  while (*p) {
    size_t n = strcspn(p, "|");
    if (n > 0 && p[0] >= 'a' && p[0] <= 'z') {
      char *w = strndup(p, n);
      if (!w) abort();
      add(acc, w);
      free(w);
    }
    p += n;
    if (*p == '|') p++;
  }
}

/* Completion candidates: meta-command names after a comma that starts an
 * input, their arguments after them, behavior and pure function names
 * after a quote, and otherwise special forms (lang/keywords.def),
 * primitives (vm/prims.def), AVM instructions (vm/instrs.def) and every
 * global the session has defined. */
static void complete_words(void *ctx, const char *line, size_t start, LeAdd add, void *acc) {
  Repl *r = ctx;
  /* Names that start with '%' are the implementation's own. */
#define OFFER(name) do { if ((name)[0] != '%') add(acc, (name)); } while (0)
  size_t lead = strspn(line, " \t");
  if (r->len == 0 && line[lead] == ',') {
    if (start == lead + 1) {
      for (size_t j = 0; j < NMETAS; j++) add(acc, metas[j].name);
      return;
    }
    size_t n;
    const char *name = meta_name(line, &n);
    for (size_t j = 0; j < NMETAS; j++)
      if (strlen(metas[j].name) == n && strncmp(metas[j].name, name, n) == 0 && metas[j].arg == MA_WORD) {
        meta_arg_words(&metas[j], line + start, add, acc);
        return;
      }
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

/* Evaluates or runs the gathered input. */
static void dispatch(Repl *r) {
  if (is_meta(r)) {
    run_meta(r, r->buf, r->buf_line);
  } else {
    failed(r, session_eval(r->s, r->buf, r->len, r->buf_line));
  }
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
  if (o->trace) set_trace(&r, true);
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
