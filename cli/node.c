/* cli/node.c — avm node: the command line of a node (net/node.c does the
 * rest).  Loads the modules, names the peers, and hands over. */
#include <gc.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/common.h"
#include "cli/node.h"
#include "cli/runopts.h"
#include "net/node.h"
#include "stdlib/prelude.h"

static const char *prog = "avm";

enum {
  OPT_NAME = RUN_OPT_END, OPT_PORT, OPT_PREFIX, OPT_PEER, OPT_LOAD, OPT_RUN, OPT_EXIT_AFTER_RUN, OPT_CALL_TIMEOUT,
  OPT_EVENTS, OPT_MAX_CALLS
};
static const struct option longopts[] = {
  { "name", required_argument, NULL, OPT_NAME },
  { "port", required_argument, NULL, OPT_PORT },
  { "prefix", required_argument, NULL, OPT_PREFIX },
  { "peer", required_argument, NULL, OPT_PEER },
  { "load", required_argument, NULL, OPT_LOAD },
  { "run", required_argument, NULL, OPT_RUN },
  { "exit-after-run", no_argument, NULL, OPT_EXIT_AFTER_RUN },
  { "call-timeout", required_argument, NULL, OPT_CALL_TIMEOUT },
  { "max-calls", required_argument, NULL, OPT_MAX_CALLS },
  { "events", required_argument, NULL, OPT_EVENTS },
  RUN_OPTIONS(RUN_LONGOPT)
  { "help", no_argument, NULL, 'h' },
  { "version", no_argument, NULL, 'V' },
  { NULL, 0, NULL, 0 },
};

/* NAME@HOST:PORT, or HOST:PORT (the reference's form: the host names the
 * machine); false if [s] is neither. */
static bool parse_peer(const char *s, NodePeer *out) {
  char *copy = GC_STRDUP(s);
  char *at = strchr(copy, '@'), *host = copy;
  if (at) {
    *at = '\0';
    host = at + 1;
  }
  char *colon = strrchr(host, ':');
  int64_t port;
  if (!colon || colon == host || !cli_number(colon + 1, 1, 65535, &port)) return false;
  *colon = '\0';
  if (at && !*copy) return false;
  *out = (NodePeer){ .name = at ? copy : host, .host = host, .port = (int)port };
  return true;
}

int cmd_node(int argc, char **argv, void (*usage)(FILE *out)) {
  NodeOptions o = { .name = "node", .port = 9001, .prefix = -1, .call_timeout_ms = NODE_DEFAULT_CALL_TIMEOUT_MS,
                    .max_calls = NODE_DEFAULT_MAX_CALLS, .trace_format = TF_TEXT, .events_port = -1 };
  const char **load = GC_MALLOC((size_t)argc * sizeof *load);
  const char *run = NULL;
  RunOptions ro = run_options_default();
  o.peers = GC_MALLOC((size_t)argc * sizeof *o.peers);
  int c;
  int64_t v;
  optind = 1;
  opterr = 0;
  while ((c = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
    int done = run_option(prog, c, optarg, &ro);
    if (done != RUN_OPTION_NOT_MINE) {
      if (done >= 0) return done;
      continue;
    }
    switch (c) {
      case OPT_NAME:
        if (!*optarg) return cli_usage_error(prog, "node: --name: a machine needs a name");
        o.name = optarg;
        break;
      case OPT_PORT:
        if (!cli_number(optarg, 0, 65535, &v)) return cli_usage_error(prog, "node: --port: expected a port from 0 to 65535, got '%s'", optarg);
        o.port = (int)v;
        break;
      case OPT_PREFIX:
        if (!cli_number(optarg, 0, 65535, &v)) return cli_usage_error(prog, "node: --prefix: expected a number from 0 to 65535, got '%s'", optarg);
        o.prefix = (int)v;
        break;
      case OPT_PEER:
        if (!parse_peer(optarg, &o.peers[o.npeers]))
          return cli_usage_error(prog, "node: --peer: expected NAME@HOST:PORT, got '%s'", optarg);
        o.npeers++;
        break;
      case OPT_LOAD: load[o.nload++] = optarg; break;
      case OPT_RUN:
        if (run) return cli_usage_error(prog, "node: --run is given once");
        run = optarg;
        break;
      case OPT_EXIT_AFTER_RUN: o.exit_after_run = true; break;
      case OPT_CALL_TIMEOUT:
        if (!cli_number(optarg, 1, 86400000, &v))
          return cli_usage_error(prog, "node: --call-timeout: expected milliseconds from 1 to 86400000, got '%s'", optarg);
        o.call_timeout_ms = (uint64_t)v;
        break;
      case OPT_MAX_CALLS:
        if (!cli_number(optarg, 1, 100000000, &v))
          return cli_usage_error(prog, "node: --max-calls: expected a number from 1 to 100000000, got '%s'", optarg);
        o.max_calls = (size_t)v;
        break;
      case OPT_EVENTS:
        if (!cli_number(optarg, 0, 65535, &v)) return cli_usage_error(prog, "node: --events: expected a port from 0 to 65535, got '%s'", optarg);
        o.events_port = (int)v;
        break;
      case 'h': usage(stdout); return EX_AVM_OK;
      case 'V': cli_print_version(prog); return EX_AVM_OK;
      default: return cli_option_error(prog, c, argv, longopts);
    }
  }
  /* getopt has taken the "--" that starts the program's arguments. */
  if (optind < argc && strcmp(argv[optind - 1], "--") != 0)
    return cli_usage_error(prog, "node: unexpected argument '%s' (program arguments follow --)", argv[optind]);
  if (o.exit_after_run && !run) return cli_usage_error(prog, "node: --exit-after-run needs --run FILE");
  o.allow_unsafe = ro.allow_unsafe;
  o.trace_format = ro.trace_format;
  if (o.events_port >= 0 && ro.trace && o.trace_format != TF_JSON)
    return cli_usage_error(prog, "node: --events sends the JSON view of the trace: with it, use --trace=json");

  VM *vm = cli_new_vm();
  vm->max_depth = (size_t)ro.stack;
  Value args = v_nil();
  for (int j = argc - 1; j >= optind; j--) args = v_cons(v_cstring(argv[j]), args);
  vm->command_line = args;
  Diag d;
  diag_init(&d, stderr);
  prelude_add_source(&d);
  o.diag = &d;
  int status = EX_AVM_OK;
  o.load = GC_MALLOC((o.nload + 1) * sizeof *o.load);
  for (size_t j = 0; j < o.nload; j++) {
    if (!(o.load[j] = cli_load_program(&d, vm, load[j], o.allow_unsafe, true, &status))) return status;
    vm_link(vm, o.load[j]);
  }
  if (run) {
    if (!(o.run = cli_load_program(&d, vm, run, o.allow_unsafe, true, &status))) return status;
    vm_link(vm, o.run);
  }
  if (ro.trace && !(o.trace = run_open_trace(prog, &ro))) return EX_AVM_IOERR;
  status = node_run(vm, &o);
  if (o.trace && o.trace != stderr && fclose(o.trace) != 0 && status == EX_AVM_OK) status = EX_AVM_IOERR;
  return status;
}
