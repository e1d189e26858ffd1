/* runtime/journal.c — the undo log that makes an object call all or
 * nothing.  While a program is inside an object call, every change to the
 * store or to its transaction's overlay first records how to undo it; a
 * rejected call rolls the log back to where the call started, which undoes
 * its nested calls too; what it read in a transaction stays in the read
 * set.  At the top level nothing is recorded. */
#include <gc.h>
#include <string.h>
#include "runtime/runtime.h"

typedef enum { J_OBJECT, J_CREATED, J_DESTROYED, J_ENTRY, J_NEW_ENTRY, J_TX } JKind;

typedef struct JEntry {
  JKind kind;
  void *target;          /* Object* or TxEntry* */
  union { Object obj; TxEntry entry; Tx *tx; } old;
} JEntry;

struct Journal {
  JEntry *v;
  size_t n, cap;
};

static JEntry *push(Program *p, JKind kind, void *target) {
  Journal *j = p->journal;
  if (!j) j = p->journal = GC_MALLOC(sizeof *j);
  j->v = gc_grow(j->v, j->n, &j->cap, sizeof *j->v, 64);
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
void journal_tx(Program *p) {
  if (recording(p)) push(p, J_TX, NULL)->old.tx = p->tx;
}

/* A read the rolled-back call made in a transaction: undoing the call
 * does not undo the read, since the call's outcome depended on it. */
typedef struct Read { Tx *tx; Object *obj; uint64_t seen_version; } Read;

void journal_rollback(Runtime *rt, Program *p, size_t mark) {
  Journal *j = p->journal;
  if (!j) return;
  Read *reads = NULL;
  size_t nreads = 0, capreads = 0;
  while (j->n > mark) {
    JEntry *e = &j->v[--j->n];
    switch (e->kind) {
      case J_OBJECT: *(Object *)e->target = e->old.obj; break;
      case J_CREATED: store_remove(&rt->store, ((Object *)e->target)->id); break;
      case J_DESTROYED: store_put(&rt->store, (Object *)e->target); break;
      case J_ENTRY: {
        TxEntry *t = e->target;
        bool observed = t->observed;
        uint64_t seen = t->seen_version;
        *t = e->old.entry;
        if (observed && !t->observed) {  /* keep the read */
          t->observed = true;
          t->seen_version = seen;
        }
        break;
      }
      case J_NEW_ENTRY:
        /* The entry was appended last among those still present. */
        if (p->tx && p->tx->n && p->tx->entries[p->tx->n - 1] == e->target) {
          TxEntry *t = e->target;
          if (t->observed && !t->created) {
            if (nreads == capreads) {
              capreads = capreads ? capreads * 2 : 16;
              Read *nv = GC_MALLOC(capreads * sizeof *nv);
              if (nreads) memcpy(nv, reads, nreads * sizeof *nv);
              reads = nv;
            }
            reads[nreads++] = (Read){ p->tx, t->obj, t->seen_version };
          }
          p->tx->n--;
          /* The index may hold the removed entry: rebuild it on next use. */
          if (p->tx->indexed > p->tx->n) p->tx->indexed = p->tx->index_cap = 0;
        }
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
  /* The reads come back as read-only entries, journaled again so that a
   * rollback of the caller treats them the same way. */
  for (size_t k = nreads; k > 0; k--) {
    Read *r = &reads[k - 1];
    if (p->tx != r->tx || tx_find_entry(p->tx, r->obj->id)) continue;
    TxEntry *t = tx_entry(p, r->obj, NULL);
    t->observed = true;
    t->seen_version = r->seen_version;
  }
}
