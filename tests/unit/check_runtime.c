/* tests/unit/check_runtime.c — the AVM runtime driven through rt_*
 * directly: the object store at 100,000 objects (puts, gets, removals,
 * tombstone reuse, id order), the undo journal (objects, creates,
 * destroys, transaction entries and the overlay index, the transaction
 * itself; nested marks; reads survive), and whole programs through rt_run_main: results,
 * errors, and a PingPong chain of 100,000 nested object calls that runs
 * in a bounded C stack and is undone whole when its innermost call fails;
 * runtime error reports: locations, backtraces through functions and object
 * calls (bounded), from source and from bytecode, behavior suggestions; the
 * trace views; sessions (rt_run_session, the REPL's inputs): what carries
 * over from one program to the next, failures, interrupts, redeclarations. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include "compiler/compiler.h"
#include "runtime/runtime.h"
#include "stdlib/prelude.h"
#include "vm/loader.h"

static VM *vm;

/* {===== Helpers =====} */

static Object *new_object(uint64_t id, const char *behavior) {
  Object *o = GC_MALLOC(sizeof *o);
  o->id = id;
  o->behavior = sym_intern_cstr(behavior);
  o->state = v_nil();
  o->creating_controller = o->controller = sym_intern_cstr("local");
  o->machine = sym_intern_cstr("local");
  return o;
}

/* A program that is inside one object call, so the journal records. */
static Program *program_in_call(void) {
  Program *p = GC_MALLOC(sizeof *p);
  act_push(p);                              /* the root */
  act_push(p)->self = new_object(1, "cell");  /* the call */
  return p;
}

static Tx *new_tx(uint64_t id) {
  Tx *tx = GC_MALLOC(sizeof *tx);
  tx->id = id;
  tx->controller = sym_intern_cstr("local");
  return tx;
}

static char *written(Value v) { return v_write_to_string(v, false); }

/* Compiles [src] into a fresh runtime, its declarations loaded; gives the
 * program's main procedure. */
static Value compile_into(const char *src, Runtime **out_rt) {
  Diag d;
  diag_init(&d, stderr);
  const char *name = diag_add_source(&d, "test.avm", src, strlen(src));
  CompOptions opt = { .allow_unsafe = true };
  Module *m = comp_source(&d, vm, name, src, strlen(src), &opt);
  ck_assert_ptr_nonnull(m);
  vm_link(vm, m);
  Runtime *rt = rt_new(vm, "local");
  ck_assert(rt_load_module(rt, m, stderr));
  *out_rt = rt;
  return proto_main_closure(m);
}

/* Compiles [src] and runs it as the main program of a fresh runtime. */
static Program *run(const char *src, Runtime **out_rt) {
  Runtime *rt;
  Value main = compile_into(src, &rt);
  Program *p = rt_run_main(rt, main);
  if (out_rt) *out_rt = rt;
  return p;
}

static const char *result_of(const char *src) {
  Program *p = run(src, NULL);
  ck_assert_msg(p->status == PS_DONE, "program failed: %s", p->error.msg ? p->error.msg : "?");
  return written(p->result);
}

static const char *error_of(const char *src) {
  Program *p = run(src, NULL);
  ck_assert_int_eq(p->status, PS_FAILED);
  ck_assert_ptr_nonnull(p->error.msg);
  return p->error.msg;
}

/* {===== The store =====} */

#define NOBJ 100000

START_TEST(test_store_100k) {
  Store s = { 0 };
  ck_assert_ptr_null(store_get(&s, 1));
  store_remove(&s, 1);  /* removing from an empty store is harmless */
  Object **objs = GC_MALLOC(NOBJ * sizeof *objs);
  for (uint64_t id = 1; id <= NOBJ; id++) {
    objs[id - 1] = new_object(id, "cell");
    store_put(&s, objs[id - 1]);
  }
  ck_assert_uint_eq(s.count, NOBJ);
  for (uint64_t id = 1; id <= NOBJ; id++) ck_assert_ptr_eq(store_get(&s, id), objs[id - 1]);
  ck_assert_ptr_null(store_get(&s, 0));
  ck_assert_ptr_null(store_get(&s, NOBJ + 1));

  /* Remove every odd id: the even ones stay findable past the tombstones. */
  for (uint64_t id = 1; id <= NOBJ; id += 2) store_remove(&s, id);
  ck_assert_uint_eq(s.count, NOBJ / 2);
  for (uint64_t id = 1; id <= NOBJ; id++) {
    if (id % 2) ck_assert_ptr_null(store_get(&s, id));
    else ck_assert_ptr_eq(store_get(&s, id), objs[id - 1]);
  }
  store_remove(&s, 1);  /* twice: no effect */
  ck_assert_uint_eq(s.count, NOBJ / 2);

  /* Putting an id again replaces its object; new ids reuse tombstones. */
  Object *again = new_object(2, "other");
  store_put(&s, again);
  ck_assert_ptr_eq(store_get(&s, 2), again);
  ck_assert_uint_eq(s.count, NOBJ / 2);
  for (uint64_t id = 1; id <= NOBJ; id += 2) store_put(&s, objs[id - 1]);
  ck_assert_uint_eq(s.count, NOBJ);
  for (uint64_t id = NOBJ + 1; id <= 2 * NOBJ; id++) store_put(&s, new_object(id, "cell"));
  ck_assert_uint_eq(s.count, 2 * NOBJ);
  ck_assert_ptr_eq(store_get(&s, 1), objs[0]);
  ck_assert_uint_eq(store_get(&s, 2 * NOBJ)->id, 2 * NOBJ);

  /* Many removals and re-puts do not fill the table with tombstones. */
  for (int round = 0; round < 20; round++) {
    for (uint64_t id = 1; id <= NOBJ; id++) store_remove(&s, id);
    for (uint64_t id = 1; id <= NOBJ; id++) store_put(&s, objs[id - 1]);
  }
  ck_assert_uint_eq(s.count, 2 * NOBJ);
  ck_assert_uint_lt(s.used, s.cap);
  ck_assert_uint_le(s.cap, 8 * 2 * NOBJ);

  /* store_sorted lists live objects in id order. */
  for (uint64_t id = NOBJ + 1; id <= 2 * NOBJ; id++) store_remove(&s, id);
  Object **sorted;
  size_t n = store_sorted(&s, &sorted);
  ck_assert_uint_eq(n, NOBJ);
  for (size_t j = 0; j < n; j++) ck_assert_uint_eq(sorted[j]->id, j + 1);
}
END_TEST

