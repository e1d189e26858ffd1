/* runtime/machine.c — the machine family: get-machine, teleport,
 * move-object, fetch.  Other machines exist only once nodes are connected
 * (avm node, rt->remote); until then they are unreachable.  On a node,
 * get-machine knows where objects elsewhere are, and move-object really
 * sends an object to another machine (runtime/remote.c). */
#include "runtime/runtime.h"

HResult h_GET_MACHINE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_OBJREF) return vm_type_error(p->fiber, "get-machine", "object id", args[0]), H_ERROR;
  Object *o = rt_find(rt, p, args[0].as.u, NULL);
  Symbol *elsewhere = !o && rt->remote ? rt->remote->locate(rt->remote_ctx, args[0].as.u) : NULL;
  *out = o ? v_just(v_sym(o->machine)) : elsewhere ? v_just(v_sym(elsewhere)) : v_nothing();
  return H_DONE;
}

static bool machine_arg(Runtime *rt, Program *p, const char *who, Value v) {
  if (v.tag != T_SYM) return vm_type_error(p->fiber, who, "machine name (symbol)", v);
  if (v.as.sym == rt->machine) return true;
  return rt_error(p, AE_MACHINE_UNREACHABLE, "%s: machine %s is not connected", who, v.as.sym->name);
}

HResult h_TELEPORT(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (p->tx) return rt_error(p, AE_TELEPORT_DURING_TX, "teleport inside transaction %llu", (unsigned long long)p->tx->id), H_ERROR;
  if (rt->remote && args[0].tag == T_SYM && args[0].as.sym != rt->machine) {
    /* The whole program moves, so it must be at its own level: a callee
     * that moved would leave its caller's activation behind. */
    if (rt_in_call(p))
      return rt_error(p, AE_INVALID_MACHINE_TRANSFER, "teleport to machine %s inside a call of obj:%llu: only a program's own level can move to another machine",
                      args[0].as.sym->name, (unsigned long long)act_self_id(p->act)), H_ERROR;
    return rt_teleport_remote(rt, p, args[0].as.sym, out);
  }
  if (!machine_arg(rt, p, "teleport", args[0])) return H_ERROR;
  rt_log(rt, p, EV_EXECUTION_MOVED, 0, v_sym(p->act->machine), args[0], true);
  p->act->machine = args[0].as.sym;
  *out = v_bool(true);
  return H_DONE;
}

HResult h_MOVE_OBJECT(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_OBJREF) return vm_type_error(p->fiber, "move-object", "object id", args[0]), H_ERROR;
  Object *o = rt_find(rt, p, args[0].as.u, NULL);
  if (!o) {
    *out = v_bool(false);
    return H_DONE;
  }
  if (rt->remote && args[1].tag == T_SYM && args[1].as.sym != rt->machine) {
    /* Its state leaves with it: a transaction could not undo that. */
    if (p->tx)
      return rt_error(p, AE_INVALID_DURING_TX, "move-object to another machine inside transaction %llu",
                      (unsigned long long)p->tx->id), H_ERROR;
    return rt_move_remote(rt, p, o, args[1].as.sym, out);
  }
  if (!machine_arg(rt, p, "move-object", args[1])) return H_ERROR;
  rt_log(rt, p, EV_OBJECT_MOVED, o->id, v_sym(o->machine), args[1], true);
  *out = v_bool(true);
  return H_DONE;
}

HResult h_FETCH(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_OBJREF) return vm_type_error(p->fiber, "fetch", "object id", args[0]), H_ERROR;
  Object *o = rt_find(rt, p, args[0].as.u, NULL);
  if (!o && rt->remote && rt->remote->locate(rt->remote_ctx, args[0].as.u)) {
    /* It comes here for good: a transaction could not undo that. */
    if (p->tx)
      return rt_error(p, AE_INVALID_DURING_TX, "fetch from another machine inside transaction %llu",
                      (unsigned long long)p->tx->id), H_ERROR;
    return rt_fetch_remote(rt, p, args[0].as.u, out);
  }
  if (o) rt_log(rt, p, EV_OBJECT_FETCHED, o->id, v_sym(p->act->machine), v_nil(), false);
  *out = v_bool(o != NULL);
  return H_DONE;
}
