/* runtime/runtime.h — the AVM interpreter: the object store and its
 * metadata, transactions (overlay, read set, commit), object calls on an
 * explicit activation stack, programs interleaved at AVM instructions, the
 * trace, and the handler of every instruction family. */
#ifndef AVM_RUNTIME_H
#define AVM_RUNTIME_H
#include <signal.h>
#include <stdio.h>
#include "vm/vm.h"

/* {===== Errors and events =====} */

typedef enum AvmErr {
#define ERR(id, fam, name) AE_##id,
#include "runtime/errors.def"
#undef ERR
  AE__COUNT
} AvmErr;
extern const char *const avm_err_names[AE__COUNT];

typedef enum EventKind {
#define EV(id, name, text, json) EV_##id,
#include "runtime/events.def"
#undef EV
  EV__COUNT
} EventKind;
extern const char *const event_names[EV__COUNT];

/* An event as the views print it. */
typedef struct LogEntry {
  uint64_t ts;
  Symbol *controller;   /* executing controller when logged (NULL: none) */
  uint64_t id;          /* object or transaction */
  Value a, b;           /* input/output, or names (symbols), per event */
  uint8_t kind;         /* an EventKind */
  bool has_b;
} LogEntry;
_Static_assert(EV__COUNT <= 256, "event kinds fit LogEntry.kind");

/* The record of an event in the writer thread's batches: words, as few as
 * the event needs, since every line of them passes from the interpreter's
 * core to the writer's (a Battleship run's twelve events take 44 words,
 * not twelve 64-byte entries).
 *   header  kind | flags << 8 | ts << 16 (ts < 2^48, else REC_WIDE_TS)
 *   id
 *   controller   if REC_CTRL: it differs from the record before, in this batch
 *   ts           if REC_WIDE_TS
 *   a (2 words)  if REC_A: a is not ()
 *   b (2 words)  if REC_B: there is an output, or b is not ()
 * Who acts, which only the sequence chart draws, is not kept: the chart
 * is drawn as events happen. */
enum { REC_CTRL = 1, REC_WIDE_TS = 2, REC_A = 4, REC_B = 8, REC_HAS_B = 16 };
#define REC_MAX_WORDS 8

/* The views of the trace (avm run --trace=FORMAT). */
#define TRACE_FORMATS(X) X(TEXT, "text") X(JSON, "json") X(MERMAID, "mermaid")
typedef enum TraceFormat {
#define X(id, name) TF_##id,
  TRACE_FORMATS(X)
#undef X
  TF__COUNT
} TraceFormat;
extern const char *const trace_format_names[TF__COUNT];

typedef struct TraceWriter TraceWriter;
/* A view's state as it prints (runtime/trace.c). */
typedef struct TraceView TraceView;

/* Events are printed as they happen, so a trace costs no memory however
 * long the run.  A live trace writes each event at once; otherwise the
 * entries go to a writer thread that prints them in batches
 * (runtime/tracewriter.c), and the view is that thread's until the trace
 * stops. */
typedef struct Trace {
  uint64_t clock;
  FILE *out;            /* NULL: the trace is off */
  TraceFormat format;
  TraceView *view;
  TraceWriter *writer;  /* not live: the thread that prints */
  /* Not live: the rest of the batch being filled (a record starts only
   * before slot_end, REC_MAX_WORDS before its end), and the controller
   * its last record names. */
  uint64_t *slot, *slot_end;
  Symbol *slot_ctrl;
} Trace;

/* {===== Objects and the store =====} */

#define ROOT_ID 0

typedef struct Object {
  uint64_t id;
  Symbol *behavior;
  Value state;                 /* a list; () at first */
  uint64_t calls;              /* how many calls it has answered: its input
                                  history's length (the inputs themselves are
                                  in the trace, not kept per object) */
  Symbol *creating_controller;
  Symbol *controller;          /* current controller */
  Symbol *machine;
  uint64_t version;            /* bumped by every committed change */
} Object;