/* Objects that come and go, two at a time, by the hundred thousand (a
 * program that creates and destroys as it runs): the table stays the
 * size of what it holds, and finds what it holds. */
START_TEST(test_store_churn) {
  Store s = { 0 };
  for (uint64_t id = 1; id <= NOBJ; id += 2) {
    store_put(&s, new_object(id, "cell"));
    store_put(&s, new_object(id + 1, "cell"));
    ck_assert_uint_eq(store_get(&s, id)->id, id);
    store_remove(&s, id);
    store_remove(&s, id + 1);
    ck_assert_ptr_null(store_get(&s, id + 1));
  }
  ck_assert_uint_eq(s.count, 0);
  ck_assert_uint_eq(s.cap, 64);
}
END_TEST

/* {===== The journal =====} */

START_TEST(test_journal_store_changes) {
  Runtime *rt = rt_new(vm, "local");
  Program *p = program_in_call();
  Object *a = new_object(1, "cell"), *b = new_object(2, "cell");
  store_put(&rt->store, a);
  store_put(&rt->store, b);
  a->state = v_cons(v_int(1), v_nil());
  a->version = 3;

  size_t mark = journal_mark(p);
  journal_object(p, a);
  a->state = v_cons(v_int(2), v_nil());
  a->version++;
  a->controller = sym_intern_cstr("bob");
  Object *c = new_object(3, "cell");
  store_put(&rt->store, c);
  journal_created(p, c);
  journal_destroyed(p, b);
  store_remove(&rt->store, 2);
  ck_assert_ptr_null(store_get(&rt->store, 2));

  journal_rollback(rt, p, mark);
  ck_assert_str_eq(written(a->state), "(1)");
  ck_assert_uint_eq(a->version, 3);
  ck_assert_str_eq(a->controller->name, "local");
  ck_assert_ptr_null(store_get(&rt->store, 3));
  ck_assert_ptr_eq(store_get(&rt->store, 2), b);
  ck_assert_uint_eq(rt->store.count, 2);
  ck_assert_uint_eq(journal_mark(p), mark);
}
END_TEST

START_TEST(test_journal_nested_marks) {
  Runtime *rt = rt_new(vm, "local");
  Program *p = program_in_call();
  Object *a = new_object(1, "cell");
  store_put(&rt->store, a);

  size_t outer = journal_mark(p);
  journal_object(p, a);
  a->state = v_cons(v_sym(sym_intern_cstr("outer")), v_nil());
  size_t inner = journal_mark(p);
  ck_assert_uint_gt(inner, outer);
  journal_object(p, a);
  a->state = v_cons(v_sym(sym_intern_cstr("inner")), v_nil());
  Object *c = new_object(2, "cell");
  store_put(&rt->store, c);
  journal_created(p, c);

  /* The inner call is rejected: only its changes go. */
  journal_rollback(rt, p, inner);
  ck_assert_str_eq(written(a->state), "(outer)");
  ck_assert_ptr_null(store_get(&rt->store, 2));
  /* Then the outer one. */
  journal_rollback(rt, p, outer);
  ck_assert_str_eq(written(a->state), "()");

  /* At a program's root nothing is recorded. */
  Program *top = program_in_call();
  top->act--;
  top->nacts--;
  size_t m = journal_mark(top);
  journal_object(top, a);
  a->state = v_cons(v_int(9), v_nil());
  ck_assert_uint_eq(journal_mark(top), m);
  journal_rollback(rt, top, m);
  ck_assert_str_eq(written(a->state), "(9)");

  /* journal_reset forgets everything recorded. */
  journal_object(p, a);
  ck_assert_uint_gt(journal_mark(p), 0);
  journal_reset(p);
  ck_assert_uint_eq(journal_mark(p), 0);
}
END_TEST

START_TEST(test_journal_tx_entries) {
  Runtime *rt = rt_new(vm, "local");
  Program *p = program_in_call();
  p->tx = new_tx(1);
  Object *a = new_object(1, "cell"), *b = new_object(2, "cell");
  store_put(&rt->store, a);
  store_put(&rt->store, b);

  /* An entry that existed before the mark gets its old contents back. */
  TxEntry *ea = tx_entry(p, a, NULL);
  ea->observed = true;
  size_t mark = journal_mark(p);
  ea = tx_entry(p, a, tx_find_entry(p->tx, 1));
  ea->has_state = true;
  ea->state = v_cons(v_int(5), v_nil());
  ea->destroyed = true;
  TxEntry *eb = tx_entry(p, b, NULL);
  eb->has_state = true;
  ck_assert_ptr_eq(tx_find_entry(p->tx, 2), eb);
  ck_assert_uint_eq(p->tx->n, 2);
  ea->calls++;

  journal_rollback(rt, p, mark);
  ck_assert_uint_eq(p->tx->n, 1);
  ck_assert_ptr_eq(tx_find_entry(p->tx, 1), ea);
  ck_assert(ea->observed);
  ck_assert(!ea->has_state);
  ck_assert(!ea->destroyed);
  ck_assert_uint_eq(ea->calls, 0);
  ck_assert_ptr_null(tx_find_entry(p->tx, 2));
}
END_TEST

