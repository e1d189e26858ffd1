/* cli/session.c — the REPL's long-lived session: each input is read once,
 * each of its top-level forms compiled against the VM's globals (so it
 * sees every earlier definition), linked, its behaviors and pure
 * functions registered in the one Runtime, and run with rt_run_session
 * after the previous input's program.  Errors are reported through the
 * session's Diag, which keeps every input's text for quoting. */
#include "cli/session.h"
#include <errno.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "stdlib/prelude.h"

/* VM instructions between two looks at the interrupt flag when no gas
 * limit applies (with one, gas slices of avm run's size). */
#define POLL_SLICE 65536
#define GAS_SLICE 1000

Session *session_new(const char *name, bool allow_unsafe) {
  /* Uncollectable: the collector scans it, so what it points to lives. */
  Session *s = GC_MALLOC_UNCOLLECTABLE(sizeof *s);
  memset(s, 0, sizeof *s);
  s->vm = cli_new_vm();
  s->rt = rt_new(s->vm, "local");
  s->rt->allow_unsafe = allow_unsafe;
  diag_init(&s->diag, stderr);
  prelude_add_source(&s->diag);
  s->name = name;
  s->allow_unsafe = allow_unsafe;
  s->gas = -1;
  return s;
}

Tx *session_tx(const Session *s) { return s->last ? s->last->tx : NULL; }

/* The trace goes to stdout an event at a time, so it interleaves with what
 * the program displays. */
void session_trace(Session *s, bool on, TraceFormat format) {
  trace_stop(s->rt);
  if (on) {
    trace_start(s->rt, stdout, format, true);
  }
}

bool session_tracing(const Session *s) { return s->rt->trace.out != NULL; }

/* Registers a copy of an input that lives as long as the session
 * (diagnostics about code defined in it can come at any later time);
 * gives the copy, and in *name the name pointer its locations carry. */
static const char *keep_text(Session *s, const char *text, size_t len, int line, const char *file,
                             const char **name) {
  char *copy = malloc(len + 1);
  if (!copy) abort();
  memcpy(copy, text, len);
  copy[len] = '\0';
  *name = diag_add_source_from(&s->diag, file ? file : s->name, copy, len, line);
  return copy;
}

/* {===== Errors =====} */

/* As avm run reports it: location, source line, backtrace (vm/report.c). */
static void report(Session *s, const Program *p) {
  fflush(stdout);
  if (s->echoes_ctrl_c && p->error.msg && strcmp(p->error.msg, "interrupted") == 0) fputc('\n', stderr);
  vm_report_error(&s->diag, &p->error);
  if (p->aborted_tx) fprintf(stderr, "note: transaction #<tx %llu> was aborted\n", (unsigned long long)p->aborted_tx);
}

/* {===== Running =====} */

/* Runs module [m] as the session's next program; its value goes to *out. */
static int run(Session *s, Module *m, Value *out) {
  VM *vm = s->vm;
  Runtime *rt = s->rt;
  vm_link(vm, m);
  rt_load_module(rt, m, stderr);
  rt->gas_limit = s->gas;
  rt->gas_used = 0;
  rt->out_of_gas = false;
  vm->slice = s->gas >= 0 ? GAS_SLICE : POLL_SLICE;
  Program *p = rt_run_session(rt, s->last, proto_main_closure(m));
  s->last = p;
  fflush(stdout);
  if (p->status == PS_FAILED) {
    if (vm->exit_requested) return EX_AVM_OK;
    report(s, p);
    return EX_AVM_RUNTIME;
  }
  *out = p->result;
  return EX_AVM_OK;
}

static CompOptions options(const Session *s, int line) {
  CompOptions opt = { .allow_unsafe = s->allow_unsafe, .first_line = line, .open_globals = true };
  return opt;
}

/* Reads [text] and runs its forms one by one; [show] writes each value. */
static int eval(Session *s, const char *text, size_t len, int line, bool show, Value *last) {
  fflush(stdout);
  s->diag.nerrors = 0;
  const char *name;
  text = keep_text(s, text, len, line, NULL, &name);
  SyntaxList sl;
  if (!read_source_from(&s->diag, name, text, len, line, &sl)) return EX_AVM_COMPILE;
  CompOptions opt = options(s, line);
  *last = v_unspec();
  for (int j = 0; j < sl.n; j++) {
    SyntaxList one = { &sl.items[j], 1 };
    Module *m = comp_syntax(&s->diag, s->vm, name, &one, &opt);
    if (!m) return EX_AVM_COMPILE;
    int st = run(s, m, last);
    if (st != EX_AVM_OK || s->vm->exit_requested) return st;
    if (show && last->tag != T_UNSPEC) {
      v_write(stdout, *last);
      fputc('\n', stdout);
      fflush(stdout);
    }
  }
  return EX_AVM_OK;
}

int session_eval(Session *s, const char *text, size_t len, int line) {
  Value ignored;
  return eval(s, text, len, line, true, &ignored);
}

int session_value(Session *s, const char *text, size_t len, int line, Value *out) {
  return eval(s, text, len, line, false, out);
}

Module *session_compile(Session *s, const char *text, size_t len, int line) {
  fflush(stdout);
  s->diag.nerrors = 0;
  const char *name;
  text = keep_text(s, text, len, line, NULL, &name);
  CompOptions opt = options(s, line);
  return comp_source(&s->diag, s->vm, name, text, len, &opt);
}

int session_load(Session *s, const char *path) {
  fflush(stdout);
  size_t plen = strlen(path);
  if (plen > 5 && strcmp(path + plen - 5, ".avmb") == 0) {
    int status = EX_AVM_OK;
    Module *m = cli_load_program(&s->diag, s->vm, path, s->allow_unsafe, true, &status);
    Value ignored;
    return m ? run(s, m, &ignored) : status;
  }
  size_t len;
  char *data = cli_read_file(path, &len);
  if (!data) {
    fprintf(stderr, "%s: error: cannot read file: %s\n", path, strerror(errno));
    return EX_AVM_NOINPUT;
  }
  s->diag.nerrors = 0;
  const char *name;
  const char *text = keep_text(s, data, len, 1, path, &name);
  free(data);
  /* A file is compiled whole, as avm run compiles it: its definitions
   * see each other, and a name nobody defines is an error. */
  CompOptions opt = { .allow_unsafe = s->allow_unsafe, .first_line = 1 };
  Module *m = comp_source(&s->diag, s->vm, name, text, len, &opt);
  if (!m) return EX_AVM_COMPILE;
  Value ignored;
  return run(s, m, &ignored);
}
