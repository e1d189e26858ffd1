/* runtime/controller.c — the controller family: get-controller,
 * get-current-controller, transfer-object, freeze.  A transfer needs the
 * executing controller to own the object; inside a transaction it is
 * applied at commit. */
#include "runtime/runtime.h"

/* Whether another machine holds object [id] (on a node): the instruction
 * is then that machine's to run. */
static bool elsewhere(Runtime *rt, uint64_t id) { return rt->remote && rt->remote->locate(rt->remote_ctx, id); }

HResult h_GET_CONTROLLER(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_OBJREF) return vm_type_error(p->fiber, "get-controller", "object id", args[0]), H_ERROR;
  TxEntry *e;
  Object *o = rt_find(rt, p, args[0].as.u, &e);
  if (!o && elsewhere(rt, args[0].as.u))
    return rt_object_op_remote(rt, p, args[0].as.u, IN_GET_CONTROLLER, v_nil(), v_nothing(), out);
  if (!o) {
    *out = v_nothing();
    return H_DONE;
  }
  tx_observe(p, o, e);
  Symbol *c = rt_controller_of(o, e);
  *out = c ? v_just(v_sym(c)) : v_nothing();
  return H_DONE;
}

HResult h_GET_CURRENT_CONTROLLER(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  *out = v_sym(p->tx ? p->tx->controller : rt_executing_controller(rt, p));
  return H_DONE;
}

HResult h_TRANSFER_OBJECT(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_OBJREF) return vm_type_error(p->fiber, "transfer-object", "object id", args[0]), H_ERROR;
  if (args[1].tag != T_SYM) return vm_type_error(p->fiber, "transfer-object", "controller symbol", args[1]), H_ERROR;
  TxEntry *e;
  Object *o = rt_find(rt, p, args[0].as.u, &e);
  if (!o && elsewhere(rt, args[0].as.u)) {
    if (p->tx)  /* a transaction only touches objects of its machine */
      return rt_error(p, AE_INVALID_DURING_TX, "transfer-object of an object on another machine inside transaction %llu",
                      (unsigned long long)p->tx->id), H_ERROR;
    return rt_object_op_remote(rt, p, args[0].as.u, IN_TRANSFER_OBJECT, args[1], v_bool(false), out);
  }
  if (!o || (e && e->destroyed)) {
    *out = v_bool(false);
    return H_DONE;
  }
  if (!tx_check_controller(p, o, e) || !rt_check_authority(rt, p, o, e, "transfer-object")) return H_ERROR;
  Symbol *to = args[1].as.sym;
  if (p->tx) {
    tx_observe(p, o, e);
    e = tx_entry(p, o, tx_find_entry(p->tx, o->id));
    e->transferred = true;
    e->controller = to;
  } else {
    Symbol *from = o->controller;
    journal_object(p, o);
    o->controller = to;
    o->version++;
    rt_log(rt, p, EV_OBJECT_TRANSFERRED, o->id, v_sym(from ? from : sym_intern_cstr("none")), v_sym(to), true);
  }
  *out = v_bool(true);
  return H_DONE;
}

HResult h_FREEZE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_OBJREF) return vm_type_error(p->fiber, "freeze", "object id", args[0]), H_ERROR;
  TxEntry *e;
  Object *o = rt_find(rt, p, args[0].as.u, &e);
  if (!o && elsewhere(rt, args[0].as.u))
    return rt_object_op_remote(rt, p, args[0].as.u, IN_FREEZE, v_nil(), v_nothing(), out);
  Symbol *c = o ? rt_controller_of(o, e) : NULL;
  if (!c) {
    *out = v_nothing();
    return H_DONE;
  }
  rt_log(rt, p, EV_OBJECT_FROZEN, o->id, v_sym(c), v_nil(), false);
  *out = v_just(v_bool(true));
  return H_DONE;
}
