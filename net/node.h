/* net/node.h — avm node: one AVM runtime as a machine among others.  It
 * listens for peers and dials those it is told of (net/conn.c), serves the
 * calls they make to its objects, calls theirs for its programs, keeps a
 * location directory (object id -> machine) from create_notify and
 * destroy_notify, and can run a program once its peers are up.  Owns Node
 * and the event loop that drives both the network and the runtime's
 * scheduler. */
#ifndef AVM_NODE_H
#define AVM_NODE_H
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include "runtime/runtime.h"
#include "util/diag.h"

typedef struct NodePeer {
  const char *name, *host;
  int port;
} NodePeer;

typedef struct NodeOptions {
  const char *name;            /* the machine's name */
  int port;                    /* to listen on; 0: one the system picks */
  int prefix;                  /* the top 16 bits of its object ids; -1: the port */
  NodePeer *peers;
  size_t npeers;
  Module **load;               /* modules whose programs run at start */
  size_t nload;
  Module *run;                 /* run once the peers are up, result printed; or NULL */
  bool exit_after_run;
  uint64_t call_timeout_ms;    /* a remote call not answered by then gives nothing */
  size_t max_calls;            /* calls (and programs) a peer may have running here at once */
  bool allow_unsafe;
  int events_port;             /* serve the trace as Server-Sent Events (net/events.h); -1: no */
  FILE *trace;                 /* the trace, printed as it happens; or NULL */
  TraceFormat trace_format;
  Diag *diag;                  /* reports errors of the programs run */
} NodeOptions;

#define NODE_DEFAULT_CALL_TIMEOUT_MS 5000
/* Enough for PingPong 10,000 rounds deep between two nodes; a peer that
 * sends more at once is flooding. */
#define NODE_DEFAULT_MAX_CALLS 10000

/* Runs the node on [vm] (the modules linked, the prelude loaded) until it
 * is stopped (SIGINT, SIGTERM) or its program has run with
 * exit_after_run; returns the exit status (cli/exitcodes.h). */
int node_run(VM *vm, const NodeOptions *o);

#endif