START_TEST(test_journal_keeps_reads) {
  /* What a rolled-back call read stays in the read set, without its
   * writes; what it created goes. */
  Runtime *rt = rt_new(vm, "local");
  Program *p = program_in_call();
  p->tx = new_tx(1);
  Object *a = new_object(1, "cell"), *b = new_object(2, "cell"), *c = new_object(3, "cell");
  b->version = 4;
  TxEntry *ea = tx_entry(p, a, NULL);  /* before the call, not yet observed */
  ea->has_state = true;
  size_t mark = journal_mark(p);
  tx_observe(p, a, tx_find_entry(p->tx, 1));
  ck_assert(ea->observed);
  tx_observe(p, b, NULL);
  TxEntry *eb = tx_find_entry(p->tx, 2);
  ck_assert_ptr_nonnull(eb);
  eb = tx_entry(p, b, eb);
  eb->has_state = true;
  eb->destroyed = true;
  TxEntry *ec = tx_entry(p, c, NULL);
  ec->created = true;
  ck_assert_uint_eq(p->tx->n, 3);

  journal_rollback(rt, p, mark);
  ck_assert(ea->observed);
  ck_assert(ea->has_state);
  ck_assert_uint_eq(p->tx->n, 2);
  TxEntry *rb = tx_find_entry(p->tx, 2);
  ck_assert_ptr_nonnull(rb);
  ck_assert(rb->observed);
  ck_assert_uint_eq(rb->seen_version, 4);
  ck_assert(!rb->has_state);
  ck_assert(!rb->destroyed);
  ck_assert_ptr_null(tx_find_entry(p->tx, 3));
  /* Rolled back again from further out, the reads still stay; the write
   * made before the inner call goes. */
  journal_rollback(rt, p, 0);
  ck_assert_uint_eq(p->tx->n, 2);
  ck_assert(tx_find_entry(p->tx, 2)->observed);
  TxEntry *ra = tx_find_entry(p->tx, 1);
  ck_assert_ptr_nonnull(ra);
  ck_assert(ra->observed);
  ck_assert(!ra->has_state);
}
END_TEST

START_TEST(test_journal_tx_index_after_rollback) {
  /* A rollback to an empty overlay, after the index had seen the removed
   * entry: the next entry must be found, the removed one not. */
  Runtime *rt = rt_new(vm, "local");
  Program *p = program_in_call();
  p->tx = new_tx(1);
  Object *a = new_object(1, "cell"), *b = new_object(2, "cell");
  size_t mark = journal_mark(p);
  TxEntry *ea = tx_entry(p, a, NULL);
  ck_assert_ptr_eq(tx_find_entry(p->tx, 1), ea);
  journal_rollback(rt, p, mark);
  ck_assert_uint_eq(p->tx->n, 0);
  TxEntry *eb = tx_entry(p, b, NULL);
  ck_assert_ptr_eq(tx_find_entry(p->tx, 2), eb);
  ck_assert_ptr_null(tx_find_entry(p->tx, 1));
}
END_TEST

START_TEST(test_journal_tx_open_close) {
  Runtime *rt = rt_new(vm, "local");
  Program *p = program_in_call();
  /* A transaction opened inside the call is dropped. */
  size_t mark = journal_mark(p);
  journal_tx(p);
  p->tx = new_tx(7);
  journal_rollback(rt, p, mark);
  ck_assert_ptr_null(p->tx);
  /* One closed inside the call is open again. */
  Tx *tx = new_tx(8);
  p->tx = tx;
  mark = journal_mark(p);
  journal_tx(p);
  p->tx = NULL;
  journal_rollback(rt, p, mark);
  ck_assert_ptr_eq(p->tx, tx);
}
END_TEST

/* {===== Programs =====} */

START_TEST(test_programs) {
  ck_assert_str_eq(result_of("(+ 1 2)"), "3");
  ck_assert_str_eq(result_of("(behavior echo (m) m) (call (create-obj 'echo) '(hi 1))"), "(just (hi 1))");
  ck_assert_str_eq(result_of("(behavior f (m) (error \"no\")) (call (create-obj 'f) 1)"), "nothing");
  ck_assert_str_eq(result_of("(list (get-self) (get-sender))"), "(#<object 0> nothing)");
  ck_assert_str_eq(result_of("(behavior c (m) (get-sender)) (call (create-obj 'c) 0)"), "(just (just #<object 0>))");
  ck_assert_str_eq(result_of("(define t (begin-tx)) (commit-tx t)"), "#t");
  ck_assert_str_eq(error_of("(create-obj 'ghost)"),
                   "BehaviorNotFound: create-obj: no loaded module declares a behavior named ghost");
  ck_assert_str_eq(error_of("(behavior c (m) m) (define o (create-obj 'c 'bob)) (begin-tx 'alice) (call o 1)"),
                   "CrossControllerTx: object 1 is controlled by bob, the transaction by alice");
  ck_assert_str_eq(error_of("(begin-tx) (begin-tx)"), "InvalidDuringTx: begin-tx: transaction 1 is already open");
}
END_TEST

