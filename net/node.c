/* net/node.c — avm node (net/node.h): a runtime on a libuv loop, serving
 * its objects to peers and calling theirs.
 *
 * How the loop and the scheduler interleave: the runtime's programs (the
 * --run program, one per call served for a peer, those they spawn) share
 * one scheduler ring.  A check handle runs a batch of scheduler steps (an
 * AVM instruction or a time slice each) in every loop turn that has work,
 * right after the poll for I/O: a frame that starts or resumes a program
 * is acted on in the turn it arrives.  While some program is still
 * runnable an idle handle is active too, so the next poll does not wait.
 * A remote call blocks its program (PS_BLOCKED, like join) and sends a
 * frame; the loop goes on serving: other programs, other requests, calls
 * back into this node.  The call_response, a timeout or the connection
 * going down resumes the program with (just out) or nothing.  When no
 * program is runnable the loop sleeps in poll until a frame or a timer
 * wakes it.
 *
 * Where an object is: in this store, else the directory (create_notify),
 * else the machine whose prefix its id carries (learned from create_notify
 * and assumed from each --peer's port, as the reference takes the port for
 * the prefix).  Calls go to that machine on the connection this node
 * dialled, else on one it accepted from that machine; answers go back on
 * the connection the call came on. */
#include <gc.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>
#include "cli/exitcodes.h"
#include "compiler/compiler.h"
#include "net/conn.h"
#include "net/continuation.h"
#include "net/events.h"
#include "net/node.h"

/* Scheduler steps per loop turn: enough to amortise the turn, few enough
 * that a busy node still answers its sockets promptly. */
#define STEPS_PER_TURN 256
/* The VM's time slice in a node: a program that runs without AVM
 * instructions still gives the loop a turn this often. */
#define NODE_SLICE 20000

typedef struct Node {
  uv_loop_t loop;
  uv_check_t check;            /* runs the programs after each poll */
  uv_idle_t idle;              /* active while a program is runnable: the poll does not wait */
  bool work;                   /* some program may be runnable */
  uv_signal_t sigint, sigterm;
  uv_timer_t grace;            /* the wait for peers' greetings */
  Net *net;
  Events *events;              /* --events, or NULL */
  FILE *events_out;            /* the trace stream that feeds it */
  Runtime *rt;
  VM *vm;
  const NodeOptions *opt;
  Symbol *name;
  String *name_str;            /* the name as the wire carries it */
  uint64_t prefix;
  Value serve;                 /* (lambda (target input) (call target input)) */
  Value run_op;                /* runs a controller instruction for a peer (object_op) */
  IdMap directory;             /* object id -> Symbol *machine: objects elsewhere */
  IdMap prefixes;              /* id prefix -> Symbol *machine */
  IdMap pending;               /* request id -> Pending: our calls in flight */
  Codebase code;               /* the modules held here, for teleported programs */
  uint64_t next_request;
  bool main_started;
  bool quiet;                  /* store changes not to announce (a move) */
  bool stopping;
  int status;                  /* the exit status */
} Node;

/* What a request this node sent asks for. */
typedef enum PendingKind { PK_CALL, PK_MOVE, PK_FETCH, PK_OP, PK_TELEPORT } PendingKind;

/* A request this node sent and waits for.  Holds a libuv timer, so it is
 * uncollectable, and freed once the timer has closed. */
typedef struct Pending {
  uv_timer_t timer;
  Node *node;
  uint64_t request;
  uint64_t conn;               /* the serial of the connection it went on */
  Program *p;
  uint64_t target;
  Value input;
  Symbol *machine;
  PendingKind kind;
  Object *moving;              /* PK_MOVE: the object */
  Value failed;                /* PK_OP: the instruction's answer when there is none */
  bool away;                   /* PK_TELEPORT taken there: [p] runs there until teleport_done */
  uint64_t fetch_conn, fetch_request;  /* PK_MOVE for a peer's fetch (no [p]): whom to answer */
} Pending;

/* A call served for a peer: where its answer goes. */
typedef struct Served {
  Node *node;
  uint64_t request;
  uint64_t conn;
} Served;

static uint64_t id_prefix(uint64_t id) { return id >> 48; }
static void node_stop(Node *n);

/* {===== Running programs =====} */

static void idle_cb(uv_idle_t *h) { (void)h; }

static void check_cb(uv_check_t *h) {
  Node *n = h->data;
  if (!n->work) return;
  bool more = rt_run_ready(n->rt, STEPS_PER_TURN);
  fflush(stdout);  /* what the programs display is seen as it comes */
  if (n->stopping) return;  /* the --run program ended the node */
  if (n->vm->exit_requested) {
    /* (exit N) ends the node, as it ends avm run. */
    n->status = n->vm->exit_requested - 1;
    node_stop(n);
    return;
  }
  if (more) uv_idle_start(&n->idle, idle_cb);
  else uv_idle_stop(&n->idle);
  n->work = more;
}

/* Some program may have become runnable: let the loop run it (this turn,
 * if the loop is in its poll). */
static void wake(Node *n) {
  if (n->work || n->stopping) return;
  n->work = true;
  uv_idle_start(&n->idle, idle_cb);
}

/* {===== Where objects are =====} */

static Symbol *machine_of(Node *n, uint64_t id) {
  Symbol *m = idmap_get(&n->directory, id);
  return m ? m : idmap_get(&n->prefixes, id_prefix(id));
}

typedef struct FindConn { Symbol *machine; Conn *found; } FindConn;

