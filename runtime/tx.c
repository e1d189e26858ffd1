/* runtime/tx.c — transactions: the overlay of a program's open transaction
 * (creates, destroys, state writes, transfers, call log, read set with the
 * versions read), what objects look like through it, and begin / commit /
 * abort.  Commit validates the read set against the store's versions and
 * applies creates, transfers, writes, states, destroys in that order. */
#include <gc.h>
#include <string.h>
#include "runtime/runtime.h"

/* {===== The overlay =====} */

static size_t hash_id(uint64_t id, size_t cap) {
  return (size_t)((id * 0x9E3779B97F4A7C15ull) >> 32) & (cap - 1);
}

static void index_add(Tx *tx, TxEntry *e) {
  size_t j = hash_id(e->obj->id, tx->index_cap);
  while (tx->index[j]) j = (j + 1) & (tx->index_cap - 1);
  tx->index[j] = e;
}

/* Brings the index up to date with entries (rebuilt after a rollback). */
static void reindex(Tx *tx) {
  if (tx->indexed > tx->n || tx->index_cap < (tx->n + 1) * 2) {
    size_t cap = 16;
    while (cap < (tx->n + 1) * 2) cap *= 2;
    tx->index = GC_MALLOC(cap * sizeof *tx->index);
    tx->index_cap = cap;
    tx->indexed = 0;
  }
  for (; tx->indexed < tx->n; tx->indexed++) index_add(tx, tx->entries[tx->indexed]);
}

/* Small transactions (the usual kind) are searched linearly; the hash
 * index is built once one touches more objects. */
#define TX_LINEAR 8

TxEntry *tx_find_entry_in(Tx *tx, uint64_t id) {
  if (tx->n <= TX_LINEAR) {
    for (size_t j = 0; j < tx->n; j++)
      if (tx->entries[j]->obj->id == id) return tx->entries[j];
    return NULL;
  }
  reindex(tx);
  for (size_t j = hash_id(id, tx->index_cap); tx->index[j]; j = (j + 1) & (tx->index_cap - 1))
    if (tx->index[j]->obj->id == id) return tx->index[j];
  return NULL;
}

TxEntry *tx_entry(Program *p, Object *o, TxEntry *e) {
  if (e) {
    journal_entry(p, e, false);
    return e;
  }
  Tx *tx = p->tx;
  /* A reused transaction still holds its predecessor's entry records
   * past n: take those before allocating. */
  if (tx->n < tx->cap && tx->entries[tx->n]) {
    e = tx->entries[tx->n];
    memset(e, 0, sizeof *e);
  } else {
    e = GC_MALLOC(sizeof *e);
  }
  e->obj = o;
  e->state = v_nil();
  tx->entries = gc_grow(tx->entries, tx->n, &tx->cap, sizeof *tx->entries, 4);
  tx->entries[tx->n++] = e;
  journal_entry(p, e, true);
  return e;
}

void tx_observe_in(Program *p, Object *o, TxEntry *e) {
  e = tx_entry(p, o, e);
  e->observed = true;
  e->seen_version = o->version;
}

Object *rt_find(Runtime *rt, Program *p, uint64_t id, TxEntry **entry) {
  TxEntry *e = tx_find_entry(p->tx, id);
  if (entry) *entry = e;
  if (e && e->created) return e->obj;
  return store_get(&rt->store, id);
}

Value rt_state_of(Program *p, Object *o, TxEntry *e) {
  (void)p;
  return e && e->has_state ? e->state : o->state;
}

Symbol *rt_controller_of(Object *o, TxEntry *e) {
  (void)e;  /* a pending transfer takes effect at commit */
  return o->controller;
}

/* A transaction only touches objects of its own controller (its own
 * pending creates excepted). */
bool tx_check_controller(Program *p, Object *o, TxEntry *e) {
  if (!p->tx || (e && e->created)) return true;
  Symbol *c = rt_controller_of(o, e);
  if (c == p->tx->controller) return true;
  return rt_error(p, AE_CROSS_CONTROLLER_TX, "object %llu is controlled by %s, the transaction by %s",
                  (unsigned long long)o->id, c ? c->name : "nobody", p->tx->controller->name);
}

/* {===== begin, commit, abort =====} */

static bool tx_arg(Program *p, Value v, const char *who) {
  if (v.tag != T_TXREF) return vm_type_error(p->fiber, who, "transaction id", v);
  if (!p->tx) return rt_error(p, AE_NO_ACTIVE_TX, "%s: no transaction is open", who);
  if (p->tx->id != v.as.u)
    return rt_error(p, AE_TX_NOT_FOUND, "%s: transaction %llu is not the open one (%llu)", who,
                    (unsigned long long)v.as.u, (unsigned long long)p->tx->id);
  return true;
}