START_TEST(test_store_through_programs) {
  Runtime *rt;
  Program *p = run("(behavior c (m) (set-state (list m)) m)\n"
                   "(define (make n) (if (= n 0) 'done (begin (call (create-obj 'c) n) (make (- n 1)))))\n"
                   "(make 1000)",
                   &rt);
  ck_assert_int_eq(p->status, PS_DONE);
  ck_assert_uint_eq(rt->store.count, 1000);
  Object *o = store_get(&rt->store, 1);
  ck_assert_ptr_nonnull(o);
  ck_assert_str_eq(written(o->state), "(1000)");
  ck_assert_uint_eq(o->version, 1);
  ck_assert_uint_eq(o->calls, 1);
  ck_assert_str_eq(written(store_get(&rt->store, 1000)->state), "(1)");
  ck_assert(p->tx == NULL);
}
END_TEST

/* PingPong: two objects call each other, each call nested in the last;
 * each sets its state to the count it got, so a ends with (2), b with (1). */
static const char *ping_pong =
  "(behavior pinger (msg)\n"
  "  (match msg\n"
  "    (('set v) (set-state (list v)) v)\n"
  "    ((0 _ fail?) (if fail? (error \"innermost call fails\") 0))\n"
  "    ((n other fail?)\n"
  "     (set-state (list n))\n"
  "     (+ 1 (from-just (call other (list (- n 1) (get-self) fail?)))))\n"
  "    ('get (get-state))))\n"
  "(define a (create-obj 'pinger))\n"
  "(define b (create-obj 'pinger))\n";

static void bound_c_stack(void) {
  /* The main thread's stack grows on demand up to RLIMIT_STACK: with a
   * small limit, C recursion per nested call would crash the test. */
  struct rlimit rl;
  ck_assert_int_eq(getrlimit(RLIMIT_STACK, &rl), 0);
  rlim_t limit = 2 * 1024 * 1024;
  if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > limit) {
    rl.rlim_cur = limit;
    ck_assert_int_eq(setrlimit(RLIMIT_STACK, &rl), 0);
  }
}

static char *concat(const char *a, const char *b) {
  char *s = GC_MALLOC_ATOMIC(strlen(a) + strlen(b) + 1);
  strcpy(s, a);
  strcat(s, b);
  return s;
}

START_TEST(test_ping_pong_100k) {
  bound_c_stack();
  ck_assert_str_eq(result_of(concat(ping_pong, "(list (call a (list 100000 b #f)) (call a 'get) (call b 'get))")),
                   "((just 100000) (just (2)) (just (1)))");
  /* The same chain inside a transaction, then committed. */
  ck_assert_str_eq(result_of(concat(ping_pong, "(define t (begin-tx))\n"
                                               "(define r (call a (list 100000 b #f)))\n"
                                               "(list r (commit-tx t) (call a 'get) (call b 'get))")),
                   "((just 100000) #t (just (2)) (just (1)))");
}
END_TEST

START_TEST(test_ping_pong_100k_rejected) {
  /* The innermost of 100,000 nested calls fails: each caller's
   * from-just then fails too, and every state write is undone. */
  bound_c_stack();
  ck_assert_str_eq(result_of(concat(ping_pong, "(call a '(set 2))\n"
                                               "(list (call a (list 100000 b #t)) (call a 'get) (call b 'get))")),
                   "(nothing (just (2)) (just ()))");
  ck_assert_str_eq(result_of(concat(ping_pong, "(define t (begin-tx))\n"
                                               "(define r (call a (list 100000 b #t)))\n"
                                               "(list r (call a 'get) (commit-tx t) (call a 'get))")),
                   "(nothing (just ()) #t (just ()))");
}
END_TEST

/* {===== The trace =====} */

/* Runs [src] with the trace streamed in [format] to a temporary file,
 * live or by the writer thread; returns what was written. */
static char *traced_from(const char *src, TraceFormat format, bool live, uint64_t clock) {
  Runtime *rt;
  Value main = compile_into(src, &rt);
  rt->trace.clock = clock;
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  trace_start(rt, f, format, live);
  rt_run_main(rt, main);
  ck_assert(trace_stop(rt));
  long len = ftell(f);
  rewind(f);
  char *text = GC_MALLOC_ATOMIC((size_t)len + 1);
  ck_assert_int_eq(fread(text, 1, (size_t)len, f), (size_t)len);
  text[len] = '\0';
  fclose(f);
  return text;
}

static char *traced_as(const char *src, TraceFormat format, bool live) { return traced_from(src, format, live, 0); }
static char *traced(const char *src, TraceFormat format) { return traced_as(src, format, false); }

/* The writer thread's records keep a timestamp below 2^48 in their first
 * word and a larger one in a word of its own, and name the controller
 * only when it changes: the trace reads the same either way. */
START_TEST(test_trace_records) {
  const char *src = "(behavior keep (m) (do (set-state (list m)) (return m)))\n"
                    "(define a (create-obj 'keep 'c2))\n(call a 1)\n(commit-tx (begin-tx))\n(call a 2)";
  const char *want = "[281474976710654] created obj:1 (behavior: keep) [ctrl:local]\n"
                     "[281474976710655] state updated: obj:1 [ctrl:c2]\n"
                     "[281474976710656] called obj:1 with 1 -> 1 [ctrl:c2]\n"
                     "[281474976710657] tx started: tx:1 [ctrl:local]\n"
                     "[281474976710658] tx committed: tx:1 [ctrl:local]\n"
                     "[281474976710659] state updated: obj:1 [ctrl:c2]\n"
                     "[281474976710660] called obj:1 with 2 -> 2 [ctrl:c2]\n";
  uint64_t clock = ((uint64_t)1 << 48) - 2;
  ck_assert_str_eq(traced_from(src, TF_TEXT, false, clock), want);
  ck_assert_str_eq(traced_from(src, TF_TEXT, true, clock), want);
  ck_assert_str_eq(traced_from(src, TF_JSON, false, UINT64_MAX - 10), traced_from(src, TF_JSON, true, UINT64_MAX - 10));
}
END_TEST

