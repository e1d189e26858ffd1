/* runtime/sched.c — programs meeting over one store: spawn and join; and
 * the intent instructions of Layer 4, which this runtime does not offer
 * yet (they raise NotImplemented, as the reference does). */
#include "runtime/runtime.h"

HResult h_SPAWN(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  Value thunk = args[0];
  if (thunk.tag != T_CLOSURE || thunk.as.clo->p->nparams != 0)
    return vm_type_error(p->fiber, "spawn", "procedure of no arguments", thunk), H_ERROR;
  Program *q = rt_spawn(rt, p, thunk);
  *out = v_ref(T_HANDLE, q->id);
  return H_DONE;
}

HResult h_JOIN(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_HANDLE) return vm_type_error(p->fiber, "join", "program handle", args[0]), H_ERROR;
  Program *q = rt_program(rt, args[0].as.u);
  if (!q || q == p) return vm_type_error(p->fiber, "join", "handle of another program", args[0]), H_ERROR;
  if (q->status == PS_DONE || q->status == PS_FAILED) {
    *out = q->status == PS_DONE ? v_just(q->result) : v_nothing();
    return H_DONE;
  }
  p->status = PS_BLOCKED;
  p->waiting_for = q->id;
  q->joined = true;
  return H_SWITCHED;
}

static HResult not_yet(Program *p, const char *who) {
  return rt_error(p, AE_NOT_IMPLEMENTED, "%s: intents (Layer 4) are not supported yet", who), H_ERROR;
}

HResult h_CHOOSE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc, (void)out;
  return not_yet(p, "choose");
}

HResult h_REQUIRE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc, (void)out;
  return not_yet(p, "require");
}