static void find_accepted(void *ctx, uint64_t key, void *val) {
  (void)key;
  FindConn *f = ctx;
  Conn *c = val;
  if (!f->found && c->machine == f->machine) f->found = c;
}

/* The connection to send to [machine] on, or NULL: the one we dialled,
 * else one it dialled. */
static Conn *conn_to(Node *n, Symbol *machine) {
  for (size_t j = 0; j < n->net->ndials; j++)
    if (n->net->dials[j]->name == machine && n->net->dials[j]->conn) return n->net->dials[j]->conn;
  FindConn f = { machine, NULL };
  idmap_each(&n->net->conns, find_accepted, &f);
  return f.found;
}

/* What [c] said shows it speaks for [machine], whose ids may carry the
 * prefix of [id] (0: none said). */
static void learn(Node *n, Conn *c, Symbol *machine, uint64_t id) {
  if (!machine || machine == n->name) return;
  if (!c->machine) c->machine = machine;
  if (id && id_prefix(id) != n->prefix && !idmap_get(&n->prefixes, id_prefix(id)))
    idmap_put(&n->prefixes, id_prefix(id), machine);
}

/* {===== Directory notices =====} */

static void send_each(void *ctx, uint64_t key, void *val) {
  (void)key;
  conn_send(val, ctx);
}

/* The store's watch: an object that appears here or leaves is announced
 * to every connected peer. */
static void store_changed(void *ctx, Object *o, bool present) {
  Node *n = ctx;
  if (n->quiet) return;
  WireMsg m = { .kind = present ? MSG_CREATE_NOTIFY : MSG_DESTROY_NOTIFY, .object_id = o->id,
                .machine_id = n->name_str };
  idmap_each(&n->net->conns, send_each, &m);
}

/* A peer that connects later learns of the objects already here. */
static void announce_all(Node *n, Conn *c) {
  Object **objs;
  size_t count = store_sorted(&n->rt->store, &objs);
  for (size_t j = 0; j < count && !c->closing; j++) {
    WireMsg m = { .kind = MSG_CREATE_NOTIFY, .object_id = objs[j]->id, .machine_id = n->name_str };
    conn_send(c, &m);
  }
}

/* {===== Calls to other machines =====} */

static void pending_freed(uv_handle_t *h) { GC_FREE(h->data); }

/* Puts [o] in the store or takes it out without telling the peers: a
 * moving object is announced by the machine that takes it. */
static void quietly(Node *n, Object *o, bool present) {
  n->quiet = true;
  if (present) store_put(&n->rt->store, o);
  else store_remove(&n->rt->store, o->id);
  n->quiet = false;
}

static void pending_close(Pending *pd) {
  idmap_remove(&pd->node->pending, pd->request);
  uv_timer_stop(&pd->timer);
  uv_close((uv_handle_t *)&pd->timer, pending_freed);
}

/* The answer to a teleport: taken there (the program is away until its
 * teleport_done), or not ([why]: teleport gives false). */
static void teleport_answered(Pending *pd, bool ok, const char *why) {
  Node *n = pd->node;
  Program *p = pd->p;
  if (pd->away) {  /* the machine it runs on has gone: so has the program */
    pending_close(pd);
    if (p->status != PS_BLOCKED || p->waiting_request != pd->request) return;
    char *msg = GC_MALLOC_ATOMIC(512);
    snprintf(msg, 512, "the program ran on machine %s, which is gone: %s", pd->machine->name, why);
    rt_end_elsewhere(n->rt, p, false, v_nil(), msg);
  } else if (ok) {
    pd->away = true;
    uv_timer_stop(&pd->timer);  /* a program may run there as long as it needs */
    rt_log(n->rt, p, EV_EXECUTION_MOVED, 0, v_sym(p->act->machine), v_sym(pd->machine), true);
    return;
  } else {
    pending_close(pd);
    char buf[512];
    snprintf(buf, sizeof buf, "teleport to machine %s: %s", pd->machine->name, why);
    rt_log(n->rt, p, EV_ERROR_OCCURRED, 0, v_cstring(buf), v_nil(), false);
    rt_resume(p, v_bool(false));
  }
  wake(n);
}

/* Ends pending request [pd]: answered [ok] with [value], or failed
 * ([why] says why, for the trace). */
static void reply(Node *n, uint64_t conn, uint64_t request, bool ok, Value v, const char *err);

/* The failure of a request the other machine answered with Err TEXT. */
#define REMOTE_ERROR "remote error: "

/* Whether [why] is an AVM error the instruction raised over there
 * ("remote error: UnauthorizedTransfer: ..."), rather than a reason it
 * did not run. */
static bool raised_there(const char *why) {
  if (strncmp(why, REMOTE_ERROR, strlen(REMOTE_ERROR)) != 0) return false;
  const char *text = why + strlen(REMOTE_ERROR);
  for (int e = 0; e < AE__COUNT; e++) {
    size_t len = strlen(avm_err_names[e]);
    if (strncmp(text, avm_err_names[e], len) == 0 && text[len] == ':') return true;
  }
  return false;
}