/* 20,000 calls make about 1 MB of trace: written in batches, none lost. */
START_TEST(test_trace_long_text) {
  char *t = traced("(behavior echo (m) m)\n(define e (create-obj 'echo))\n"
                   "(let loop ((i 0)) (when (< i 20000) (call e i) (loop (+ i 1))))",
                   TF_TEXT);
  size_t lines = 0;
  for (char *c = t; *c; c++) lines += *c == '\n';
  ck_assert_uint_eq(lines, 20001);
  const char *first = "[0] created obj:1 (behavior: echo) [ctrl:local]\n";
  ck_assert(strncmp(t, first, strlen(first)) == 0);
  ck_assert_ptr_nonnull(strstr(t, "\n[20000] called obj:1 with 19999 -> 19999 [ctrl:local]\n"));
}
END_TEST

/* A trace printed by the writer thread, in batches, is the trace printed
 * live, event by event, in every view: over several rings of batches, with
 * transactions, a rejected call, strings and an error that ends the run. */
START_TEST(test_trace_batched_as_live) {
  const char *src =
    "(behavior acc (m) (match m (('add n) (do (s <- (get-state)) (set-state (list n s)) (return n)))\n"
    "                           (('bad) (car 1))))\n"
    "(define a (create-obj 'acc))\n"
    "(let loop ((i 0)) (when (< i 3000) (let ((tx (begin-tx))) (call a (list 'add i)) (commit-tx tx)) (loop (+ i 1))))\n"
    "(call a '(bad))\n(call a \"text\")\n(begin-tx)\n(car 5)";
  for (int f = 0; f < TF__COUNT; f++) {
    char *batched = traced_as(src, (TraceFormat)f, false), *live = traced_as(src, (TraceFormat)f, true);
    ck_assert_msg(strcmp(batched, live) == 0, "%s view differs", trace_format_names[f]);
    ck_assert_uint_gt(strlen(live), 300000);
  }
}
END_TEST

/* The trace keeps the text of small lists by address: a recurring
 * constant and 20,000 fresh lists (collected and their addresses reused
 * as the run goes) each print as what they are. */
START_TEST(test_trace_memo_by_address) {
  char *t = traced("(behavior echo (m) m)\n(define e (create-obj 'echo))\n"
                   "(let loop ((i 0)) (when (< i 20000) (call e (list i 'x)) (call e '(same \"msg\")) (loop (+ i 1))))",
                   TF_TEXT);
  char *line = strchr(t, '\n') + 1;
  for (int i = 0; i < 20000; i++) {
    char want[128];
    int n = snprintf(want, sizeof want, "[%d] called obj:1 with (%d x) -> (%d x) [ctrl:local]\n", 2 * i + 1, i, i);
    ck_assert_msg(strncmp(line, want, (size_t)n) == 0, "line %d: %.60s", 2 * i + 1, line);
    line += n;
    n = snprintf(want, sizeof want, "[%d] called obj:1 with (same \"msg\") -> (same \"msg\") [ctrl:local]\n", 2 * i + 2);
    ck_assert_msg(strncmp(line, want, (size_t)n) == 0, "line %d: %.60s", 2 * i + 2, line);
    line += n;
  }
  ck_assert_str_eq(line, "");
}
END_TEST

/* A transaction is a box; one the program leaves open is aborted inside it. */
START_TEST(test_trace_mermaid_boxes) {
  char *t = traced("(behavior echo (m) m)\n(define e (create-obj 'echo))\n(begin-tx)\n(call e '(a #t))", TF_MERMAID);
  ck_assert_str_eq(t,
                   "sequenceDiagram\n"
                   "    participant program\n"
                   "    participant o1 as obj:1 (echo)\n"
                   "    Note over o1: created obj:1 (behavior: echo)\n"
                   "    rect rgba(120, 160, 255, 0.15)\n"
                   "    Note over program: tx started: tx:1\n"
                   "    program->>o1: (a #35;t)\n"
                   "    o1-->>program: (a #35;t)\n"
                   "    Note over program: tx aborted: tx:1\n"
                   "    end\n");
}
END_TEST

/* A box still open when the view stops (a REPL session) is closed, so
 * the chart stays valid Mermaid. */
START_TEST(test_trace_mermaid_closes_boxes) {
  Runtime *rt = rt_new(vm, "local");
  FILE *f = tmpfile();
  ck_assert_ptr_nonnull(f);
  trace_start(rt, f, TF_MERMAID, false);
  rt_log(rt, NULL, EV_TRANSACTION_STARTED, 7, v_nil(), v_nil(), false);
  ck_assert(trace_stop(rt));
  char text[256];
  rewind(f);
  size_t n = fread(text, 1, sizeof text - 1, f);
  text[n] = '\0';
  fclose(f);
  ck_assert_str_eq(text, "sequenceDiagram\n    participant program\n    rect rgba(120, 160, 255, 0.15)\n"
                         "    Note over program: tx started: tx:7\n    end\n");
}
END_TEST

/* {===== Error reports =====} */

typedef struct ReportOpts {
  bool bytecode;     /* run the module after a trip through .avmb */
  bool quote;        /* the source is registered with the reporting Diag */
  int64_t gas;       /* < 0: unlimited */
} ReportOpts;

