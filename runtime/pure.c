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

static PureFn *slot(Runtime *rt, Symbol *name) {
  PureFn *fn = find(rt, name);
  if (fn) return fn;
  rt->pures = gc_grow(rt->pures, rt->npures, &rt->cappures, sizeof *rt->pures, 16);
  fn = &rt->pures[rt->npures++];
  fn->name = name;
  return fn;
}

/* [name] is [proc] from the registry's current version on. */
static void define(Runtime *rt, Symbol *name, Value proc) {
  PureFn *fn = slot(rt, name);
  fn->proc = proc;
  rt->pure_log = gc_grow(rt->pure_log, rt->npure_log, &rt->cap_pure_log, sizeof *rt->pure_log, 16);
  rt->pure_log[rt->npure_log++] = (PureChange){ rt->pure_version, name, proc };
}

void rt_pure_define(Runtime *rt, Symbol *name, Value proc) { define(rt, name, proc); }

/* What [name] was at registry version [v]; false if it did not exist. */
static bool defined_at(Runtime *rt, Symbol *name, uint64_t v, Value *proc) {
  for (size_t j = rt->npure_log; j-- > 0;)
    if (rt->pure_log[j].name == name && rt->pure_log[j].at <= v) {
      *proc = rt->pure_log[j].proc;
      return true;
    }
  return false;
}

/* The version program [p] sees. */
static uint64_t view_of(Runtime *rt, Program *p) {
  return p->pure_view >= 0 ? (uint64_t)p->pure_view : rt->pure_version;
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
  Value proc, r;
  const char *err;
  Symbol *name = args[0].as.sym;
  bool known = defined_at(rt, name, view_of(rt, p), &proc) || (!find(rt, name) && builtin(name, &proc));
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
  rt->pure_version++;
  define(rt, args[0].as.sym, args[1]);
  p->pure_view = -1;  /* a program sees its own change */
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
  rt->pure_version++;
  define(rt, args[0].as.sym, args[1]);
  p->pure_view = -1;
  rt_log(rt, p, EV_FUNCTION_UPDATED, 0, args[0], v_nil(), false);
  *out = v_bool(true);
  return H_DONE;
}

HResult h_GET_CURRENT_VERSION(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  *out = v_int((int64_t)view_of(rt, p));
  return H_DONE;
}

HResult h_SWITCH_VERSION(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_INT) return vm_type_error(p->fiber, "switch-version", "integer", args[0]), H_ERROR;
  bool known = args[0].as.i >= 0 && (uint64_t)args[0].as.i <= rt->pure_version;
  if (known) p->pure_view = args[0].as.i;
  *out = v_bool(known);
  return H_DONE;
}