static void pending_end(Pending *pd, bool ok, Value value, const char *why) {
  if (pd->kind == PK_TELEPORT) {
    teleport_answered(pd, ok, why);
    return;
  }
  Node *n = pd->node;
  pending_close(pd);
  Runtime *rt = n->rt;
  Object *o = pd->moving;
  if (o) {
    if (ok) idmap_put(&n->directory, o->id, pd->machine);
    else quietly(n, o, true);  /* it stays here */
  }
  if (pd->fetch_request) {  /* moved for a peer's fetch: the answer is the peer's */
    if (ok) rt_log(rt, NULL, EV_OBJECT_MOVED, o->id, v_sym(n->name), v_sym(pd->machine), true);
    reply(n, pd->fetch_conn, pd->fetch_request, ok, v_bool(true), why);
    return;
  }
  Program *p = pd->p;
  if (p->status != PS_BLOCKED || p->waiting_request != pd->request) return;  /* it has ended meanwhile */
  if (!ok && pd->kind == PK_OP && raised_there(why)) {
    rt_resume_failed(p, why + strlen(REMOTE_ERROR));
  } else if (!ok) {
    static const char *const what[] = { [PK_CALL] = "call of", [PK_MOVE] = "move of", [PK_FETCH] = "fetch of",
                                        [PK_OP] = "controller instruction on" };
    static const char *const where[] = { [PK_CALL] = "on", [PK_MOVE] = "to", [PK_FETCH] = "from", [PK_OP] = "on" };
    char buf[512];
    snprintf(buf, sizeof buf, "%s obj:%llu %s machine %s: %s", what[pd->kind], (unsigned long long)pd->target,
             where[pd->kind], pd->machine->name, why);
    rt_log(rt, p, EV_ERROR_OCCURRED, pd->target, v_cstring(buf), v_nil(), false);
    rt_resume(p, pd->kind == PK_CALL ? v_nothing() : pd->kind == PK_OP ? pd->failed : v_bool(false));
  } else if (pd->kind == PK_MOVE) {
    rt_log(rt, p, EV_OBJECT_MOVED, o->id, v_sym(n->name), v_sym(pd->machine), true);
    rt_resume(p, v_bool(true));
  } else if (pd->kind == PK_FETCH) {
    rt_log(rt, p, EV_OBJECT_FETCHED, pd->target, v_sym(n->name), v_nil(), false);
    rt_resume(p, v_bool(true));
  } else if (pd->kind == PK_OP) {
    rt_resume(p, value);  /* the holder traced what it did */
  } else {
    rt_log(rt, p, EV_OBJECT_CALLED, pd->target, pd->input, value, true);
    rt_resume(p, v_just(value));
  }
  wake(n);
}

static void pending_timeout(uv_timer_t *t) {
  Pending *pd = t->data;
  char why[64];
  snprintf(why, sizeof why, "no answer within %llu ms", (unsigned long long)pd->node->opt->call_timeout_ms);
  pending_end(pd, false, v_nil(), why);
}

/* Waits for the answer to [request], sent on [c] for [p]. */
static Pending *await(Node *n, Conn *c, uint64_t request, Program *p, uint64_t target, Symbol *machine) {
  Pending *pd = GC_MALLOC_UNCOLLECTABLE(sizeof *pd);
  memset(pd, 0, sizeof *pd);
  *pd = (Pending){ .node = n, .request = request, .conn = c->serial, .p = p, .target = target, .machine = machine };
  uv_timer_init(&n->loop, &pd->timer);
  pd->timer.data = pd;
  uv_timer_start(&pd->timer, pending_timeout, n->opt->call_timeout_ms, 0);
  idmap_put(&n->pending, request, pd);
  return pd;
}

/* Sends request [m] (its request id is filled in) on [c] to [machine]
 * for [p], and waits for its answer as a request of [kind] about object
 * [target]; NULL (*why = [unsent]) if it could not be sent. */
static Pending *send_request(Node *n, Conn *c, WireMsg *m, Program *p, PendingKind kind, uint64_t target,
                             Symbol *machine, const char *unsent, const char **why) {
  m->request_id = ++n->next_request;
  if (!conn_send(c, m)) {
    *why = unsent;
    return NULL;
  }
  Pending *pd = await(n, c, m->request_id, p, target, machine);
  pd->kind = kind;
  return pd;
}

/* RemoteOps.call: sends the call to the machine that holds [target]. */
static uint64_t remote_call(void *ctx, Program *p, uint64_t target, Value input, const char **why) {
  Node *n = ctx;
  Symbol *machine = machine_of(n, target);
  if (!machine || machine == n->name) return 0;
  Conn *c = conn_to(n, machine);
  if (!c) {
    *why = "its machine is not connected";
    return 0;
  }
  WireMsg m = { .kind = MSG_CALL, .target = target, .input = input, .sender = act_self_id(p->act),
                .sender_machine = n->name_str };
  Pending *pd = send_request(n, c, &m, p, PK_CALL, target, machine, "the call could not be sent", why);
  if (!pd) return 0;
  pd->input = input;
  return pd->request;
}

static String *string_of(Symbol *s) { return s ? v_string(s->name, s->len).as.str : NULL; }

/* Sends object [o] on [c] to the machine there, for [p] (or for a peer's
 * fetch): until the answer it is in neither store.  NULL (*why: the
 * reason) if it cannot go. */
static Pending *send_object(Node *n, Conn *c, Program *p, Object *o, Symbol *machine, const char **why) {
  WireMsg m = { .kind = MSG_MOVE, .object_id = o->id, .behavior = string_of(o->behavior), .state = o->state,
                .creating_controller = string_of(o->creating_controller), .controller = string_of(o->controller),
                .version = o->version, .calls = o->calls, .sender_machine = n->name_str };
  Pending *pd = send_request(n, c, &m, p, PK_MOVE, o->id, machine, "the object could not be sent", why);
  if (!pd) return NULL;
  pd->moving = o;
  quietly(n, o, false);
  return pd;
}