/* Runs [src] (file "t.avm") to its failure; the report avm run prints. */
static const char *report_of(const char *src, ReportOpts o) {
  Diag cd;
  diag_init(&cd, stderr);
  const char *name = diag_add_source(&cd, "t.avm", src, strlen(src));
  CompOptions opt = { .allow_unsafe = true };
  Module *m = comp_source(&cd, vm, name, src, strlen(src), &opt);
  ck_assert_ptr_nonnull(m);
  if (o.bytecode) {
    size_t len;
    unsigned char *img = avmb_write(m, &len);
    char err[256];
    m = avmb_load(img, len, err, sizeof err);
    free(img);
    ck_assert_msg(m && vm_verify(m, err, sizeof err), "%s", err);
  }
  vm_link(vm, m);
  Runtime *rt = rt_new(vm, "local");
  rt->gas_limit = o.gas;
  rt_load_module(rt, m, stderr);
  Program *p = rt_run_main(rt, proto_main_closure(m));
  vm->slice = 0;
  ck_assert_int_eq(p->status, PS_FAILED);
  char *text;
  size_t size;
  FILE *out = open_memstream(&text, &size);
  Diag d;
  diag_init(&d, out);
  prelude_add_source(&d);
  if (o.quote) diag_add_source(&d, "t.avm", src, strlen(src));
  vm_report_error(&d, &p->error);
  fclose(out);
  char *s = GC_MALLOC_ATOMIC(size + 1);
  memcpy(s, text, size + 1);
  free(text);
  return s;
}

static const char *nested_src =
  "(define (f x) (car x))\n"
  "(define (g y)\n"
  "  (+ 1 (f y)))\n"
  "(behavior board (msg) (list (g msg)))\n"
  "(define o (create-obj 'board))\n"
  "(call o 5)\n"
  "((lambda (z) (+ 1 (g z))) 7)\n";

/* An error in a behavior rejects the call and is not reported; the one in
 * the program after it is, through every frame. */
START_TEST(test_report_nested) {
  ck_assert_str_eq(report_of(nested_src, (ReportOpts){ false, true, -1 }),
                   "t.avm:1:15: error: car: expected pair, got 7\n"
                   " (define (f x) (car x))\n"
                   "               ^~~~~~~\n"
                   "  in f at t.avm:1:15\n"
                   "  in g at t.avm:3:8\n"
                   "  in an anonymous procedure at t.avm:7:19\n"
                   "  in the program at t.avm:7:1\n");
}
END_TEST

/* From bytecode: the same locations, read from the line table and SRCN;
 * no line is quoted unless the source is loaded. */
START_TEST(test_report_from_bytecode) {
  ck_assert_str_eq(report_of(nested_src, (ReportOpts){ true, false, -1 }),
                   "t.avm:1:15: error: car: expected pair, got 7\n"
                   "  in f at t.avm:1:15\n"
                   "  in g at t.avm:3:8\n"
                   "  in an anonymous procedure at t.avm:7:19\n"
                   "  in the program at t.avm:7:1\n");
  ck_assert_str_eq(report_of(nested_src, (ReportOpts){ true, true, -1 }),
                   report_of(nested_src, (ReportOpts){ false, true, -1 }));
}
END_TEST

/* Out of gas is not a rejected call: it escapes every behavior, and the
 * backtrace goes through the object calls, bounded. */
START_TEST(test_report_through_object_calls) {
  const char *src = "(behavior spin (msg) (let loop ((i 0)) (loop (+ i 1))))\n"
                    "(behavior relay (n)\n"
                    "  (if (= n 0) (call (create-obj 'spin) 'go) (list (call (create-obj 'relay) (- n 1)))))\n"
                    "(call (create-obj 'relay) 2)\n";
  ck_assert_str_eq(report_of(src, (ReportOpts){ false, false, 3000 }),
                   "t.avm:1:46: error: OutOfGas: the program used more than 3000 units of gas\n"
                   "  in behavior spin of object 4 at t.avm:1:46\n"
                   "  in behavior relay of object 3 at t.avm:3:15\n"
                   "  in behavior relay of object 2 at t.avm:3:51\n"
                   "  in behavior relay of object 1 at t.avm:3:51\n"
                   "  in the program at t.avm:4:1\n");
  const char *deep = "(behavior spin (msg) (let loop ((i 0)) (loop (+ i 1))))\n"
                     "(behavior relay (n)\n"
                     "  (if (= n 0) (call (create-obj 'spin) 'go) (list (call (create-obj 'relay) (- n 1)))))\n"
                     "(call (create-obj 'relay) 30)\n";
  const char *r = report_of(deep, (ReportOpts){ false, false, 100000 });
  ck_assert_msg(strstr(r, "  in behavior relay of object 23 at t.avm:3:51\n"
                          "  ... 13 frames omitted\n"
                          "  in behavior relay of object 9 at t.avm:3:51\n") != NULL, "%s", r);
  ck_assert_msg(strstr(r, "  in behavior spin of object 32 at t.avm:1:46\n") != NULL, "%s", r);
  ck_assert_msg(strstr(r, "  in behavior relay of object 1 at t.avm:3:51\n  in the program at t.avm:4:1\n") != NULL,
                "%s", r);
}
END_TEST

/* A million frames deep, the report still has 2 * BT_KEEP of them. */
START_TEST(test_report_deep_recursion) {
  const char *r = report_of("(define (down n) (+ 1 (down (- n 1))))\n(down 0)\n", (ReportOpts){ false, false, -1 });
  char want[128];
  snprintf(want, sizeof want, "  in down at t.avm:1:23\n  ... %zu frames omitted\n  in down at t.avm:1:23\n",
           vm->max_depth - 2 * BT_KEEP);
  ck_assert_msg(strstr(r, want) != NULL, "%s", r);
  int lines = 0;
  for (const char *c = r; *c; c++) lines += *c == '\n';
  ck_assert_int_eq(lines, 1 + 2 * BT_KEEP + 1);
}
END_TEST

