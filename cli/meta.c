/* cli/meta.c — the REPL's meta-commands: each line of cli/meta.def is
 * run here by meta_IDENT, listed by ,help and completed by Tab from the
 * same table.  A meta-command acts on the session (cli/session.c) and
 * prints on stdout; a misuse is an error on stderr, exit status 64 for a
 * piped session. */
#include "cli/meta.h"
#include <dirent.h>
#include <gc.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include "cli/common.h"

/* {===== The table =====} */

typedef enum MetaArg { MA_NONE, MA_WORD, MA_EXPR } MetaArg;

/* A meta-command gets the session, its argument (blanks before it
 * dropped), the line its input started on, and where to say ,quit. */
typedef int (*MetaFn)(Session *s, const char *arg, int line, bool *quit);

typedef struct Meta {
  const char *name;
  MetaArg arg;
  const char *synopsis;
  const char *help;
  MetaFn run;
} Meta;

#define META(id, name, kind, syn, help) static int meta_##id(Session *s, const char *arg, int line, bool *quit);
#include "cli/meta.def"
#undef META

static const Meta metas[] = {
#define META(id, name, kind, syn, help) { name, kind, syn, help, meta_##id },
#include "cli/meta.def"
#undef META
};
#define NMETAS (sizeof metas / sizeof metas[0])