/* The connection to [machine] for a request only nodes of ours know;
 * NULL (*why: the reason) if there is none. */
static Conn *ours_to(Node *n, Symbol *machine, const char **why) {
  Conn *c = conn_to(n, machine);
  if (!c) *why = "the machine is not connected";
  else if (!c->ours) *why = "the machine is not an avm node (it would not understand)";
  else return c;
  return NULL;
}

/* The connection to the machine that holds [id], an object not here,
 * for a request only nodes of ours know (*machine: that machine); NULL
 * when none is known to hold it, or (*why: the reason) it cannot be
 * asked. */
static Conn *holder_of(Node *n, uint64_t id, Symbol **machine, const char **why) {
  *machine = machine_of(n, id);
  if (!*machine || *machine == n->name) return NULL;
  return ours_to(n, *machine, why);
}

/* RemoteOps.move: sends object [o] to [machine], a node of ours. */
static uint64_t remote_move(void *ctx, Program *p, Object *o, Symbol *machine, const char **why) {
  Node *n = ctx;
  Conn *c = ours_to(n, machine, why);
  Pending *pd = c ? send_object(n, c, p, o, machine, why) : NULL;
  return pd ? pd->request : 0;
}

/* RemoteOps.fetch: asks the machine that holds [id] to move it here. */
static uint64_t remote_fetch(void *ctx, Program *p, uint64_t id, const char **why) {
  Node *n = ctx;
  Symbol *machine;
  Conn *c = holder_of(n, id, &machine, why);
  if (!c) return 0;
  WireMsg m = { .kind = MSG_FETCH, .object_id = id, .sender_machine = n->name_str };
  Pending *pd = send_request(n, c, &m, p, PK_FETCH, id, machine, "the request could not be sent", why);
  return pd ? pd->request : 0;
}

static Symbol *remote_locate(void *ctx, uint64_t id) {
  Node *n = ctx;
  Symbol *m = machine_of(n, id);
  return m == n->name ? NULL : m;
}

/* RemoteOps.teleport: sends program [p], suspended at its teleport, to
 * [machine], a node of ours. */
static uint64_t remote_teleport(void *ctx, Program *p, Symbol *machine, const char **why) {
  Node *n = ctx;
  Conn *c = ours_to(n, machine, why);
  if (!c) return 0;
  Buf text = { 0 };
  cont_capture(&n->code, p, &text);
  WireMsg m = { .kind = MSG_TELEPORT, .sender_machine = n->name_str, .continuation = v_string(text.p, text.n).as.str };
  buf_free(&text);
  Pending *pd = send_request(n, c, &m, p, PK_TELEPORT, 0, machine, "the program could not be sent", why);
  return pd ? pd->request : 0;
}

/* RemoteOps.object_op: asks the holder of [id] to run controller
 * instruction [instr] on it. */
static uint64_t remote_object_op(void *ctx, Program *p, uint64_t id, int instr, Value arg, const char **why) {
  Node *n = ctx;
  Symbol *machine;
  Conn *c = holder_of(n, id, &machine, why);
  if (!c) return 0;
  WireMsg m = { .kind = MSG_OBJECT_OP, .object_id = id, .op = v_cstring(instr_info[instr].name).as.str,
                .controller = arg.tag == T_SYM ? string_of(arg.as.sym) : NULL,
                .authority = string_of(p->tx ? p->tx->controller : rt_executing_controller(n->rt, p)),
                .sender_machine = n->name_str };
  Pending *pd = send_request(n, c, &m, p, PK_OP, id, machine, "the request could not be sent", why);
  if (!pd) return 0;
  pd->failed = instr == IN_TRANSFER_OBJECT ? v_bool(false) : v_nothing();
  return pd->request;
}

static const RemoteOps remote_ops = { .call = remote_call, .move = remote_move, .locate = remote_locate,
                                      .teleport = remote_teleport, .fetch = remote_fetch,
                                      .object_op = remote_object_op };

static void answer(Node *n, WireMsg *m) {
  Pending *pd = idmap_get(&n->pending, m->request_id);
  if (!pd || pd->away) return;  /* timed out already, or never ours */
  if (m->result.ok) {
    pending_end(pd, true, m->result.value, NULL);
  } else {
    char why[512];
    snprintf(why, sizeof why, REMOTE_ERROR "%s", m->result.error ? m->result.error->data : "");
    pending_end(pd, false, v_nil(), why);
  }
}

typedef struct Gone { uint64_t conn; const char *reason; } Gone;

static void fail_if_on(void *ctx, uint64_t key, void *val) {
  (void)key;
  Gone *g = ctx;
  Pending *pd = val;
  if (pd->conn != g->conn) return;
  char why[300];
  snprintf(why, sizeof why, "the connection went down (%s)", g->reason);
  pending_end(pd, false, v_nil(), why);
}

/* {===== Calls served for other machines =====} */

static void reply(Node *n, uint64_t conn, uint64_t request, bool ok, Value v, const char *err) {
  Conn *c = net_conn(n->net, conn);
  if (!c) return;  /* the caller has gone: nobody to answer */
  WireMsg m = { .kind = MSG_CALL_RESPONSE, .request_id = request };
  m.result.ok = ok;
  if (ok) m.result.value = v;
  else m.result.error = v_cstring(err).as.str;
  conn_send(c, &m);
}

/* The connection a served program came on, which it no longer holds a
 * place of; NULL if that connection has gone. */
static Conn *served_conn(Served *s) {
  Conn *c = net_conn(s->node->net, s->conn);
  if (c) c->serving--;
  return c;
}