/* create-obj of an undeclared behavior names the closest declared one. */
START_TEST(test_report_behavior_hint) {
  ck_assert_str_eq(report_of("(behavior board (m) m)\n(behavior counter (m) m)\n(create-obj 'bord)",
                             (ReportOpts){ false, true, -1 }),
                   "t.avm:3:1: error: BehaviorNotFound: create-obj: no loaded module declares a behavior named bord\n"
                   " (create-obj 'bord)\n"
                   " ^~~~~~~~~~~~~~~~~~\n"
                   "t.avm:3:1: note: did you mean 'board'?\n");
  ck_assert_str_eq(report_of("(behavior board (m) m)\n(create-obj 'ghost)", (ReportOpts){ false, false, -1 }),
                   "t.avm:2:1: error: BehaviorNotFound: create-obj: no loaded module declares a behavior named ghost\n");
}
END_TEST

/* {===== Sessions (rt_run_session: the REPL's inputs) =====} */

/* Runs [src] as the session's next input after [prev]: compiled against
 * the VM's globals, linked, its declarations loaded. */
static Program *input(Runtime *rt, Program *prev, const char *src) {
  Diag d;
  diag_init(&d, stderr);
  const char *name = diag_add_source(&d, "input", src, strlen(src));
  CompOptions opt = { .allow_unsafe = true, .open_globals = true };
  Module *m = comp_source(&d, vm, name, src, strlen(src), &opt);
  ck_assert_ptr_nonnull(m);
  vm_link(vm, m);
  ck_assert(rt_load_module(rt, m, stderr));
  return rt_run_session(rt, prev, proto_main_closure(m));
}

static const char *done(Program *p) {
  ck_assert_msg(p->status == PS_DONE, "input failed: %s", p->error.msg ? p->error.msg : "?");
  return written(p->result);
}

static size_t ring_size(Runtime *rt) {
  size_t n = 0;
  Program *p = rt->programs;
  do {
    n++;
    p = p->next;
  } while (p != rt->programs);
  return n;
}

START_TEST(test_session_carries_root) {
  Runtime *rt = rt_new(vm, "local");
  Program *p = input(rt, NULL, "(set-state '(a b)) (define t (begin-tx)) 'ok");
  ck_assert_str_eq(done(p), "ok");
  ck_assert_ptr_nonnull(p->tx);  /* left open: it carries over */
  p = input(rt, p, "(get-state)");
  ck_assert_str_eq(done(p), "(a b)");
  p = input(rt, p, "(behavior c (m) (set-state (list m)) m) (define o (create-obj 'c)) (call o 5)");
  ck_assert_str_eq(done(p), "(just 5)");
  ck_assert_uint_eq(rt->store.count, 0);  /* created inside the transaction */
  p = input(rt, p, "(commit-tx t)");
  ck_assert_str_eq(done(p), "#t");
  ck_assert_ptr_null(p->tx);
  ck_assert_uint_eq(rt->store.count, 1);
  ck_assert_str_eq(written(store_get(&rt->store, 1)->state), "(5)");
  /* Finished inputs leave the scheduler's ring. */
  ck_assert_uint_eq(ring_size(rt), 1);
}
END_TEST

START_TEST(test_session_failure_aborts) {
  Runtime *rt = rt_new(vm, "local");
  Program *p = input(rt, NULL, "(behavior c (m) (set-state (list m)) m) (define o (create-obj 'c)) (define t (begin-tx))");
  done(p);
  p = input(rt, p, "(call o 7)");
  ck_assert_str_eq(done(p), "(just 7)");
  p = input(rt, p, "(car '())");
  ck_assert_int_eq(p->status, PS_FAILED);
  ck_assert_uint_eq(p->aborted_tx, 1);
  ck_assert_ptr_null(p->tx);
  ck_assert_str_eq(written(store_get(&rt->store, 1)->state), "()");
  p = input(rt, p, "(commit-tx t)");
  ck_assert_int_eq(p->status, PS_FAILED);
  ck_assert_str_eq(p->error.msg, "NoActiveTx: commit-tx: no transaction is open");
  ck_assert_uint_eq(p->aborted_tx, 0);
}
END_TEST

START_TEST(test_session_undoes_calls_in_progress) {
  /* Out of gas inside a call (outside any transaction): the call's
   * state write is undone, and the next input starts at the root. */
  Runtime *rt = rt_new(vm, "local");
  Program *p = input(rt, NULL, "(behavior spin (m) (set-state '(dirty)) (let loop () (loop))) (define s (create-obj 'spin))");
  done(p);
  rt->gas_limit = 5000;
  vm->slice = 1000;
  p = input(rt, p, "(call s 'go)");
  ck_assert_int_eq(p->status, PS_FAILED);
  ck_assert_str_eq(p->error.msg, "OutOfGas: the program used more than 5000 units of gas");
  ck_assert(!rt_in_call(p));
  ck_assert_str_eq(written(store_get(&rt->store, 1)->state), "()");
  rt->gas_limit = -1;
  rt->out_of_gas = false;
  p = input(rt, p, "(list (get-self) (+ 1 1))");
  ck_assert_str_eq(done(p), "(#<object 0> 2)");
}
END_TEST

static volatile sig_atomic_t stop_flag;