typedef struct Store {
  Object **slots;              /* open addressing by id; TOMBSTONE marks removals */
  size_t cap, count, used;
  /* Told of every object that enters ([present]) or leaves the store, when
   * set: a node keeps its peers' directories in step (runtime/remote.c). */
  void (*watch)(void *ctx, Object *o, bool present);
  void *watch_ctx;
} Store;

Object *store_get(const Store *s, uint64_t id);
void store_put(Store *s, Object *o);
void store_remove(Store *s, uint64_t id);
/* Calls [fn] on every live object in id order (for scry and listings). */
size_t store_sorted(const Store *s, Object ***out);

/* {===== Transactions =====} */

/* What a transaction has done to one object. */
typedef struct TxEntry {
  Object *obj;                 /* the store object, or the pending created one */
  bool created, destroyed, has_state, observed, transferred;
  uint64_t calls;              /* calls it answered in the transaction */
  Value state;
  Symbol *controller;          /* pending transfer target */
  uint64_t seen_version;       /* store version when first observed */
} TxEntry;

typedef struct Tx {
  uint64_t id;
  Symbol *controller;
  TxEntry **entries;           /* in first-touch order */
  size_t n, cap;
  TxEntry **index;             /* hash by object id over entries[0..indexed) */
  size_t index_cap, indexed;
} Tx;

/* {===== Programs and calls =====} */

/* One object call in progress: the callee runs on the program's fiber above
 * [floor]; the caller waits at its AVM instruction.  A program's
 * activations are an array (acts[0] is its root), not a heap object per
 * call: a million nested calls cost 72 bytes each, outside the collected
 * heap. */
typedef struct Activation {
  Object *self;                /* NULL for the program's root */
  Value input;
  uint64_t sender_id;
  Symbol *machine;
  Symbol *controller;          /* the executing controller */
  /* Narrow fields keep a million nested calls small: frame and stack
   * indices fit 32 bits (the stack reservation is 2^32 values). */
  uint32_t floor, caller_floor, caller_dest, journal_mark;
  bool has_sender;             /* false at a program's root */
  bool caller_returns;
} Activation;

static inline uint64_t act_self_id(const Activation *a) { return a->self ? a->self->id : ROOT_ID; }

typedef enum ProgStatus { PS_RUNNABLE, PS_BLOCKED, PS_DONE, PS_FAILED } ProgStatus;

typedef struct Journal Journal;
typedef struct Runtime Runtime;
typedef struct Program Program;
/* What an AVM instruction's handler did: answered (out set), failed, or
 * switched the program to other work (an object call began). */
typedef enum HResult { H_DONE, H_ERROR, H_SWITCHED } HResult;
typedef HResult (*Handler)(Runtime *rt, Program *p, Value *args, int argc, Value *out);
typedef struct RemoteOps RemoteOps;

struct Program {
  uint64_t id;
  Fiber *fiber;
  Activation *act;             /* the innermost activation: acts[nacts - 1] */
  Activation *acts;
  size_t nacts, acts_cap;
  StackMem acts_mem;
  Tx *tx;
  ProgStatus status;
  Value result;
  VMError error;
  uint64_t waiting_for;        /* program id when blocked in join */
  bool joined;                 /* some program has waited in join for it */
  bool has_response;           /* resume the fiber with [response] next turn */
  Value response;
  Journal *journal;
  Tx *spare_tx;                /* the last ended transaction, reused */
  Object *root;                /* the root's own state (id ROOT_ID), made on first use */
  bool session;                /* run by rt_run_session: ending well keeps its transaction open */
  uint64_t aborted_tx;         /* the transaction its end aborted, or 0 */
  struct Program *next;        /* scheduler ring */
  /* Distribution (runtime/remote.c): the request id of the remote call it
   * is blocked on (0: none); what to do once it has ended, and then
   * whether it leaves the ring (nobody holds a handle to join it); why
   * its outermost object call was rejected (a served call's Err). */
  uint64_t waiting_request;
  void (*on_done)(Runtime *rt, struct Program *p);
  void *done_ctx;
  bool detached;
  Value rejection;
  int64_t pure_view;           /* the registry version it switched to, or -1: the current one */
};