/* Whether [c] may have one more call (or program) running here; if not,
 * [request] is answered so. */
static bool may_serve(Node *n, Conn *c, uint64_t request) {
  if (c->serving < n->opt->max_calls) {
    c->serving++;
    return true;
  }
  char err[96];
  snprintf(err, sizeof err, "too many calls in flight from this peer (at most %zu)", n->opt->max_calls);
  reply(n, c->serial, request, false, v_nil(), err);
  return false;
}

/* Program [p] serves request [request] of [c]: once it has ended, [done]
 * answers; nobody joins it. */
static void serve_with(Node *n, Conn *c, uint64_t request, Program *p, void (*done)(Runtime *rt, Program *p)) {
  Served *s = GC_MALLOC(sizeof *s);
  *s = (Served){ .node = n, .request = request, .conn = c->serial };
  p->done_ctx = s;
  p->on_done = done;
  p->detached = true;
}

/* Answers served request [s] with Err, the text in [b] (freed). */
static void reply_err(Served *s, Buf *b) {
  buf_putc(b, '\0');
  reply(s->node, s->conn, s->request, false, v_nil(), b->p);
  buf_free(b);
}

/* A served call's program has ended: its answer goes back. */
static void served_done(Runtime *rt, Program *p) {
  (void)rt;
  Served *s = p->done_ctx;
  Node *n = s->node;
  if (!served_conn(s)) return;  /* the caller has gone: nobody to answer */
  if (p->status == PS_DONE && v_is_just(p->result)) {
    reply(n, s->conn, s->request, true, v_from_just(p->result), NULL);
    return;
  }
  Buf b = { 0 };
  if (p->status == PS_DONE) {
    if (p->rejection.tag == T_STR) buf_printf(&b, "call rejected: %s", p->rejection.as.str->data);
    else buf_puts(&b, "call rejected");
  } else {
    vm_error_text(&b, &p->error);
  }
  reply_err(s, &b);
}

static void serve(Node *n, Conn *c, WireMsg *m) {
  learn(n, c, m->sender_machine ? sym_intern(m->sender_machine->data, m->sender_machine->len) : NULL, m->sender);
  if (!store_get(&n->rt->store, m->target)) {
    char err[64];
    snprintf(err, sizeof err, "object not found: obj:%llu", (unsigned long long)m->target);
    reply(n, c->serial, m->request_id, false, v_nil(), err);
    return;
  }
  if (!may_serve(n, c, m->request_id)) return;
  Symbol *machine = c->machine ? c->machine : sym_intern_cstr("unknown");
  Program *p = rt_serve(n->rt, n->serve, m->target, m->input, m->sender, machine);
  serve_with(n, c, m->request_id, p, served_done);
  p->rejection = v_nil();
  if (p->status == PS_FAILED) served_done(n->rt, p);
  else wake(n);
}

/* A controller instruction run here for a peer has ended: its result,
 * or the error it raised, goes back. */
static void op_done(Runtime *rt, Program *p) {
  (void)rt;
  Served *s = p->done_ctx;
  if (!served_conn(s)) return;
  if (p->status == PS_DONE) {
    reply(s->node, s->conn, s->request, true, p->result, NULL);
    return;
  }
  Buf b = { 0 };
  vm_error_text(&b, &p->error);
  reply_err(s, &b);
}

/* A peer's controller instruction on an object here: it runs as a program
 * of this node whose executing controller is the peer's program's. */
static void serve_op(Node *n, Conn *c, WireMsg *m) {
  if (m->sender_machine) learn(n, c, sym_intern(m->sender_machine->data, m->sender_machine->len), 0);
  static const int ops[] = { IN_GET_CONTROLLER, IN_TRANSFER_OBJECT, IN_FREEZE };
  bool known = false;
  for (size_t j = 0; j < sizeof ops / sizeof *ops; j++) known |= m->op && strcmp(m->op->data, instr_info[ops[j]].name) == 0;
  char err[96];
  if (!known) {
    reply(n, c->serial, m->request_id, false, v_nil(), "object_op: not a controller instruction");
    return;
  }
  if (!store_get(&n->rt->store, m->object_id)) {
    snprintf(err, sizeof err, "object not found: obj:%llu", (unsigned long long)m->object_id);
    reply(n, c->serial, m->request_id, false, v_nil(), err);
    return;
  }
  if (!m->authority || !m->authority->len) {
    reply(n, c->serial, m->request_id, false, v_nil(), "object_op: no authority given");
    return;
  }
  if (!may_serve(n, c, m->request_id)) return;
  Value args[3] = { v_sym(sym_intern(m->op->data, m->op->len)), v_ref(T_OBJREF, m->object_id),
                    m->controller && m->controller->len ? v_sym(sym_intern(m->controller->data, m->controller->len))
                                                        : v_nil() };
  Program *p = rt_start(n->rt, n->run_op, args, 3);
  p->acts[0].controller = sym_intern(m->authority->data, m->authority->len);
  serve_with(n, c, m->request_id, p, op_done);
  wake(n);
}

/* A peer's fetch of an object here: it moves there, and the answer to
 * the fetch waits for the answer to the move. */
