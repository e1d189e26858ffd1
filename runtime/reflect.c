/* runtime/reflect.c — the unsafe look behind encapsulation: reflect,
 * scry-meta, scry-deep, reify-tx-state; and rt_apply_pure, which runs a
 * procedure to completion on a nested fiber (predicates, pure functions). */
#include <gc.h>
#include <string.h>
#include "runtime/runtime.h"

static Value pair(const char *key, Value v) { return v_cons(v_sym(sym_intern_cstr(key)), v); }

Value rt_meta(Object *o) {
  Value l = v_nil();
  l = v_cons(pair("calls", v_int((int64_t)o->calls)), l);
  l = v_cons(pair("version", v_int((int64_t)o->version)), l);
  l = v_cons(pair("controller", o->controller ? v_sym(o->controller) : v_nothing()), l);
  l = v_cons(pair("creating-controller", o->creating_controller ? v_sym(o->creating_controller) : v_nothing()), l);
  l = v_cons(pair("machine", v_sym(o->machine)), l);
  l = v_cons(pair("behavior", v_sym(o->behavior)), l);
  l = v_cons(pair("id", v_ref(T_OBJREF, o->id)), l);
  return l;
}

static bool apply_pure(Runtime *rt, Value proc, Value *args, int argc, Value *out, const char **err) {
  if (!v_is_proc(proc)) {
    *err = "not a procedure";
    return false;
  }
  if (proc.tag == T_PRIM) {
    if (proc.as.u >= PRIM__COUNT || proc.as.u == PR_apply) {
      *err = "an AVM instruction is not a pure function";
      return false;
    }
    Fiber scratch = { 0 };
    scratch.vm = rt->vm;
    const PrimInfo *pi = &prim_info[proc.as.u];
    if (argc < pi->min_args || (pi->max_args >= 0 && argc > pi->max_args)) {
      *err = "wrong number of arguments";
      return false;
    }
    if (!prim_fns[proc.as.u](&scratch, args, argc, out)) {
      *err = scratch.error.msg;
      return false;
    }
    return true;
  }
  Fiber *f = fiber_new(rt->vm, proc, args, argc);
  VMStatus st;
  while ((st = vm_run(f)) == VM_TAU)
    if (rt_interrupted(rt)) {
      *err = "interrupted";
      return false;
    }
  if (st == VM_RET) {
    *out = f->result;
    return true;
  }
  if (st == VM_VIS) {
    *err = GC_MALLOC_ATOMIC(128);
    snprintf((char *)*err, 128, "a pure function used AVM instruction %s", instr_info[f->vis_instr].name);
    return false;
  }
  *err = f->error.msg;
  return false;
}

/* A pure function may not have effects, so (exit) inside one is an error
 * of the function: the request it left is withdrawn and the program that
 * called it goes on. */
bool rt_apply_pure(Runtime *rt, Value proc, Value *args, int argc, Value *out, const char **err) {
  int exit_before = rt->vm->exit_requested;
  bool ok = apply_pure(rt, proc, args, argc, out, err);
  if (rt->vm->exit_requested != exit_before) {
    rt->vm->exit_requested = exit_before;
    *err = "exit: a pure function cannot exit the program";
    return false;
  }
  return ok;
}

HResult h_REFLECT(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (args[0].tag != T_OBJREF) return vm_type_error(p->fiber, "reflect", "object id", args[0]), H_ERROR;
  Object *o = rt_find(rt, p, args[0].as.u, NULL);
  *out = o ? v_just(rt_meta(o)) : v_nothing();
  return H_DONE;
}

/* scry-meta and scry-deep: every object for which the predicate holds, as
 * the program sees the store (its transaction's creates and writes
 * included). */
static HResult scry(Runtime *rt, Program *p, Value pred, bool deep, Value *out) {
  const char *who = deep ? "scry-deep" : "scry-meta";
  if (!v_is_proc(pred)) return vm_type_error(p->fiber, who, "procedure", pred), H_ERROR;
  Object **objs;
  size_t n = store_sorted(&rt->store, &objs);
  size_t ncreated = 0;
  if (p->tx)
    for (size_t j = 0; j < p->tx->n; j++) ncreated += p->tx->entries[j]->created;
  Object **all = GC_MALLOC((n + ncreated + 1) * sizeof *all);
  memcpy(all, objs, n * sizeof *all);
  if (p->tx)
    for (size_t j = 0; j < p->tx->n; j++)
      if (p->tx->entries[j]->created) all[n++] = p->tx->entries[j]->obj;
  Value found = v_nil();
  for (size_t j = n; j > 0; j--) {
    Object *o = all[j - 1];
    TxEntry *e = tx_find_entry(p->tx, o->id);
    Value meta = rt_meta(o), args[2] = { rt_state_of(p, o, e), meta }, r;
    const char *err;
    if (!rt_apply_pure(rt, pred, deep ? args : args + 1, deep ? 2 : 1, &r, &err))
      return rt_error(p, AE_SCRY_PREDICATE_FAILED, "%s: the predicate failed on object %llu: %s", who,
                      (unsigned long long)o->id, err ? err : "error"), H_ERROR;
    if (v_truthy(r)) found = v_cons(v_cons(v_ref(T_OBJREF, o->id), meta), found);
  }
  *out = found;
  return H_DONE;
}

HResult h_SCRY_META(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  return scry(rt, p, args[0], false, out);
}

HResult h_SCRY_DEEP(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  return scry(rt, p, args[0], true, out);
}

HResult h_REIFY_TX_STATE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc;
  Tx *tx = p->tx;
  if (!tx) return rt_error(p, AE_NO_TRANSACTION, "reify-tx-state: no transaction is open"), H_ERROR;
  int64_t creates = 0, destroys = 0, observed = 0, calls = 0;
  for (size_t j = 0; j < tx->n; j++) {
    creates += tx->entries[j]->created;
    destroys += tx->entries[j]->destroyed;
    observed += tx->entries[j]->observed;
    calls += (int64_t)tx->entries[j]->calls;
  }
  Value l = v_cons(v_int(observed), v_nil());
  l = v_cons(v_int(destroys), l);
  l = v_cons(v_int(creates), l);
  l = v_cons(v_int(calls), l);
  l = v_cons(v_ref(T_TXREF, tx->id), l);
  *out = v_just(l);
  return H_DONE;
}