/* Reports a misused meta-command on stderr; gives [status]. */
static int meta_error(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int meta_error(int status, const char *fmt, ...) {
  fflush(stdout);
  va_list ap;
  va_start(ap, fmt);
  fputs("error: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return status;
}

static bool blank(const char *s) { return s[strspn(s, " \t\r\n")] == '\0'; }

/* {===== The commands =====} */

static int meta_help(Session *s, const char *arg, int line, bool *quit) {
  (void)s, (void)arg, (void)line, (void)quit;
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
  return EX_AVM_OK;
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

static int meta_load(Session *s, const char *arg, int line, bool *quit) {
  (void)line, (void)quit;
  char *path = word_arg(arg);
  int st = *path ? session_load(s, path) : meta_error(EX_AVM_USAGE, ",load: which file? (,load FILE)");
  free(path);
  return st;
}

static int meta_trace(Session *s, const char *arg, int line, bool *quit) {
  (void)line, (void)quit;
  char *w = word_arg(arg);
  int st = EX_AVM_OK;
  TraceFormat f;
  if (!*w) printf("trace is %s\n", session_tracing(s) ? trace_format_names[s->rt->trace.format] : "off");
  else if (strcmp(w, "on") == 0) session_trace(s, true, TF_TEXT);
  else if (strcmp(w, "off") == 0) session_trace(s, false, TF_TEXT);
  else if (trace_format_parse(w, &f)) session_trace(s, true, f);
  else st = meta_error(EX_AVM_USAGE, ",trace: expected on, off, text, json or mermaid, got '%s'", w);
  free(w);
  return st;
}

static int meta_disasm(Session *s, const char *arg, int line, bool *quit) {
  (void)quit;
  if (blank(arg)) return meta_error(EX_AVM_USAGE, ",disasm: which expression? (,disasm EXPR)");
  Module *m = session_compile(s, arg, strlen(arg), line);
  if (!m) return EX_AVM_COMPILE;
  disasm_module(stdout, m, false);
  return EX_AVM_OK;
}

static const char *sym_name(const Symbol *s) { return s ? s->name : "-"; }

static int meta_objects(Session *s, const char *arg, int line, bool *quit) {
  (void)arg, (void)line, (void)quit;
  Runtime *rt = s->rt;
  Object **objs;
  size_t n = store_sorted(&rt->store, &objs);
  Tx *tx = session_tx(s);
  /* Objects the open transaction created are not in the store yet. */
  size_t pending = 0;
  for (size_t j = 0; tx && j < tx->n; j++) pending += tx->entries[j]->created;
  if (n + pending == 0) {
    printf("no objects\n");
    return EX_AVM_OK;
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
  return EX_AVM_OK;
}

static int meta_state(Session *s, const char *arg, int line, bool *quit) {
  (void)quit;
  if (blank(arg)) return meta_error(EX_AVM_USAGE, ",state: which object? (,state ID)");
  char *end;
  unsigned long long id = strtoull(arg, &end, 10);
  if (!blank(end) || end == arg || arg[strspn(arg, " \t")] == '-') {
    /* Not a number: an expression that gives an object id. */
    Value v;
    int st = session_value(s, arg, strlen(arg), line, &v);
    if (st != EX_AVM_OK) return st;
    if (v.tag != T_OBJREF)
      return meta_error(EX_AVM_RUNTIME, ",state: expected an object id, got %s", v_write_to_string(v, false));
    id = v.as.u;
  }
  /* The state as the session sees it: through its open transaction. */
  Program *p = s->last;
  TxEntry *e = NULL;
  Object *o = p ? rt_find(s->rt, p, id, &e) : store_get(&s->rt->store, id);
  if (!o || (e && e->destroyed)) return meta_error(EX_AVM_RUNTIME, ",state: no object %llu", id);
  v_write(stdout, p ? rt_state_of(p, o, e) : o->state);
  fputc('\n', stdout);
  return EX_AVM_OK;
}

static int meta_tx(Session *s, const char *arg, int line, bool *quit) {
  (void)arg, (void)line, (void)quit;
  Tx *tx = session_tx(s);
  if (!tx) printf("no transaction is open\n");
  else
    printf("#<tx %" PRIu64 "> is open (controller %s), %zu object%s touched\n", tx->id, sym_name(tx->controller),
           tx->n, tx->n == 1 ? "" : "s");
  return EX_AVM_OK;
}

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The REPL runs every input in the metered loop (its time slices are
 * where Ctrl-C is seen), which counts VM instructions as it goes. */
static int meta_time(Session *s, const char *arg, int line, bool *quit) {
  (void)quit;
  if (blank(arg)) return meta_error(EX_AVM_USAGE, ",time: which expression? (,time EXPR)");
  VM *vm = s->vm;
  Runtime *rt = s->rt;
  uint64_t vm0 = vm->executed, avm0 = rt->avm_instructions;
  size_t bytes0 = GC_get_total_bytes();
  double t0 = now();
  int st = session_eval(s, arg, strlen(arg), line);
  double t = now() - t0;
  if (vm->exit_requested) return st;
  printf("; %.6f s, %" PRIu64 " VM instructions, %" PRIu64 " AVM instructions, %zu bytes allocated\n", t,
         vm->executed - vm0, rt->avm_instructions - avm0, (size_t)GC_get_total_bytes() - bytes0);
  return st;
}

static int meta_gas(Session *s, const char *arg, int line, bool *quit) {
  (void)line, (void)quit;
  char *w = word_arg(arg);
  int st = EX_AVM_OK;
  if (!*w) {
    if (s->gas < 0) printf("gas: no limit\n");
    else printf("gas: %" PRId64 " units per input\n", s->gas);
  } else if (strcmp(w, "off") == 0) {
    s->gas = -1;
  } else {
    int64_t g;
    if (!cli_number(w, 0, INT64_MAX, &g))
      st = meta_error(EX_AVM_USAGE, ",gas: expected a non-negative number or off, got '%s'", w);
    else s->gas = g;
  }
  free(w);
  return st;
}

static int meta_quit(Session *s, const char *arg, int line, bool *quit) {
  (void)s, (void)arg, (void)line;
  *quit = true;
  return EX_AVM_OK;
}

/* {===== Finding and running =====} */

/* The meta-command [name] (of [n] bytes) names: exactly, or as the only
 * one it is a prefix of.  NULL after reporting. */
static const Meta *find_meta(const char *name, size_t n) {
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
    meta_error(EX_AVM_USAGE, "unknown meta-command ',%.*s' (,help lists them)", (int)n, name);
    return NULL;
  }
  char list[256] = "";
  for (size_t j = 0; j < NMETAS; j++)
    if (strncmp(metas[j].name, name, n) == 0) {
      if (list[0]) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, ",", sizeof list - strlen(list) - 1);
      strncat(list, metas[j].name, sizeof list - strlen(list) - 1);
    }
  meta_error(EX_AVM_USAGE, "ambiguous meta-command ',%.*s': %s", (int)n, name, list);
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

bool meta_complete(const char *text) {
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

int meta_run(Session *s, const char *text, int line, bool *quit) {
  size_t n;
  const char *name = meta_name(text, &n);
  if (n == 0) return meta_error(EX_AVM_USAGE, "a meta-command name must follow the comma (,help lists them)");
  const Meta *m = find_meta(name, n);
  if (!m) return EX_AVM_USAGE;
  const char *arg = name + n;
  arg += strspn(arg, " \t");
  if (m->arg == MA_NONE && !blank(arg)) return meta_error(EX_AVM_USAGE, ",%s takes no argument", m->name);
  int st = m->run(s, arg, line, quit);
  fflush(stdout);
  return st;
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

void meta_words(const char *line, size_t start, LeAdd add, void *acc) {
  size_t lead = strspn(line, " \t");
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
