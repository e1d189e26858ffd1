/* runtime/introspect.c — what a running behavior may ask about itself:
 * get-self, get-input, get-state, set-state, get-sender,
 * get-current-machine, and reify-context.  State reads inside a
 * transaction see its own writes and enter its read set. */
#include <gc.h>
#include "runtime/runtime.h"

/* Each program's root has a state of its own that no other object (and
 * no other program) sees. */
static Object *self_object(Runtime *rt, Program *p) {
  (void)rt;
  if (p->act->self) return p->act->self;
  if (!p->root) {
    p->root = GC_MALLOC(sizeof *p->root);
    p->root->id = ROOT_ID;
    p->root->state = v_nil();
  }
  return p->root;
}

HResult h_GET_SELF(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc;
  *out = v_ref(T_OBJREF, act_self_id(p->act));
  return H_DONE;
}

HResult h_GET_INPUT(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc;
  *out = p->act->input;
  return H_DONE;
}

HResult h_GET_SENDER(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc;
  *out = p->act->has_sender ? v_just(v_ref(T_OBJREF, p->act->sender_id)) : v_nothing();
  return H_DONE;
}

HResult h_GET_CURRENT_MACHINE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)rt, (void)args, (void)argc;
  *out = v_sym(p->act->machine);
  return H_DONE;
}

HResult h_GET_STATE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  Object *o = self_object(rt, p);
  TxEntry *e = tx_find_entry(p->tx, o->id);
  if (p->act->self) tx_observe(p, o, e);  /* no other program writes the root's */
  *out = rt_state_of(p, o, e);
  return H_DONE;
}

/* Whether [st] may become a state, seen from [current]: a list with no
 * procedure in it.  A state grown by consing onto the current one (the
 * usual way) is checked in constant time: the current state passed. */
static bool valid_state(Program *p, Value st, Value current) {
  bool grown = st.tag == T_PAIR && v_eq(st.as.pair->cdr, current);
  if (!grown && !v_is_list(st)) return vm_type_error(p->fiber, "set-state", "list", st);
  if (v_contains_proc(grown ? st.as.pair->car : st))
    return rt_error(p, AE_INVALID_INPUT, "set-state: a state cannot contain a procedure");
  return true;
}

HResult h_SET_STATE(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  Value st = args[0];
  Object *o = self_object(rt, p);
  TxEntry *e = tx_find_entry(p->tx, o->id);
  if (!valid_state(p, st, rt_state_of(p, o, e))) return H_ERROR;
  if (p->tx) {
    e = tx_entry(p, o, e);
    e->has_state = true;
    e->state = st;
  } else {
    journal_object(p, o);
    o->state = st;
    o->version++;
  }
  rt_log(rt, p, EV_STATE_UPDATED, o->id, v_nil(), v_nil(), false);
  *out = v_unspec();
  return H_DONE;
}

HResult h_REIFY_CONTEXT(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)args, (void)argc;
  Activation *a = p->act;
  Value l = v_cons(p->tx ? v_just(v_sym(p->tx->controller)) : v_nothing(), v_nil());
  l = v_cons(v_sym(a->machine), l);
  l = v_cons(a->has_sender ? v_just(v_ref(T_OBJREF, a->sender_id)) : v_nothing(), l);
  l = v_cons(a->input, l);
  l = v_cons(v_ref(T_OBJREF, act_self_id(a)), l);
  (void)rt;
  *out = l;
  return H_DONE;
}
