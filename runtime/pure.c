/* runtime/pure.c — the pure-function family: call-pure, register-pure,
 * update-pure over the registry of `pure` declarations and registered
 * procedures.  A pure function runs to completion on its own fiber and may
 * not use AVM instructions. */
#include <gc.h>
#include <string.h>
#include "runtime/runtime.h"

static PureFn *find(Runtime *rt, Symbol *name) {
  for (size_t j = 0; j < rt->npures; j++)
    if (rt->pures[j].name == name) return &rt->pures[j];
  return NULL;
}

static uint64_t registry_version;

PureFn *rt_pure_slot(Runtime *rt, Symbol *name) {
  PureFn *fn = find(rt, name);
  if (fn) return fn;
  rt->pures = gc_grow(rt->pures, rt->npures, &rt->cappures, sizeof *rt->pures, 16);
  fn = &rt->pures[rt->npures++];
  fn->name = name;
  return fn;
}

/* The built-in pure functions: the C primitives, by their names. */
static bool builtin(Symbol *name, Value *proc) {
  for (unsigned j = 0; j < PRIM__COUNT; j++)
    if (prim_info[j].kind == PK_PURE && strcmp(prim_info[j].name, name->name) == 0) {
      *proc = v_prim(j);
      return true;
    }
  return false;
}

HResult h_CALL_PURE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  if (args[0].tag != T_SYM) return vm_type_error(p->fiber, "call-pure", "function name (symbol)", args[0]), H_ERROR;
  PureFn *fn = find(rt, args[0].as.sym);
  Value proc, r;
  const char *err;
  bool known = fn ? (proc = fn->proc, true) : builtin(args[0].as.sym, &proc);
  *out = known && rt_apply_pure(rt, proc, args + 1, argc - 1, &r, &err) ? v_just(r) : v_nothing();
  return H_DONE;
}

static bool proc_arg(Program *p, const char *who, Value *args) {
  if (args[0].tag != T_SYM) return vm_type_error(p->fiber, who, "function name (symbol)", args[0]);
  if (!v_is_proc(args[1])) return vm_type_error(p->fiber, who, "procedure", args[1]);
  return true;
}

HResult h_REGISTER_PURE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (!proc_arg(p, "register-pure", args)) return H_ERROR;
  Value ignored;
  if (find(rt, args[0].as.sym) || builtin(args[0].as.sym, &ignored)) {
    *out = v_bool(false);
    return H_DONE;
  }
  PureFn *pf = rt_pure_slot(rt, args[0].as.sym);
  pf->proc = args[1];
  pf->version = 1;
  registry_version++;
  *out = v_bool(true);
  return H_DONE;
}

HResult h_UPDATE_PURE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (!proc_arg(p, "update-pure", args)) return H_ERROR;
  PureFn *fn = find(rt, args[0].as.sym);
  if (!fn) {
    *out = v_bool(false);
    return H_DONE;
  }
  fn->proc = args[1];
  fn->version++;
  registry_version++;
  rt_log(rt, p, EV_FUNCTION_UPDATED, 0, args[0], v_nil(), false);
  *out = v_bool(true);
  return H_DONE;
}

HResult h_GET_CURRENT_VERSION(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)p, (void)args, (void)argc;
  *out = v_int((int64_t)registry_version);
  return H_DONE;
}

HResult h_SWITCH_VERSION(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)argc;
  if (args[0].tag != T_INT) return vm_type_error(p->fiber, "switch-version", "integer", args[0]), H_ERROR;
  *out = v_bool(args[0].as.i >= 0 && (uint64_t)args[0].as.i <= registry_version);
  return H_DONE;
}
