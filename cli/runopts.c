/* cli/runopts.c — the options of running a program (cli/runopts.h). */
#include <errno.h>
#include <string.h>
#include "cli/common.h"
#include "cli/runopts.h"

RunOptions run_options_default(void) {
  return (RunOptions){ .stack = AVM_DEFAULT_MAX_DEPTH, .trace_format = TF_TEXT, .gas = -1 };
}

int run_option(const char *prog, int c, const char *arg, RunOptions *ro) {
  switch (c) {
    case OPT_ALLOW_UNSAFE: ro->allow_unsafe = true; return -1;
    case OPT_STACK:
      if (!cli_number(arg, 1, 100000000, &ro->stack))
        return cli_usage_error(prog, "--stack: expected a number from 1 to 100000000, got '%s'", arg);
      return -1;
    case OPT_TRACE:
      ro->trace = true;
      if (arg && !trace_format_parse(arg, &ro->trace_format))
        return cli_usage_error(prog, "--trace: unknown format '%s' (text, json or mermaid)", arg);
      return -1;
    case OPT_TRACE_FILE:
      ro->trace = true;
      ro->trace_file = arg;
      return -1;
    default: return RUN_OPTION_NOT_MINE;
  }
}

FILE *run_open_trace(const char *prog, const RunOptions *ro) {
  if (!ro->trace_file) return stderr;
  FILE *f = fopen(ro->trace_file, "w");
  if (!f) cli_error(prog, "cannot write the trace to '%s': %s", ro->trace_file, strerror(errno));
  return f;
}
