/* runtime/objects.c — the object family: create-obj, destroy-obj, call,
 * receive.  Inside a transaction their effects go to the overlay; outside
 * they change the store at once (journaled, so a rejected call undoes
 * them). */
#include <gc.h>
#include <stdio.h>
#include <string.h>
#include "runtime/runtime.h"
#include "util/suggest.h"

bool rt_has_behavior(Runtime *rt, Symbol *name) {
  for (Value l = rt->behaviors; l.tag == T_PAIR; l = l.as.pair->cdr)
    if (l.as.pair->car.as.pair->car.as.sym == name) return true;
  return false;
}

/* create-obj of a behavior no loaded module declares: an error, with the
 * closest declared behavior as a "did you mean" hint. */
static HResult unknown_behavior(Runtime *rt, Program *p, Symbol *name) {
  rt_error(p, AE_BEHAVIOR_NOT_FOUND, "create-obj: no loaded module declares a behavior named %s", name->name);
  Suggest s;
  suggest_init(&s, name->name);
  for (Value l = rt->behaviors; l.tag == T_PAIR; l = l.as.pair->cdr)
    suggest_consider(&s, l.as.pair->car.as.pair->car.as.sym->name, 0);
  if (s.best) {
    size_t n = strlen(s.best) + 20;
    char *hint = GC_MALLOC_ATOMIC(n);
    snprintf(hint, n, "did you mean '%s'?", s.best);
    p->fiber->error.hint = hint;
  }
  return H_ERROR;
}

/* The object an id operand names, or NULL (with *e its overlay entry). */
static bool object_arg(Program *p, const char *who, Value v) {
  if (v.tag == T_OBJREF) return true;
  return vm_type_error(p->fiber, who, "object id", v);
}

HResult h_CREATE_OBJ(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  if (args[0].tag != T_SYM) return vm_type_error(p->fiber, "create-obj", "behavior name (symbol)", args[0]), H_ERROR;
  Symbol *behavior = args[0].as.sym;
  if (!rt_has_behavior(rt, behavior)) return unknown_behavior(rt, p, behavior);
  Symbol *ctrl = p->tx ? p->tx->controller : rt_executing_controller(rt, p);
  if (argc == 2) {
    if (args[1].tag != T_SYM) return vm_type_error(p->fiber, "create-obj", "controller symbol", args[1]), H_ERROR;
    ctrl = args[1].as.sym;
  }
  Object *o = gc_alloc_small(sizeof *o);
  o->id = rt->next_object++;
  o->behavior = behavior;
  o->state = v_nil();
  o->calls = 0;
  o->version = 0;
  o->creating_controller = o->controller = ctrl;
  o->machine = p->act->machine;
  if (p->tx) {
    TxEntry *e = tx_entry(p, o, NULL);
    e->created = true;
  } else {
    store_put(&rt->store, o);
    journal_created(p, o);
  }
  rt_log(rt, p, EV_OBJECT_CREATED, o->id, v_sym(behavior), v_nil(), false);
  *out = v_ref(T_OBJREF, o->id);
  return H_DONE;
}

/* Destroying and transferring need the executing controller to be the
 * object's current one.  Inside a transaction that is the transaction's
 * controller (as get-current-controller and the trace say). */
bool rt_check_authority(Runtime *rt, Program *p, Object *o, TxEntry *e, const char *who) {
  Symbol *exec = p->tx ? p->tx->controller : rt_executing_controller(rt, p), *owner = rt_controller_of(o, e);
  if (exec == owner) return true;
  return rt_error(p, AE_UNAUTHORIZED_TRANSFER, "%s: object %llu is controlled by %s, not by %s", who,
                  (unsigned long long)o->id, owner ? owner->name : "nobody", exec->name);
}

HResult h_DESTROY_OBJ(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (!object_arg(p, "destroy-obj", args[0])) return H_ERROR;
  TxEntry *e;
  Object *o = rt_find(rt, p, args[0].as.u, &e);
  if (!o || (e && e->destroyed)) {
    *out = v_bool(false);
    return H_DONE;
  }
  if (!tx_check_controller(p, o, e) || !rt_check_authority(rt, p, o, e, "destroy-obj")) return H_ERROR;
  if (p->tx) {
    tx_observe(p, o, e);
    e = tx_entry(p, o, tx_find_entry(p->tx, o->id));
    e->destroyed = true;
  } else {
    journal_destroyed(p, o);
    store_remove(&rt->store, o->id);
  }
  rt_log(rt, p, EV_OBJECT_DESTROYED, o->id, v_nil(), v_nil(), false);
  *out = v_bool(true);
  return H_DONE;
}

HResult h_CALL(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (!object_arg(p, "call", args[0])) return H_ERROR;
  if (v_contains_proc(args[1]))
    return rt_error(p, AE_INVALID_INPUT, "call: a message cannot contain a procedure"), H_ERROR;
  TxEntry *e;
  Object *o = rt_find(rt, p, args[0].as.u, &e);
  if (!o) {
    if (rt->remote) return rt_call_remote(rt, p, args[0].as.u, args[1], out);  /* it may live elsewhere */
    *out = v_nothing();
    return H_DONE;
  }
  if (!tx_check_controller(p, o, e)) return H_ERROR;
  tx_observe(p, o, e);
  return rt_push_call(rt, p, o, tx_find_entry(p->tx, o->id), args[1]);
}

HResult h_RECEIVE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)args;
  (void)argc;
  Activation *a = p->act;
  Value msg = rt_in_call(p) ? v_just(a->input) : v_nothing();
  rt_log(rt, p, EV_MESSAGE_RECEIVED, act_self_id(a), msg, v_nil(), false);
  *out = msg;
  return H_DONE;
}
