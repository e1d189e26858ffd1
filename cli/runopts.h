/* cli/runopts.h — the options of running a program, one table for avm
 * run, avm repl and avm node: --allow-unsafe, --stack, --trace[=FORMAT]
 * and --trace-file. */
#ifndef AVM_CLI_RUNOPTS_H
#define AVM_CLI_RUNOPTS_H
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "runtime/runtime.h"

typedef struct RunOptions {
  bool allow_unsafe;
  int64_t stack;              /* frame limit */
  bool trace;
  TraceFormat trace_format;
  const char *trace_file;     /* NULL: stderr */
  int64_t gas;                /* < 0: unlimited (avm run and repl only) */
} RunOptions;

/* X(code, long name, getopt has_arg) */
#define RUN_OPTIONS(X)                                 \
  X(OPT_ALLOW_UNSAFE, "allow-unsafe", no_argument)     \
  X(OPT_STACK, "stack", required_argument)             \
  X(OPT_TRACE, "trace", optional_argument)             \
  X(OPT_TRACE_FILE, "trace-file", required_argument)

/* Their getopt codes are above any character; a command's own long
 * options take codes from RUN_OPT_END on. */
enum {
  RUN_OPT_BEFORE = 255,
#define X(code, name, arg) code,
  RUN_OPTIONS(X)
#undef X
  RUN_OPT_END
};

/* An entry of a getopt_long table: RUN_OPTIONS(RUN_LONGOPT) lists them all. */
#define RUN_LONGOPT(code, name, arg) { name, arg, NULL, code },

#define RUN_OPTION_NOT_MINE (-2)

/* The defaults: no trace (text when on), the VM's frame limit, no gas limit. */
RunOptions run_options_default(void);
/* Applies option [c] with argument [arg] to [ro]: -1 when it is done, the
 * exit status after a usage message when [arg] is bad, RUN_OPTION_NOT_MINE
 * when [c] is not one of these. */
int run_option(const char *prog, int c, const char *arg, RunOptions *ro);
/* Where the trace goes: stderr, or the --trace-file opened; NULL after a
 * message if it cannot be written. */
FILE *run_open_trace(const char *prog, const RunOptions *ro);

#endif
