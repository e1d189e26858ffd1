/* cli/avm.c — the VM driver: avm run (and avm FILE), avm repl (and avm
 * alone at a terminal), avm node (cli/node.c). */
#include <errno.h>
#include <getopt.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/common.h"
#include "cli/node.h"
#include "cli/repl.h"
#include "cli/runopts.h"
#include "runtime/runtime.h"
#include "stdlib/prelude.h"

static const char *prog = "avm";

/* The REPL's meta-command names, from the one table of them. */
static const char meta_names[] =
#define META(id, name, kind, syn, help) " ," name
#include "cli/meta.def"
#undef META
    ;

static void usage(FILE *out) {
  fprintf(out,
          "Usage: avm run [OPTION]... FILE [-- ARG...]\n"
          "       avm FILE [-- ARG...]\n"
          "       avm repl [OPTION]... [FILE]...\n"
          "       avm node --name NAME --port PORT [--peer NAME@HOST:PORT]... [OPTION]... [-- ARG...]\n"
          "       avm                  (the REPL at a terminal; else runs stdin as a program)\n"
          "\n"
          "avm run runs FILE, a program in source (.avm) or bytecode (.avmb) form,\n"
          "and prints the value of its last expression.  (command-line) gives the ARGs.\n"
          "\n"
          "avm repl starts an interactive session: each input is evaluated in one\n"
          "long-lived AVM (definitions, behaviors, objects and their state, an open\n"
          "transaction all carry over) and its value printed.  FILEs are loaded\n"
          "first.  Meta-commands (,help explains them):\n"
          " %s\n"
          "At a terminal lines are edited with Emacs keys, Tab completes names,\n"
          "history is kept in ~/.avm_history (or $AVM_HISTORY), Ctrl-C interrupts\n"
          "a running input and Ctrl-D leaves.  Input from a pipe or file is read\n"
          "without prompts.\n"
          "\n"
          "avm node runs one machine of a distributed AVM: it listens on PORT (0: any\n"
          "free port; the port is logged), dials each peer until it is up, serves\n"
          "the calls peers make to its objects and calls theirs, and keeps a directory\n"
          "of where objects live.  Node options:\n"
          "      --name NAME     the machine's name (default node)\n"
          "      --port PORT     the port to listen on (default 9001)\n"
          "      --prefix N      the top 16 bits of its object ids (default: the port)\n"
          "      --peer NAME@HOST:PORT  a peer to keep connected to (repeatable)\n"
          "      --load FILE     register FILE's behaviors, and run its program at start\n"
          "                      (repeatable)\n"
          "      --run FILE      once the peers are up, run FILE and print its result\n"
          "                      as avm run does; then serve on\n"
          "      --exit-after-run  exit after --run's program, with avm run's status\n"
          "      --call-timeout MS  a remote call unanswered after MS milliseconds\n"
          "                      gives nothing (default 5000)\n"
          "      --max-calls N   calls a peer may have running here at once; more are\n"
          "                      answered with an error (default 10000)\n"
          "      --events PORT   serve the trace live over HTTP: GET /events (Server-Sent\n"
          "                      Events, the JSON view) and GET /health\n"
          "\n"
          "Options:\n"
          "      --allow-unsafe  run programs that use unsafe AVM instructions\n"
          "      --stack N       allow N nested calls (default %d)\n"
          "      --trace[=FORMAT]  print the AVM execution trace as it happens (run: on\n"
          "                      stderr; repl: on stdout, as ,trace on); FORMAT is\n"
          "                      text (the default), json or mermaid\n"
          "      --trace-file PATH  print the trace to PATH instead (implies --trace)\n"
          "      --gas N         stop a program once it has used N units of gas\n"
          "                      (repl: each input, as ,gas N)\n"
          "  -h, --help          show this help\n"
          "  -V, --version       show the version\n"
          "\n"
          "Exit status: 0 success, 1 runtime error, 2 compile error or invalid\n"
          "bytecode, 64 usage error, 66 unreadable input, 74 output or trace not\n"
          "written.  avm repl exits with 0 at a terminal; with piped input, 0 when\n"
          "every input went well, else the status of the first that failed; N after\n"
          "(exit N).\n",
          meta_names, AVM_DEFAULT_MAX_DEPTH);
}

/* Runs the top-level program of [m] on the AVM interpreter to its end; a
 * runtime error is reported through [d]. */
