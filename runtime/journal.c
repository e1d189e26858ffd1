/* runtime/journal.c — the undo log that makes an object call all or
 * nothing.  While a program is inside an object call, every change to the
 * store or to its transaction's overlay first records how to undo it; a
 * rejected call rolls the log back to where the call started, which undoes
 * its nested calls too; what it read in a transaction stays in the read
 * set.  At the top level nothing is recorded. */
#include <gc.h>
#include <stdlib.h>
#include <string.h>
#include "runtime/runtime.h"

typedef enum { J_CALLS, J_OBJECT, J_CREATED, J_DESTROYED, J_ENTRY, J_NEW_ENTRY, J_TX } JKind;

/* A change, and how to undo it.  Entries are small (a nested call's
 * answered-call count is one of them: a million nested calls make a
 * million entries); the old contents of an object or overlay entry are
 * kept apart, in [saved]. */
typedef struct JEntry {
  JKind kind;
  void *target;          /* Object* or TxEntry* */
  union {
    size_t saved;        /* J_OBJECT, J_ENTRY: index in Journal.saved */
    Tx *tx;              /* J_TX */
  } old;
} JEntry;

typedef union Saved { Object obj; TxEntry entry; } Saved;

/* Both arrays grow like fiber stacks (vm/stackmem.c): no copying and no
 * garbage however deep the calls go. */
struct Journal {
  JEntry *v;
  size_t n, cap;
  StackMem mem;
  Saved *saved;
  size_t nsaved, capsaved;
  StackMem saved_mem;
};

#define JOURNAL_RESERVE ((size_t)4 << 30)

static void release_journal(void *obj, void *data) {
  (void)data;
  Journal *j = obj;
  stackmem_release(j->v, &j->mem);
  stackmem_release(j->saved, &j->saved_mem);
}

static Journal *journal_of(Program *p) {
  Journal *j = p->journal;
  if (j) return j;
  j = p->journal = GC_MALLOC(sizeof *j);
  j->mem = j->saved_mem = (StackMem){ .owner = j, .release = release_journal };
  return j;
}

static void grow(void **array, size_t *cap, size_t need, size_t elem, StackMem *m) {
  void *a = *array;
  if (!stackmem_grow(&a, cap, need, elem, JOURNAL_RESERVE, m)) abort();
  *array = a;
}

static JEntry *push(Program *p, JKind kind, void *target) {
  Journal *j = journal_of(p);
  if (j->n == j->cap) grow((void **)&j->v, &j->cap, j->n + 1, sizeof *j->v, &j->mem);
  JEntry *e = &j->v[j->n++];
  e->kind = kind;
  e->target = target;
  return e;
}

/* Pushes an entry whose undo restores a copy: the copy's slot. */
static Saved *push_saved(Program *p, JKind kind, void *target) {
  Journal *j = journal_of(p);
  if (j->nsaved == j->capsaved) grow((void **)&j->saved, &j->capsaved, j->nsaved + 1, sizeof *j->saved, &j->saved_mem);
  push(p, kind, target)->old.saved = j->nsaved;
  return &j->saved[j->nsaved++];
}

/* Only changes made inside an object call can ever be rolled back. */
static bool recording(Program *p) { return rt_in_call(p); }

void journal_reset(Program *p) {
  if (p->journal) p->journal->n = p->journal->nsaved = 0;
}

size_t journal_mark(Program *p) { return p->journal ? p->journal->n : 0; }

void journal_calls(Program *p, Object *o) {
  if (recording(p)) push(p, J_CALLS, o);
}
void journal_object(Program *p, Object *o) {
  if (recording(p)) push_saved(p, J_OBJECT, o)->obj = *o;
}
void journal_created(Program *p, Object *o) {
  if (recording(p)) push(p, J_CREATED, o);
}
void journal_destroyed(Program *p, Object *o) {
  if (recording(p)) push(p, J_DESTROYED, o);
}
void journal_entry(Program *p, TxEntry *e, bool is_new) {
  if (!recording(p)) return;
  if (is_new) push(p, J_NEW_ENTRY, e);  /* undone by dropping it: nothing to keep */
  else push_saved(p, J_ENTRY, e)->entry = *e;
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
    Saved *saved = e->kind == J_OBJECT || e->kind == J_ENTRY ? &j->saved[--j->nsaved] : NULL;
    switch (e->kind) {
      case J_CALLS: ((Object *)e->target)->calls--; break;
      case J_OBJECT: *(Object *)e->target = saved->obj; break;
      case J_CREATED: store_remove(&rt->store, ((Object *)e->target)->id); break;
      case J_DESTROYED: store_put(&rt->store, (Object *)e->target); break;
      case J_ENTRY: {
        TxEntry *t = e->target;
        bool observed = t->observed;
        uint64_t seen = t->seen_version;
        *t = saved->entry;
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
    if (saved) memset(saved, 0, sizeof *saved);
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