typedef struct PureFn { Symbol *name; Value proc; } PureFn;
typedef struct PureChange { uint64_t at; Symbol *name; Value proc; } PureChange;

struct Runtime {
  VM *vm;
  Store store;
  Value behaviors;             /* alist: (name . closure) */
  PureFn *pures;
  size_t npures, cappures;
  /* The registry's versions: 0 at the start, one more at every
   * register-pure and update-pure; every definition, with the version
   * from which it holds, so a program that switched to an older version
   * (switch-version) calls the functions as they were then. */
  uint64_t pure_version;
  PureChange *pure_log;
  size_t npure_log, cap_pure_log;
  Trace trace;
  Program *programs;           /* ring */
  Program *current;
  Program *spare;              /* an ended detached program whose memory the next one reuses */
  uint64_t next_object, next_tx, next_program;
  Symbol *machine;             /* this machine's name; its default controller has the same name */
  bool allow_unsafe;           /* unsafe instructions may run (avm run --allow-unsafe) */
  int64_t gas_limit;           /* < 0: unlimited */
  int64_t gas_used;
  bool out_of_gas;
  /* When set and nonzero (a signal handler's flag: the REPL's Ctrl-C), the
   * run stops at its next check point: an AVM instruction or the end of a
   * time slice (so set vm->slice too, or a loop without AVM instructions
   * never sees it).  The owner of the flag clears it. */
  const volatile sig_atomic_t *interrupt;
  uint64_t avm_instructions;   /* AVM instructions handled so far (for ,time) */
  const Handler *handlers;     /* by instruction, as allow_unsafe picks (set as a run starts) */
  /* The other machines, when this runtime is a node (avm node); NULL when
   * it is alone (avm run, the REPL). */
  const RemoteOps *remote;
  void *remote_ctx;
};

static inline bool rt_interrupted(const Runtime *rt) { return rt->interrupt && *rt->interrupt; }

Runtime *rt_new(VM *vm, const char *machine);
/* Registers the behaviors and pure functions a module declares. */
bool rt_load_module(Runtime *rt, Module *m, FILE *err);
/* Runs [fn] as the main program to its end; the result or error is left
 * in the returned program. */
Program *rt_run_main(Runtime *rt, Value fn);
/* Runs [fn] as the next main program of a session (the REPL runs each
 * input this way) to its end.  What the root of [prev] had carries over:
 * its own state, its machine, and a transaction it left open, which stays
 * open when this program ends well too.  When it fails (error, out of gas,
 * interrupt) the open transaction is aborted (its id in aborted_tx), the
 * object calls it was inside are undone, and every other program still
 * running is stopped, as the end of avm run would.  Programs spawned by a
 * session input that ended well go on running during the next ones.
 * [prev] NULL starts the session. */
Program *rt_run_session(Runtime *rt, Program *prev, Value fn);

/* {===== Programs driven from outside: a node's event loop =====} */

/* A new program that will run [fn] on [args] as its root, runnable but
 * not run yet (rt_run_ready runs it). */
Program *rt_start(Runtime *rt, Value fn, const Value *args, int argc);
/* Runs the runnable programs, at most [steps] steps (an AVM instruction
 * or a time slice each); true if some program is still runnable.  Unlike
 * run_main's round robin, a program runs until it ends or waits (a join, a
 * remote call), then the next runnable one takes over: a node serves one
 * call at a time, as the reference's single interpreter thread does, so a
 * call that stays on this machine is never interleaved with another.
 * Blocked programs wait: there is no deadlock while a reply may come.
 * Ended programs that are detached leave the ring.  Stops early when
 * (exit) was called. */
bool rt_run_ready(Runtime *rt, int64_t steps);
/* Program [p], blocked on a remote call, goes on with [response]. */
void rt_resume(Program *p, Value response);
/* Program [p], blocked on another machine's answer, goes on by raising
 * [error] (the other machine's error text, "Name: message") where it
 * waits: in a call that rejects the call, at the top it fails. */
