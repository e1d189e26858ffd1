/* cli/repl.h — avm repl, the interactive session (cli/repl.c). */
#ifndef AVM_CLI_REPL_H
#define AVM_CLI_REPL_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct ReplOptions {
  bool allow_unsafe;
  bool trace;          /* start with ,trace on */
  int64_t gas;         /* per input; < 0: no limit */
  size_t max_depth;    /* nested calls allowed */
  char **files;        /* loaded before the first prompt */
  int nfiles;
} ReplOptions;

/* Runs the REPL on stdin until end of input, ,quit or (exit N).  Gives the
 * exit status: N after (exit N); else at a terminal 0, and for piped input
 * 0 when every input went well, otherwise the status of the first that
 * failed (1 runtime error, 2 compile error, 64 bad meta-command, 66
 * unreadable ,load file). */
int repl_main(const ReplOptions *o);

#endif