static int run_module(Diag *d, VM *vm, Module *m, const RunOptions *o) {
  vm_link(vm, m);
  Runtime *rt = rt_new(vm, "local");
  rt->gas_limit = o->gas;
  rt->allow_unsafe = o->allow_unsafe;
  FILE *trace = NULL;
  if (o->trace) {
    if (!(trace = run_open_trace(prog, o))) return EX_AVM_IOERR;
    trace_start(rt, trace, o->trace_format, false);
  }
  rt_load_module(rt, m, stderr);
  Program *p = rt_run_main(rt, proto_main_closure(m));
  fflush(stdout);
  if (trace && (!trace_stop(rt) || (trace != stderr && fclose(trace) != 0))) {
    cli_error(prog, "cannot write the trace: %s", strerror(errno));
    return EX_AVM_IOERR;
  }
  if (p->status == PS_FAILED) {
    if (vm->exit_requested) return vm->exit_requested - 1;
    vm_report_error(d, &p->error);
    return EX_AVM_RUNTIME;
  }
  if (p->result.tag != T_UNSPEC) {
    v_write(stdout, p->result);
    fputc('\n', stdout);
  }
  return fflush(stdout) == 0 ? EX_AVM_OK : EX_AVM_IOERR;
}

/* The options avm run and avm repl take: those of running a program, and
 * --gas. */
enum { OPT_GAS = RUN_OPT_END };
static const struct option longopts[] = {
  RUN_OPTIONS(RUN_LONGOPT)
  { "gas", required_argument, NULL, OPT_GAS },
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL, 0, NULL, 0 },
};

/* Parses the options; -1 to go on, else the exit status to leave with. */
static int parse_options(int argc, char **argv, RunOptions *ro) {
  int c;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
    int done = run_option(prog, c, optarg, ro);
    if (done != RUN_OPTION_NOT_MINE) {
      if (done >= 0) return done;
      continue;
    }
    switch (c) {
      case OPT_GAS:
        if (!cli_number(optarg, 0, INT64_MAX, &ro->gas))
          return cli_usage_error(prog, "--gas: expected a non-negative number, got '%s'", optarg);
        break;
      case 'h': usage(stdout); return EX_AVM_OK;
      case 'V': cli_print_version(prog); return EX_AVM_OK;
      default: return cli_option_error(prog, c, argv, longopts);
    }
  }
  return -1;
}

static int cmd_run(int argc, char **argv) {
  RunOptions ro = run_options_default();
  int done = parse_options(argc, argv, &ro);
  if (done >= 0) return done;
  if (optind >= argc) return cli_usage_error(prog, "run: missing program file");
  const char *file = argv[optind++];
  if (optind < argc && strcmp(argv[optind], "--") == 0) optind++;
  VM *vm = cli_new_vm();
  vm->max_depth = (size_t)ro.stack;
  Value args = v_nil();
  for (int j = argc - 1; j >= optind; j--) args = v_cons(v_cstring(argv[j]), args);
  vm->command_line = args;
  int status = EX_AVM_OK;
  Diag d;
  diag_init(&d, stderr);
  prelude_add_source(&d);
  Module *m = cli_load_program(&d, vm, file, ro.allow_unsafe, true, &status);
  if (!m) return status;
  return run_module(&d, vm, m, &ro);
}

static int cmd_repl(int argc, char **argv) {
  RunOptions ro = run_options_default();
  int done = parse_options(argc, argv, &ro);
  if (done >= 0) return done;
  if (ro.trace_file) return cli_usage_error(prog, "repl: --trace-file is for avm run (the REPL traces on stdout)");
  ReplOptions o = { .allow_unsafe = ro.allow_unsafe, .trace = ro.trace, .trace_format = ro.trace_format,
                    .gas = ro.gas, .max_depth = (size_t)ro.stack, .files = argv + optind, .nfiles = argc - optind };
  return repl_main(&o);
}


int main(int argc, char **argv) {
  heap_init();
  if (argc < 2) {
    /* avm alone: the REPL for a person at a terminal, else the program
     * that comes on stdin. */
    if (isatty(STDIN_FILENO)) return cmd_repl(1, argv);
    char *run_stdin[] = { argv[0], "-", NULL };
    return cmd_run(2, run_stdin);
  }
  const char *cmd = argv[1];
  if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0) {
    usage(stdout);
    return EX_AVM_OK;
  }
  if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "-V") == 0) {
    cli_print_version(prog);
    return EX_AVM_OK;
  }
  if (strcmp(cmd, "run") == 0) return cmd_run(argc - 1, argv + 1);
  if (strcmp(cmd, "repl") == 0) return cmd_repl(argc - 1, argv + 1);
  if (strcmp(cmd, "node") == 0) return cmd_node(argc - 1, argv + 1, usage);
  if (cmd[0] == '-' && cmd[1] != '\0') return cmd_run(argc, argv);
  size_t n = strlen(cmd);
  if ((n > 4 && strcmp(cmd + n - 4, ".avm") == 0) || (n > 5 && strcmp(cmd + n - 5, ".avmb") == 0) ||
      strchr(cmd, '/'))
    return cmd_run(argc, argv);
  return cli_usage_error(prog, "unknown command '%s'", cmd);
}