static void serve_fetch(Node *n, Conn *c, WireMsg *m) {
  Symbol *to = m->sender_machine ? sym_intern(m->sender_machine->data, m->sender_machine->len) : NULL;
  if (to) learn(n, c, to, 0);
  Object *o = store_get(&n->rt->store, m->object_id);
  const char *why = NULL;
  if (!o) {
    char err[64];
    snprintf(err, sizeof err, "object not found: obj:%llu", (unsigned long long)m->object_id);
    reply(n, c->serial, m->request_id, false, v_nil(), err);
    return;
  }
  Pending *pd = to && c->ours ? send_object(n, c, NULL, o, to, &why) : NULL;
  if (!pd) {
    reply(n, c->serial, m->request_id, false, v_nil(), why ? why : "the machine that asks is not an avm node");
    return;
  }
  pd->fetch_conn = c->serial;
  pd->fetch_request = m->request_id;
}

/* An object moved here by another machine (move-object there). */
static void take_object(Node *n, Conn *c, WireMsg *m) {
  Symbol *behavior = m->behavior ? sym_intern(m->behavior->data, m->behavior->len) : NULL;
  if (!behavior || !rt_has_behavior(n->rt, behavior)) {
    char err[128];
    snprintf(err, sizeof err, "no behavior named %s is loaded on machine %s", behavior ? behavior->name : "\"\"",
             n->name->name);
    reply(n, c->serial, m->request_id, false, v_nil(), err);
    return;
  }
  if (store_get(&n->rt->store, m->object_id)) {  /* never overwrite an object of ours */
    char err[128];
    snprintf(err, sizeof err, "object obj:%llu already lives on machine %s", (unsigned long long)m->object_id,
             n->name->name);
    reply(n, c->serial, m->request_id, false, v_nil(), err);
    return;
  }
  Symbol *from = m->sender_machine ? sym_intern(m->sender_machine->data, m->sender_machine->len) : NULL;
  if (from) learn(n, c, from, 0);
  Object *o = GC_MALLOC(sizeof *o);
  o->id = m->object_id;
  o->behavior = behavior;
  o->state = v_is_list(m->state) && !v_contains_proc(m->state) ? m->state : v_nil();  /* what set-state allows */
  o->calls = m->calls;
  o->version = m->version;
  o->creating_controller = m->creating_controller ? sym_intern(m->creating_controller->data, m->creating_controller->len) : n->name;
  o->controller = m->controller ? sym_intern(m->controller->data, m->controller->len) : n->name;
  o->machine = n->name;
  idmap_remove(&n->directory, o->id);
  store_put(&n->rt->store, o);  /* announced to every peer, the sender too */
  rt_log(n->rt, NULL, EV_OBJECT_MOVED, o->id, v_sym(from ? from : n->name), v_sym(n->name), true);
  reply(n, c->serial, m->request_id, true, v_bool(true), NULL);
}

/* {===== Programs that teleport here =====} */

/* A program that came here has ended: its outcome goes back to the
 * machine it came from (which may have it from further back). */
static void teleported_done(Runtime *rt, Program *p) {
  (void)rt;
  Served *s = p->done_ctx;
  Node *n = s->node;
  Conn *c = served_conn(s);
  if (!c) {
    net_log(n->net, "a teleported program has ended, but the machine it came from is gone: its outcome is lost");
    return;
  }
  Buf text = { 0 };
  cont_outcome(&n->code, p, &text);
  WireMsg m = { .kind = MSG_TELEPORT_DONE, .request_id = s->request, .outcome = v_string(text.p, text.n).as.str };
  buf_free(&text);
  conn_send(c, &m);
}

static void take_program(Node *n, Conn *c, WireMsg *m) {
  if (m->sender_machine) learn(n, c, sym_intern(m->sender_machine->data, m->sender_machine->len), 0);
  if (!may_serve(n, c, m->request_id)) return;
  char err[WIRE_ERR_MAX];
  Program *p = cont_resume(&n->code, m->continuation, err, sizeof err);
  if (!p) {
    c->serving--;
    char why[WIRE_ERR_MAX + 32];
    snprintf(why, sizeof why, "cannot take the program: %s", err);
    reply(n, c->serial, m->request_id, false, v_nil(), why);
    return;
  }
  serve_with(n, c, m->request_id, p, teleported_done);
  reply(n, c->serial, m->request_id, true, v_bool(true), NULL);
  wake(n);
}

/* A program of ours that teleported has ended where it went. */
static void program_back(Node *n, WireMsg *m) {
  Pending *pd = idmap_get(&n->pending, m->request_id);
  if (!pd || !pd->away) return;  /* not one of ours, or given up */
  bool ok = false;
  Value value = v_nil();
  const char *error = NULL;
  char err[WIRE_ERR_MAX];
  if (!cont_read_outcome(&n->code, m->outcome, &ok, &value, &error, err, sizeof err)) {
    char *msg = GC_MALLOC_ATOMIC(WIRE_ERR_MAX + 64);
    snprintf(msg, WIRE_ERR_MAX + 64, "the program's outcome cannot be read: %s", err);
    error = msg;
  }
  pending_close(pd);
  rt_end_elsewhere(n->rt, pd->p, ok, value, error);
  wake(n);
}

/* {===== The peers =====} */

/* The greeting of a node of ours: destroy_notify of object 0, which names
 * no object (ids start above it), so a reference node, which knows only
 * its four message types, removes nothing and reads on. */
#define HELLO_ID 0

static void start_main(Node *n);

/* How long a peer that has connected may take to greet us before it is
 * taken for a node that does not greet (a reference node). */
#define GREETING_GRACE_MS 200

/* The --run program starts once every peer is connected and known to be
 * ours or not (so move-object knows whom it may send objects to). */
