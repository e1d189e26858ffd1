/* runtime/journal.c — the undo log that makes an object call all or
 * nothing.  While a program is inside an object call, every change to the
 * store or to its transaction's overlay first records how to undo it; a
 * rejected call rolls the log back to where the call started, which undoes
 * its nested calls too.  At the top level nothing is recorded. */
#include <gc.h>
#include <string.h>
#include "runtime/runtime.h"

typedef enum { J_OBJECT, J_CREATED, J_DESTROYED, J_ENTRY, J_NEW_ENTRY, J_CALL_LOG, J_TX } JKind;

typedef struct JEntry {
  JKind kind;
  void *target;          /* Object* or TxEntry* */
  union { Object obj; TxEntry entry; Value log; Tx *tx; } old;
} JEntry;

struct Journal {
  JEntry *v;
  size_t n, cap;
};

static JEntry *push(Program *p, JKind kind, void *target) {
  Journal *j = p->journal;
  if (!j) j = p->journal = GC_MALLOC(sizeof *j);
  if (j->n == j->cap) {
    size_t cap = j->cap ? j->cap * 2 : 64;
    JEntry *nv = GC_MALLOC(cap * sizeof *nv);
    if (j->n) memcpy(nv, j->v, j->n * sizeof *nv);
    j->v = nv;
    j->cap = cap;
  }
  JEntry *e = &j->v[j->n++];
  e->kind = kind;
  e->target = target;
  return e;
}

/* Only changes made inside an object call can ever be rolled back. */
static bool recording(Program *p) { return p->act && p->act->prev; }

void journal_reset(Program *p) {
  if (p->journal) p->journal->n = 0;
}

size_t journal_mark(Program *p) { return p->journal ? p->journal->n : 0; }

void journal_object(Program *p, Object *o) {
  if (recording(p)) push(p, J_OBJECT, o)->old.obj = *o;
}
void journal_created(Program *p, Object *o) {
  if (recording(p)) push(p, J_CREATED, o);
}
void journal_destroyed(Program *p, Object *o) {
  if (recording(p)) push(p, J_DESTROYED, o);
}
void journal_entry(Program *p, TxEntry *e, bool is_new) {
  if (!recording(p)) return;
  JEntry *j = push(p, is_new ? J_NEW_ENTRY : J_ENTRY, e);
  j->old.entry = *e;
}
void journal_call_log(Program *p) {
  if (recording(p)) push(p, J_CALL_LOG, p->tx)->old.log = p->tx->call_log;
}
void journal_tx(Program *p) {
  if (recording(p)) push(p, J_TX, NULL)->old.tx = p->tx;
}

void journal_rollback(Runtime *rt, Program *p, size_t mark) {
  Journal *j = p->journal;
  if (!j) return;
  while (j->n > mark) {
    JEntry *e = &j->v[--j->n];
    switch (e->kind) {
      case J_OBJECT: *(Object *)e->target = e->old.obj; break;
      case J_CREATED: store_remove(&rt->store, ((Object *)e->target)->id); break;
      case J_DESTROYED: store_put(&rt->store, (Object *)e->target); break;
      case J_ENTRY: *(TxEntry *)e->target = e->old.entry; break;
      case J_NEW_ENTRY:
        /* The entry was appended last among those still present. */
        if (p->tx && p->tx->n && p->tx->entries[p->tx->n - 1] == e->target) {
          p->tx->n--;
          /* The index may hold the removed entry: rebuild it on next use. */
          if (p->tx->indexed > p->tx->n) p->tx->indexed = p->tx->index_cap = 0;
        }
        break;
      case J_CALL_LOG:
        if (p->tx == e->target) p->tx->call_log = e->old.log;
        break;
      case J_TX: {
        /* The call opened, committed or aborted the program's transaction:
         * a transaction it opened is dropped, one it closed is open again
         * (a commit's changes to the store were journaled too). */
        Tx *opened = p->tx;
        p->tx = e->old.tx;
        if (opened && opened != p->tx)
          rt_log(rt, p, EV_TRANSACTION_ABORTED, opened->id, v_nil(), v_nil(), false);
        break;
      }
    }
    memset(e, 0, sizeof *e);
  }
}