void rt_resume_failed(Program *p, const char *error);
/* A program that came from another machine (teleport): fiber [f],
 * suspended at the teleport, goes on here with [response]; its root runs
 * as [controller] (NULL: this machine's). */
Program *rt_adopt(Runtime *rt, Fiber *f, Symbol *controller, Value response);
/* Program [p], blocked while it runs on another machine (it teleported),
 * has ended there: with [result] when [ok], else failed with [error] (a
 * GC string). */
void rt_end_elsewhere(Runtime *rt, Program *p, bool ok, Value result, const char *error);

/* {===== Shared by the handler families =====} */

#define INSTR(id, name, mn, mx, layer, safety, fam, gas) \
  HResult h_##id(Runtime *rt, Program *p, Value *args, int argc, Value *out);
#include "vm/instrs.def"
#undef INSTR

/* Whether program [p] is inside an object call (not at its root). */
static inline bool rt_in_call(const Program *p) { return p->nacts > 1; }
/* Pushes a zeroed activation on p's stack (the first one is the root);
 * NULL when there is no memory for it. */
Activation *act_push(Program *p);

/* Whether a loaded module declares behavior [name]. */
bool rt_has_behavior(Runtime *rt, Symbol *name);
/* Starts a call of object [o] with [input]: the callee's behavior runs on
 * p's fiber as a new activation. */
HResult rt_push_call(Runtime *rt, Program *p, Object *o, TxEntry *e, Value input);
Program *rt_spawn(Runtime *rt, Program *parent, Value thunk);
/* Defines pure function [name] (a declaration of a module being loaded):
 * it holds from the registry's current version on. */
void rt_pure_define(Runtime *rt, Symbol *name, Value proc);
Program *rt_program(Runtime *rt, uint64_t id);

bool rt_error(Program *p, AvmErr e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Event [k] at clock [ts] for the trace: printed at once when the trace is
 * live, else put in the writer thread's batch (what rt_log does inline,
 * except for the chart and a full batch). */
void trace_event(Runtime *rt, Program *p, uint64_t ts, EventKind k, uint64_t id, Value a, Value b, bool has_b);
/* Starts printing the trace of what runs next on [out] in [format]: each
 * event at once when [live], else in batches by a thread of its own. */
void trace_start(Runtime *rt, FILE *out, TraceFormat format, bool live);
/* Ends the view (closing what it opened) and flushes; false on a write error. */
bool trace_stop(Runtime *rt);
/* Parses a format name; false if there is none such. */
bool trace_format_parse(const char *name, TraceFormat *out);

/* An object call begins: the sequence-chart view draws its request (the
 * only view that does; call it only for that one). */
void trace_call_begin(Runtime *rt, Program *p);
/* Prints entry [e] in text or JSON view [vw] and writes what is due (by
 * the interpreter when the trace is live, else by the writer thread). */
void trace_write(TraceView *vw, const LogEntry *e);

/* The writer thread of a trace that is not live (runtime/tracewriter.c).
 * Start gives the first batch to fill, in [t->slot]; NULL when no thread
 * can be made (the trace is then written as it happens). */
TraceWriter *tracewriter_start(Trace *t);
/* Hands the full batch to the thread and gives the next one. */
void tracewriter_pass(TraceWriter *w, Trace *t);
/* Hands over what is filled, waits until the thread has written it all,
 * and ends the thread. */
void tracewriter_stop(TraceWriter *w, Trace *t);

/* Object lookup as program [p] sees it (its transaction's creates included,
 * destroys not yet applied). */
Object *rt_find(Runtime *rt, Program *p, uint64_t id, TxEntry **entry);
Value rt_state_of(Program *p, Object *o, TxEntry *e);
Symbol *rt_controller_of(Object *o, TxEntry *e);
/* The controller program [p] executes under: its activation's, else the
 * machine's own. */
static inline Symbol *rt_executing_controller(Runtime *rt, Program *p) {
  return p->act && p->act->controller ? p->act->controller : rt->machine;
}