static void all_up(Node *n) {
  if (n->main_started) return;
  for (size_t j = 0; j < n->net->ndials; j++)
    if (!n->net->dials[j]->conn || !n->net->dials[j]->conn->settled) return;
  uv_timer_stop(&n->grace);
  start_main(n);
}

static void grace_over(uv_timer_t *t) {
  Node *n = t->data;
  for (size_t j = 0; j < n->net->ndials; j++)
    if (n->net->dials[j]->conn) n->net->dials[j]->conn->settled = true;
  all_up(n);
}

static void on_up(Net *net, Conn *c) {
  Node *n = net->node;
  if (c->dial) c->machine = c->dial->name;
  WireMsg hello = { .kind = MSG_DESTROY_NOTIFY, .object_id = HELLO_ID };
  conn_send(c, &hello);
  announce_all(n, c);
  if (!n->main_started && c->dial && !uv_is_active((uv_handle_t *)&n->grace))
    uv_timer_start(&n->grace, grace_over, GREETING_GRACE_MS, 0);
}

static void on_message(Net *net, Conn *c, WireMsg *m) {
  Node *n = net->node;
  switch (m->kind) {
    case MSG_CALL: serve(n, c, m); break;
    case MSG_CALL_RESPONSE: answer(n, m); break;
    case MSG_CREATE_NOTIFY: {
      Symbol *machine = sym_intern(m->machine_id->data, m->machine_id->len);
      learn(n, c, machine, m->object_id);
      if (machine != n->name) idmap_put(&n->directory, m->object_id, machine);
      break;
    }
    case MSG_DESTROY_NOTIFY:
      if (m->object_id != HELLO_ID) {
        idmap_remove(&n->directory, m->object_id);
        break;
      }
      c->ours = c->settled = true;
      all_up(n);
      break;
    case MSG_PING: {
      WireMsg pong = { .kind = MSG_PONG, .nonce = m->nonce };
      c->ours = true;
      conn_send(c, &pong);
      break;
    }
    case MSG_MOVE: take_object(n, c, m); break;
    case MSG_TELEPORT: take_program(n, c, m); break;
    case MSG_FETCH: serve_fetch(n, c, m); break;
    case MSG_OBJECT_OP: serve_op(n, c, m); break;
    case MSG_TELEPORT_DONE: program_back(n, m); break;
    case MSG_PONG:
    case MSG__COUNT: break;
  }
}

static void on_refused(Net *net, Conn *c, WireMsg *m, const char *why) {
  char err[WIRE_ERR_MAX + 32];
  snprintf(err, sizeof err, "bad call: %s", why);
  reply(net->node, c->serial, m->request_id, false, v_nil(), err);
}

static void on_down(Net *net, Conn *c, const char *reason) {
  Node *n = net->node;
  Gone g = { c->serial, reason };
  idmap_each(&n->pending, fail_if_on, &g);
}

static const ConnOps conn_ops = { .up = on_up, .message = on_message, .refused = on_refused, .down = on_down };

/* {===== The program it runs =====} */

/* The --run program has ended: its result or error, as avm run gives them. */
static void main_done(Runtime *rt, Program *p) {
  Node *n = p->done_ctx;
  (void)rt;
  if (p->status == PS_FAILED) {
    if (n->vm->exit_requested) {
      n->status = n->vm->exit_requested - 1;
    } else {
      fflush(stdout);
      vm_report_error(n->opt->diag, &p->error);
      n->status = EX_AVM_RUNTIME;
    }
  } else {
    if (p->result.tag != T_UNSPEC) {
      v_write(stdout, p->result);
      fputc('\n', stdout);
    }
    n->status = EX_AVM_OK;
  }
  if (fflush(stdout) != 0 && n->status == EX_AVM_OK) n->status = EX_AVM_IOERR;
  if (n->opt->exit_after_run) node_stop(n);
}

static void start_main(Node *n) {
  n->main_started = true;
  if (!n->opt->run) return;
  Program *p = rt_start(n->rt, proto_main_closure(n->opt->run), NULL, 0);
  p->on_done = main_done;
  p->done_ctx = n;
  if (p->status == PS_FAILED) main_done(n->rt, p);
  else wake(n);
}

/* {===== Start and stop =====} */

static void on_signal(uv_signal_t *s, int signum) {
  (void)signum;
  node_stop(s->data);
}

static void close_pending(void *ctx, uint64_t key, void *val) {
  (void)ctx, (void)key;
  Pending *pd = val;
  uv_timer_stop(&pd->timer);
  uv_close((uv_handle_t *)&pd->timer, pending_freed);
}

/* Closes everything the loop waits on; uv_run returns once it is closed. */
static void node_stop(Node *n) {
  if (n->stopping) return;
  n->stopping = true;
  fflush(stdout);
  uv_close((uv_handle_t *)&n->idle, NULL);
  uv_close((uv_handle_t *)&n->check, NULL);
  uv_close((uv_handle_t *)&n->sigint, NULL);
  uv_close((uv_handle_t *)&n->sigterm, NULL);
  uv_close((uv_handle_t *)&n->grace, NULL);
  idmap_each(&n->pending, close_pending, NULL);
  n->pending = (IdMap){ 0 };
  net_close(n->net);
  if (n->events) events_close(n->events);
}

/* A procedure of the node's own, from its source [text]. */
static Value node_procedure(VM *vm, Diag *d, const char *text) {
  Module *m = comp_source(d, vm, "<node>", text, strlen(text), &(CompOptions){ 0 });
  if (!m) abort();
  vm_link(vm, m);
  Fiber *f = fiber_new(vm, proto_main_closure(m), NULL, 0);
  if (vm_run(f) != VM_RET) abort();
  return f->result;
}

