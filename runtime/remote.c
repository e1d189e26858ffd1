/* runtime/remote.c — the runtime's side of distribution: a call of an
 * object that lives on another machine, and a call served for another
 * machine.  The transport is the node's (net/node.c, through RemoteOps):
 * here a program only blocks until the answer comes, as it does in join,
 * so the node's event loop keeps serving (calls back into this machine
 * included) while the request is in flight. */
#include <gc.h>
#include "runtime/runtime.h"

HResult rt_call_remote(Runtime *rt, Program *p, uint64_t target, Value input, Value *out) {
  const char *why = NULL;
  uint64_t request = rt->remote->call(rt->remote_ctx, p, target, input, &why);
  if (!request) {
    if (why) rt_log(rt, p, EV_ERROR_OCCURRED, target, v_cstring(why), v_nil(), false);
    *out = v_nothing();
    return H_DONE;
  }
  p->status = PS_BLOCKED;
  p->waiting_request = request;
  return H_SWITCHED;
}

/* [p] waits for the answer to [request] to instruction [who]; with none
 * (0), it is told [failed] at once, and why is traced. */
static HResult await_or(Runtime *rt, Program *p, uint64_t request, uint64_t id, const char *who, const char *why,
                        Value failed, Value *out) {
  if (!request) {
    if (why) {
      char text[256];
      snprintf(text, sizeof text, "%s: %s", who, why);
      rt_log(rt, p, EV_ERROR_OCCURRED, id, v_cstring(text), v_nil(), false);
    }
    *out = failed;
    return H_DONE;
  }
  p->status = PS_BLOCKED;
  p->waiting_request = request;
  return H_SWITCHED;
}

static HResult await_answer(Runtime *rt, Program *p, uint64_t request, uint64_t id, const char *who, const char *why,
                            Value *out) {
  return await_or(rt, p, request, id, who, why, v_bool(false), out);
}

HResult rt_object_op_remote(Runtime *rt, Program *p, uint64_t id, int instr, Value arg, Value failed, Value *out) {
  const char *why = NULL;
  uint64_t request = rt->remote->object_op(rt->remote_ctx, p, id, instr, arg, &why);
  return await_or(rt, p, request, id, instr_info[instr].name, why, failed, out);
}

HResult rt_move_remote(Runtime *rt, Program *p, Object *o, Symbol *machine, Value *out) {
  const char *why = NULL;
  uint64_t request = rt->remote->move(rt->remote_ctx, p, o, machine, &why);
  return await_answer(rt, p, request, o->id, "move-object", why, out);
}

HResult rt_fetch_remote(Runtime *rt, Program *p, uint64_t id, Value *out) {
  const char *why = NULL;
  uint64_t request = rt->remote->fetch(rt->remote_ctx, p, id, &why);
  return await_answer(rt, p, request, id, "fetch", why, out);
}

HResult rt_teleport_remote(Runtime *rt, Program *p, Symbol *machine, Value *out) {
  const char *why = NULL;
  uint64_t request = rt->remote->teleport(rt->remote_ctx, p, machine, &why);
  return await_answer(rt, p, request, 0, "teleport", why, out);
}

void rt_resume(Program *p, Value response) {
  p->status = PS_RUNNABLE;
  p->waiting_request = 0;
  p->has_response = true;
  p->response = response;
}

/* The fiber holds the error, as if its instruction had just raised it:
 * the next step fails the program there (step() in itree.c). */
void rt_resume_failed(Program *p, const char *error) {
  p->status = PS_RUNNABLE;
  p->waiting_request = 0;
  vm_raise(p->fiber, v_nil(), "%s", error);
  p->fiber->status = VM_ERROR;
}

Program *rt_serve(Runtime *rt, Value serve, uint64_t target, Value input, uint64_t sender, Symbol *machine) {
  Value args[2] = { v_ref(T_OBJREF, target), input };
  Program *p = rt_start(rt, serve, args, 2);
  /* The root stands for the remote caller: an object of its machine, not
   * in this store, whose id the callee gets from get-sender. */
  Object *caller = GC_MALLOC(sizeof *caller);
  caller->id = sender;
  caller->behavior = sym_intern_cstr("remote-caller");
  caller->state = v_nil();
  caller->machine = machine;
  p->acts[0].self = caller;
  return p;
}