static inline Symbol *log_controller(Runtime *rt, Program *p) {
  return !p ? NULL : p->tx ? p->tx->controller : rt_executing_controller(rt, p);
}

/* Entry [e] of event [k] (the chart also draws who acts: trace_event
 * passes that along). */
static inline void log_entry_fill(LogEntry *e, Runtime *rt, Program *p, uint64_t ts, EventKind k, uint64_t id,
                                  Value a, Value b, bool has_b) {
  e->ts = ts;
  e->kind = k;
  e->id = id;
  v_copy(&e->a, &a);
  v_copy(&e->b, &b);
  e->has_b = has_b;
  e->controller = log_controller(rt, p);
}

/* The record of event [k] at t->slot, which has room for it. */
static inline void log_record_put(Trace *t, Runtime *rt, Program *p, uint64_t ts, EventKind k, uint64_t id,
                                  Value a, Value b, bool has_b) {
  uint64_t *w = t->slot, *at = w + 2;
  uint64_t flags = has_b ? REC_HAS_B : 0;
  Symbol *ctrl = log_controller(rt, p);
  w[1] = id;
  if (ctrl != t->slot_ctrl) {
    flags |= REC_CTRL;
    *at++ = (uintptr_t)ctrl;
    t->slot_ctrl = ctrl;
  }
  if (ts >> 48) {
    flags |= REC_WIDE_TS;
    *at++ = ts;
  }
  if (a.tag != T_NIL) {
    flags |= REC_A;
    at[0] = a.tag;
    at[1] = a.as.u;
    at += 2;
  }
  if (has_b || b.tag != T_NIL) {
    flags |= REC_B;
    at[0] = b.tag;
    at[1] = b.as.u;
    at += 2;
  }
  w[0] = (uint64_t)k | flags << 8 | ts << 16;
  t->slot = at;
}

/* An event happens: it takes the next clock tick, and is printed when the
 * trace is on (with it off, an event costs the tick).  In a traced run,
 * the record goes straight into the writer thread's batch. */
static inline void rt_log(Runtime *rt, Program *p, EventKind k, uint64_t id, Value a, Value b, bool has_b) {
  Trace *t = &rt->trace;
  uint64_t ts = t->clock++;
  /* Without a writer thread both bounds are NULL: one test serves both. */
  if ((uintptr_t)t->slot < (uintptr_t)t->slot_end) {
    log_record_put(t, rt, p, ts, k, id, a, b, has_b);
    return;
  }
  if (t->out) trace_event(rt, p, ts, k, id, a, b, has_b);
}
TxEntry *tx_find_entry_in(Tx *tx, uint64_t id);
/* The entry of object [id] in transaction [tx] (NULL for none): asked at
 * nearly every AVM instruction, mostly with no transaction open. */
static inline TxEntry *tx_find_entry(Tx *tx, uint64_t id) { return tx && tx->n ? tx_find_entry_in(tx, id) : NULL; }
/* The entry of [o] in p's transaction, created if needed (journaled). */
TxEntry *tx_entry(Program *p, Object *o, TxEntry *e);
/* Records that the transaction read [o] (for validation at commit). */
void tx_observe_in(Program *p, Object *o, TxEntry *e);
static inline void tx_observe(Program *p, Object *o, TxEntry *e) {
  if (p->tx && !(e && (e->created || e->observed))) tx_observe_in(p, o, e);
}
bool tx_check_controller(Program *p, Object *o, TxEntry *e);
void tx_abort(Runtime *rt, Program *p);
bool rt_check_authority(Runtime *rt, Program *p, Object *o, TxEntry *e, const char *who);
/* META: the association list reflect and scry show of an object. */
Value rt_meta(Object *o);
/* Runs [proc] on [args] to completion in a nested fiber that may not use
 * AVM instructions or exit; false with the error message in *err. */
bool rt_apply_pure(Runtime *rt, Value proc, Value *args, int argc, Value *out, const char **err);

/* The undo journal: every store and overlay change made inside an object
 * call, so a rejected call can be undone whole. */