static void close_stray(uv_handle_t *h, void *arg) {
  (void)arg;
  if (!uv_is_closing(h)) uv_close(h, NULL);
}

int node_run(VM *vm, const NodeOptions *o) {
  signal(SIGPIPE, SIG_IGN);  /* a peer that goes away is a write error, not a signal */
  Node *n = GC_MALLOC_UNCOLLECTABLE(sizeof *n);
  memset(n, 0, sizeof *n);
  n->vm = vm;
  n->opt = o;
  n->name = sym_intern_cstr(o->name);
  n->name_str = v_cstring(o->name).as.str;
  uv_loop_init(&n->loop);
  n->net = net_new(&n->loop, o->name, &conn_ops, n);
  if (!net_listen(n->net, o->port)) {
    uv_close((uv_handle_t *)&n->net->listener, NULL);
    uv_run(&n->loop, UV_RUN_DEFAULT);
    return EX_AVM_IOERR;
  }
  net_log(n->net, "listening on port %d", n->net->port);
  n->prefix = o->prefix >= 0 ? (uint64_t)o->prefix : (uint64_t)n->net->port;
  idmap_put(&n->prefixes, n->prefix, n->name);

  Runtime *rt = n->rt = rt_new(vm, o->name);
  rt->allow_unsafe = o->allow_unsafe;
  rt->next_object = n->prefix << 48 ? n->prefix << 48 : 1;  /* ids never collide across nodes */
  rt->remote = &remote_ops;
  rt->remote_ctx = n;
  rt->store.watch = store_changed;
  rt->store.watch_ctx = n;
  if (o->events_port >= 0) {
    /* The JSON view of the trace goes to the subscribers (and to
     * --trace's destination, which then has that view too). */
    n->events = events_new(&n->loop, o->name);
    if (!events_listen(n->events, o->events_port)) {
      net_close(n->net);
      events_close(n->events);
      uv_run(&n->loop, UV_RUN_DEFAULT);
      return EX_AVM_IOERR;
    }
    net_log(n->net, "serving events on port %d", events_port(n->events));
    n->events_out = events_stream(n->events, o->trace);
    trace_start(rt, n->events_out, TF_JSON, true);
  } else if (o->trace) {
    trace_start(rt, o->trace, o->trace_format, true);  /* each event as it happens */
  }
  vm->slice = NODE_SLICE;
  /* What a served call's program runs: one call, whose (just out) or
   * nothing is the program's result. */
  n->serve = node_procedure(vm, o->diag, "(lambda (target input) (call target input))");
  n->run_op = node_procedure(vm, o->diag,
                             "(lambda (op id to)"
                             "  (cond ((eq? op 'get-controller) (get-controller id))"
                             "        ((eq? op 'transfer-object) (transfer-object id to))"
                             "        (else (freeze id))))");
  for (size_t j = 0; j < o->nload; j++) rt_load_module(rt, o->load[j], stderr);
  if (o->run) rt_load_module(rt, o->run, stderr);
  codebase_init(&n->code, rt, o->allow_unsafe);
  for (size_t j = 0; j < o->nload; j++) codebase_add(&n->code, o->load[j]);
  if (o->run) codebase_add(&n->code, o->run);
  /* The loaded modules' own programs run first, to their end: their
   * definitions, and the objects they create, are there before any peer
   * is served. */
  for (size_t j = 0; j < o->nload; j++) {
    Program *p = rt_run_main(rt, proto_main_closure(o->load[j]));
    if (p->status == PS_FAILED) {
      if (vm->exit_requested) return vm->exit_requested - 1;
      vm_report_error(o->diag, &p->error);
      return EX_AVM_RUNTIME;
    }
  }
  fflush(stdout);

  uv_idle_init(&n->loop, &n->idle);
  uv_check_init(&n->loop, &n->check);
  n->check.data = n;
  uv_check_start(&n->check, check_cb);
  uv_unref((uv_handle_t *)&n->check);  /* it alone does not keep the loop going */
  uv_signal_init(&n->loop, &n->sigint);
  uv_signal_init(&n->loop, &n->sigterm);
  n->sigint.data = n->sigterm.data = n;
  uv_signal_start(&n->sigint, on_signal, SIGINT);
  uv_signal_start(&n->sigterm, on_signal, SIGTERM);
  uv_timer_init(&n->loop, &n->grace);
  n->grace.data = n;
  for (size_t j = 0; j < o->npeers; j++) {
    Symbol *peer = sym_intern_cstr(o->peers[j].name);
    /* Until a peer says otherwise, its ids carry its port, as the
     * reference's do. */
    if (!idmap_get(&n->prefixes, (uint64_t)o->peers[j].port)) idmap_put(&n->prefixes, (uint64_t)o->peers[j].port, peer);
    net_dial(n->net, peer, o->peers[j].host, o->peers[j].port);
  }
  if (!n->main_started) all_up(n);
  uv_run(&n->loop, UV_RUN_DEFAULT);
  uv_walk(&n->loop, close_stray, NULL);
  uv_run(&n->loop, UV_RUN_DEFAULT);
  uv_loop_close(&n->loop);
  if ((o->trace || n->events) && !trace_stop(rt) && n->status == EX_AVM_OK) n->status = EX_AVM_IOERR;
  if (n->events_out && fclose(n->events_out) != 0 && n->status == EX_AVM_OK) n->status = EX_AVM_IOERR;
  return n->status;
}