START_TEST(test_session_interrupt) {
  Runtime *rt = rt_new(vm, "local");
  rt->interrupt = &stop_flag;
  vm->slice = 1000;  /* loops without AVM instructions see the flag at slice ends */
  stop_flag = 1;
  Program *p = input(rt, NULL, "(let loop () (loop))");
  ck_assert_int_eq(p->status, PS_FAILED);
  ck_assert_str_eq(p->error.msg, "interrupted");
  ck_assert_int_eq(p->error.loc.line, 1);
  /* A pure function's loop (a nested fiber) stops too. */
  p = input(rt, p, "(pure q () (let loop () (loop))) (call-pure 'q)");
  ck_assert_int_eq(p->status, PS_FAILED);
  ck_assert_str_eq(p->error.msg, "interrupted");
  /* A spawned program goes on after the input that spawned it ... */
  stop_flag = 0;
  p = input(rt, p, "(define h (spawn (lambda () (let loop () (get-self) (loop))))) 'spawned");
  ck_assert_str_eq(done(p), "spawned");
  Program *h = rt_program(rt, p->id + 1);
  ck_assert_ptr_nonnull(h);
  ck_assert_int_eq(h->status, PS_RUNNABLE);
  /* ... until an interrupted input stops every program. */
  stop_flag = 1;
  p = input(rt, p, "(join h)");
  ck_assert_int_eq(p->status, PS_FAILED);
  ck_assert_int_eq(h->status, PS_FAILED);
  stop_flag = 0;
  p = input(rt, p, "(join h)");
  ck_assert_str_eq(done(p), "nothing");
}
END_TEST

START_TEST(test_session_redeclares) {
  /* A behavior or pure function declared again replaces the old one; the
   * objects of the behavior run the new code. */
  Runtime *rt = rt_new(vm, "local");
  Program *p = input(rt, NULL, "(behavior b (m) 1) (pure f () 1) (define o (create-obj 'b))");
  done(p);
  p = input(rt, p, "(behavior b (m) 2) (pure f () 2) (list (call o 0) (call-pure 'f))");
  ck_assert_str_eq(done(p), "((just 2) (just 2))");
  ck_assert_int_eq(v_list_length(rt->behaviors), 1);
  ck_assert_uint_eq(rt->npures, 1);
}
END_TEST

static bool in_ring(Runtime *rt, Program *p) {
  Program *q = rt->programs;
  if (!q) return false;
  do {
    if (q == p) return true;
    q = q->next;
  } while (q != rt->programs);
  return false;
}

/* Detached programs (a node's served calls) leave the ring when they end,
 * and the next program started reuses the memory of one that ended well. */
START_TEST(test_detached_programs) {
  Runtime *rt;
  Value main = compile_into("(define (deep n) (if (= n 0) 0 (+ 1 (deep (- n 1))))) (deep 40)", &rt);
  Program *p = rt_start(rt, main, NULL, 0);
  p->detached = true;
  while (rt_run_ready(rt, 1000)) {}
  ck_assert_int_eq(p->status, PS_DONE);
  ck_assert_str_eq(written(p->result), "40");
  ck_assert(!in_ring(rt, p));
  ck_assert_ptr_eq(rt->spare, p);
  uint64_t id = p->id;
  Program *q = rt_start(rt, main, NULL, 0);
  ck_assert_ptr_eq(q, p);
  ck_assert_ptr_null(rt->spare);
  ck_assert_uint_gt(q->id, id);
  ck_assert_int_eq(q->status, PS_RUNNABLE);
  ck_assert(!q->detached);
  ck_assert_uint_eq(q->nacts, 1);
  while (rt_run_ready(rt, 1000)) {}
  ck_assert_str_eq(written(q->result), "40");
  ck_assert(in_ring(rt, q));  /* not detached: someone may join it */
  /* Ended on another machine: out of the ring as well. */
  Program *r = rt_start(rt, main, NULL, 0);
  r->detached = true;
  r->status = PS_BLOCKED;
  rt_end_elsewhere(rt, r, true, v_int(7), NULL);
  ck_assert_int_eq(r->status, PS_DONE);
  ck_assert(!in_ring(rt, r));
}
END_TEST

static Suite *runtime_suite(void) {
  Suite *s = suite_create("runtime");
  TCase *tc = tcase_create("store");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_store_100k);
  tcase_add_test(tc, test_store_churn);
  suite_add_tcase(s, tc);
  tc = tcase_create("journal");
  tcase_add_test(tc, test_journal_store_changes);
  tcase_add_test(tc, test_journal_nested_marks);
  tcase_add_test(tc, test_journal_tx_entries);
  tcase_add_test(tc, test_journal_keeps_reads);
  tcase_add_test(tc, test_journal_tx_index_after_rollback);
  tcase_add_test(tc, test_journal_tx_open_close);
  suite_add_tcase(s, tc);
  tc = tcase_create("programs");
  tcase_set_timeout(tc, 120);
  tcase_add_test(tc, test_programs);
  tcase_add_test(tc, test_detached_programs);
  tcase_add_test(tc, test_store_through_programs);
  tcase_add_test(tc, test_ping_pong_100k);
  tcase_add_test(tc, test_ping_pong_100k_rejected);
  tcase_add_test(tc, test_report_nested);
  tcase_add_test(tc, test_report_from_bytecode);
  tcase_add_test(tc, test_report_through_object_calls);
  tcase_add_test(tc, test_report_deep_recursion);
  tcase_add_test(tc, test_report_behavior_hint);
  suite_add_tcase(s, tc);
  tc = tcase_create("trace");
  tcase_add_test(tc, test_trace_long_text);
  tcase_add_test(tc, test_trace_records);
  tcase_add_test(tc, test_trace_memo_by_address);
  tcase_add_test(tc, test_trace_mermaid_boxes);
  tcase_add_test(tc, test_trace_mermaid_closes_boxes);
  tcase_add_test(tc, test_trace_batched_as_live);
  suite_add_tcase(s, tc);
  tc = tcase_create("sessions");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_session_carries_root);
  tcase_add_test(tc, test_session_failure_aborts);
  tcase_add_test(tc, test_session_undoes_calls_in_progress);
  tcase_add_test(tc, test_session_interrupt);
  tcase_add_test(tc, test_session_redeclares);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  GC_INIT();
  vm = vm_new();
  prelude_load(vm);
  return run_suite(runtime_suite());
}