size_t journal_mark(Program *p);
void journal_reset(Program *p);
/* Before o->calls is incremented (an answered call). */
void journal_calls(Program *p, Object *o);
void journal_object(Program *p, Object *o);
void journal_created(Program *p, Object *o);
void journal_destroyed(Program *p, Object *o);
void journal_entry(Program *p, TxEntry *e, bool is_new);
/* Before a call opens or closes the program's transaction. */
void journal_tx(Program *p);
void journal_rollback(Runtime *rt, Program *p, size_t mark);

/* {===== Other machines (runtime/remote.c) =====} */

/* What the node (net/node.c) does for a runtime that is one machine among
 * several.  Called on the runtime's thread, from inside a handler. */
struct RemoteOps {
  /* Sends a call of [target], an object not in this store, made by [p]:
   * returns the request id its answer will carry, or 0 when no machine is
   * known to hold [target] (*why: a reason worth tracing, or NULL when the
   * object is simply unknown). */
  uint64_t (*call)(void *ctx, Program *p, uint64_t target, Value input, const char **why);
  /* Sends object [o] of this store to [machine] for [p] (move-object);
   * returns the request id of the answer, or 0 (*why: the reason) when
   * it cannot go there.  Until the answer the object is in neither store. */
  uint64_t (*move)(void *ctx, Program *p, Object *o, Symbol *machine, const char **why);
  /* The machine that holds [id], an object not in this store, or NULL. */
  Symbol *(*locate)(void *ctx, uint64_t id);
  /* Sends program [p], suspended at a teleport, to go on on [machine];
   * returns the request id of the answer, or 0 (*why: the reason) when it
   * cannot go there.  Once there, [p] stays blocked here until it ends
   * there (rt_end_elsewhere). */
  uint64_t (*teleport)(void *ctx, Program *p, Symbol *machine, const char **why);
  /* Asks the machine that holds [id], an object not in this store, to
   * move it here for [p] (fetch); returns the request id of the answer,
   * or 0 (*why: the reason, or NULL when no machine is known to hold it). */
  uint64_t (*fetch)(void *ctx, Program *p, uint64_t id, const char **why);
  /* Asks the machine that holds [id], an object not in this store, to run
   * controller instruction [instr] (get-controller, transfer-object,
   * freeze) on it, with [arg] (transfer-object's controller) and [p]'s
   * executing controller as the authority; returns the request id of
   * the answer, or 0 (*why: the reason). */
  uint64_t (*object_op)(void *ctx, Program *p, uint64_t id, int instr, Value arg, const char **why);
};

/* h_CALL of an object this store does not have: the call goes to the
 * machine that holds it, and [p] waits (H_SWITCHED) until rt_resume; or
 * (nothing) at once when no machine holds it. */
HResult rt_call_remote(Runtime *rt, Program *p, uint64_t target, Value input, Value *out);
/* move-object of [o], here, to [machine], another machine: [p] waits
 * until the other machine has taken it (true) or not (false). */
HResult rt_move_remote(Runtime *rt, Program *p, Object *o, Symbol *machine, Value *out);
/* teleport of [p] to [machine], another machine: [p] waits until the
 * other machine has taken it (true there) or not (false here). */
HResult rt_teleport_remote(Runtime *rt, Program *p, Symbol *machine, Value *out);
/* fetch of [id], an object another machine holds: [p] waits until it is
 * here (true) or cannot come (false). */
HResult rt_fetch_remote(Runtime *rt, Program *p, uint64_t id, Value *out);
/* Controller instruction [instr] on [id], an object another machine
 * holds: [p] waits for that machine's answer; [failed] when there is none. */
HResult rt_object_op_remote(Runtime *rt, Program *p, uint64_t id, int instr, Value arg, Value failed, Value *out);
/* A program that serves a call of object [target] with [input] for object
 * [sender] of machine [machine]: it runs [serve] (a procedure of two
 * arguments that calls the first with the second), with [sender] in
 * place of its root, so the callee sees it as its sender. */
Program *rt_serve(Runtime *rt, Value serve, uint64_t target, Value input, uint64_t sender, Symbol *machine);

#endif