HResult h_BEGIN_TX(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  if (p->tx)
    return rt_error(p, AE_INVALID_DURING_TX, "begin-tx: transaction %llu is already open",
                    (unsigned long long)p->tx->id) ? H_DONE : H_ERROR;
  Symbol *ctrl = rt_executing_controller(rt, p);
  if (argc == 1) {
    if (args[0].tag != T_SYM) return vm_type_error(p->fiber, "begin-tx", "controller symbol", args[0]), H_ERROR;
    ctrl = args[0].as.sym;
  }
  Tx *tx = p->spare_tx;
  if (tx) {
    p->spare_tx = NULL;
    tx->n = tx->indexed = tx->index_cap = 0;
    tx->index = NULL;
  } else {
    tx = GC_MALLOC(sizeof *tx);
  }
  tx->id = rt->next_tx++;
  tx->controller = ctrl;
  journal_tx(p);
  p->tx = tx;
  rt_log(rt, p, EV_TRANSACTION_STARTED, tx->id, v_nil(), v_nil(), false);
  *out = v_ref(T_TXREF, tx->id);
  return H_DONE;
}

/* Closes p's transaction.  At a program's top level nothing can refer to
 * it any more (the undo journal only exists inside calls), so its memory
 * serves the next begin-tx. */
static void tx_end(Program *p) {
  Tx *tx = p->tx;
  journal_tx(p);
  p->tx = NULL;
  if (!rt_in_call(p)) p->spare_tx = tx;
}

static bool conflicts(Runtime *rt, Tx *tx) {
  for (size_t j = 0; j < tx->n; j++) {
    TxEntry *e = tx->entries[j];
    if (!e->observed || e->created) continue;
    Object *now = store_get(&rt->store, e->obj->id);
    if (now != e->obj || now->version != e->seen_version) return true;
  }
  return false;
}

/* Applies the overlay: creates, transfers, writes, states, destroys.
 * Inside an object call every change is journaled, so a rejected call
 * undoes the commit too. */
static void apply(Runtime *rt, Program *p, Tx *tx) {
  for (size_t j = 0; j < tx->n; j++)
    if (tx->entries[j]->created) {
      store_put(&rt->store, tx->entries[j]->obj);
      journal_created(p, tx->entries[j]->obj);
    }
  for (size_t j = 0; j < tx->n; j++) {
    TxEntry *e = tx->entries[j];
    if (!e->transferred) continue;
    journal_object(p, e->obj);
    Symbol *from = e->obj->controller;
    e->obj->controller = e->controller;
    e->obj->version++;
    rt_log(rt, p, EV_OBJECT_TRANSFERRED, e->obj->id, v_sym(from ? from : sym_intern_cstr("none")),
           v_sym(e->controller), true);
  }
  /* Writes: the inputs the transaction's calls delivered, into the
   * objects' histories. */
  for (size_t j = 0; j < tx->n; j++) {
    TxEntry *e = tx->entries[j];
    if (!e->calls) continue;
    journal_object(p, e->obj);
    e->obj->calls += e->calls;
  }
  for (size_t j = 0; j < tx->n; j++) {
    TxEntry *e = tx->entries[j];
    if (!e->has_state) continue;
    journal_object(p, e->obj);
    e->obj->state = e->state;
    e->obj->version++;
  }
  for (size_t j = 0; j < tx->n; j++) {
    TxEntry *e = tx->entries[j];
    if (!e->destroyed) continue;
    journal_object(p, e->obj);
    e->obj->version++;
    e->obj->state = v_nil();
    journal_destroyed(p, e->obj);
    store_remove(&rt->store, e->obj->id);
  }
}

HResult h_COMMIT_TX(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (!tx_arg(p, args[0], "commit-tx")) return H_ERROR;
  Tx *tx = p->tx;
  if (conflicts(rt, tx)) {
    /* Another program's commit changed what this one read: nothing of it
     * applies. */
    rt_log(rt, p, EV_TRANSACTION_ABORTED, tx->id, v_nil(), v_nil(), false);
    tx_end(p);
    *out = v_bool(false);
    return H_DONE;
  }
  apply(rt, p, tx);
  /* Logged while the transaction is still the program's: the entry
   * carries its controller, as TransactionStarted does. */
  rt_log(rt, p, EV_TRANSACTION_COMMITTED, tx->id, v_nil(), v_nil(), false);
  tx_end(p);
  *out = v_bool(true);
  return H_DONE;
}

void tx_abort(Runtime *rt, Program *p) {
  Tx *tx = p->tx;
  if (!tx) return;
  rt_log(rt, p, EV_TRANSACTION_ABORTED, tx->id, v_nil(), v_nil(), false);
  tx_end(p);
}

HResult h_ABORT_TX(Runtime *rt, Program *p, Value *args, int argc, Value *out) {
  (void)argc;
  if (!tx_arg(p, args[0], "abort-tx")) return H_ERROR;
  tx_abort(rt, p);
  *out = v_unspec();
  return H_DONE;
}
