/* cli/session.h — a long-lived AVM session, what the REPL evaluates in:
 * one VM (its globals), one Runtime (its store, behaviors, pure functions,
 * trace), and inputs compiled against them and run one after another as
 * programs on the same root (rt_run_session), so that definitions,
 * objects, their state and an open transaction carry over. */
#ifndef AVM_CLI_SESSION_H
#define AVM_CLI_SESSION_H
#include <stdbool.h>
#include "compiler/compiler.h"
#include "runtime/runtime.h"

typedef struct Session {
  VM *vm;
  Runtime *rt;
  Program *last;       /* the previous input's program: its root carries over */
  Diag diag;           /* diagnostics; every input stays registered in it, so
                          errors anywhere in the session quote their line */
  const char *name;    /* what locations call the inputs: <repl> or <stdin> */
  bool allow_unsafe;
  int64_t gas;         /* units of gas each input may use; < 0: no limit */
  bool echoes_ctrl_c;  /* stderr is the terminal, which echoes Ctrl-C as "^C"
                          while an input runs: the interrupt's message then
                          starts on a line of its own */
} Session;

/* A session whose inputs are called [name] in diagnostics, on a VM with
 * the prelude loaded.  The session is never freed (it lives as long as
 * the process) and is a GC root. */
Session *session_new(const char *name, bool allow_unsafe);

/* Evaluates [text], an input whose first line is line [line] of the
 * session: each of its top-level forms is compiled against the session's
 * globals and run as the session's next program, and its value, unless
 * unspecified, is written on stdout.  Stops at the first form that fails,
 * after printing the error (GNU style, with the location in the input) on
 * stderr.  Gives EX_AVM_OK, EX_AVM_COMPILE or EX_AVM_RUNTIME; after
 * (exit N), vm->exit_requested is set. */
int session_eval(Session *s, const char *text, size_t len, int line);

/* Loads the .avm file [path] into the session: compiled as one module, as
 * avm run does, and run as the next program; prints nothing but errors.
 * Gives an exit status as session_eval does, or EX_AVM_NOINPUT. */
int session_load(Session *s, const char *path);

/* Compiles [text] (at line [line]) against the session's globals without
 * running it; NULL after printing diagnostics. */
Module *session_compile(Session *s, const char *text, size_t len, int line);

/* Evaluates [text] as session_eval does but prints no value: the value of
 * its last form goes to *out. */
int session_value(Session *s, const char *text, size_t len, int line, Value *out);

/* The session's open transaction, or NULL. */
Tx *session_tx(const Session *s);

/* Prints the AVM trace of what runs on stdout as it happens (on), or
 * stops (off); session_tracing tells which. */
void session_trace(Session *s, bool on);
bool session_tracing(const Session *s);

#endif
