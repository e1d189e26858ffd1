/* tests/unit/check_vm.c — the register machine: results, errors, the
 * suspension mechanism (Vis nodes, resumption, copied continuations),
 * Tau steps, the stack limit, and the printer. */
#include <check.h>
#include "tests/unit/testutil.h"
#include <gc.h>
#include <gc/gc_mark.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "compiler/compiler.h"
#include "stdlib/prelude.h"

static VM *vm;

static Fiber *start(const char *src) {
  Diag d;
  diag_init(&d, stderr);
  const char *name = diag_add_source(&d, "test.avm", src, strlen(src));
  CompOptions opt = { .allow_unsafe = true };
  Module *m = comp_source(&d, vm, name, src, strlen(src), &opt);
  ck_assert_ptr_nonnull(m);
  vm_link(vm, m);
  return fiber_new(vm, proto_main_closure(m), NULL, 0);
}

static char *written(Value v) { return v_write_to_string(v, false); }

/* Runs to the end, answering nothing: the program must not suspend. */
static VMStatus finish(Fiber *f) {
  VMStatus st;
  while ((st = vm_run(f)) == VM_TAU) {}
  return st;
}

static const char *eval(const char *src) {
  Fiber *f = start(src);
  VMStatus st = finish(f);
  if (st == VM_ERROR) return f->error.msg;
  ck_assert_int_eq(st, VM_RET);
  return written(f->result);
}

START_TEST(test_results) {
  ck_assert_str_eq(eval("(+ 1 2)"), "3");
  ck_assert_str_eq(eval("(list 1 \"two\" 'three)"), "(1 \"two\" three)");
  ck_assert_str_eq(eval("(cons 1 2)"), "(1 . 2)");
  ck_assert_str_eq(eval("(just #t)"), "(just #t)");
  ck_assert_str_eq(eval("nothing"), "nothing");
  ck_assert_str_eq(eval("''x"), "(quote x)");
  ck_assert_str_eq(eval("(define (f x) x) f"), "#<procedure f>");
  ck_assert_str_eq(eval("(lambda (x) x)"), "#<procedure>");
  ck_assert_str_eq(eval("car"), "#<procedure car>");
  ck_assert_str_eq(eval("\"a\\nb\\t\\\"c\\\\\""), "\"a\\nb\\t\\\"c\\\\\"");
  ck_assert_str_eq(eval("(string-append \"\\x1;\" \"\")"), "\"\\x01;\"");
}
END_TEST

START_TEST(test_int64_edges) {
  ck_assert_str_eq(eval("(- 0 9223372036854775807 1)"), "-9223372036854775808");
  ck_assert_str_eq(eval("(+ 9223372036854775807 1)"), "+: integer overflow");
  ck_assert_str_eq(eval("(* 4611686018427387904 2)"), "*: integer overflow");
  ck_assert_str_eq(eval("(- -9223372036854775808)"), "-: integer overflow");
  ck_assert_str_eq(eval("(remainder -9223372036854775808 -1)"), "0");
  ck_assert_str_eq(eval("(quotient -9223372036854775808 -1)"), "quotient: integer overflow");
  ck_assert_str_eq(eval("(quotient 7 0)"), "quotient: division by zero");
  ck_assert_str_eq(eval("(modulo -7 2)"), "1");
  ck_assert_str_eq(eval("(remainder -7 2)"), "-1");
  ck_assert_str_eq(eval("(let ((x 9223372036854775807)) (+ x 1))"), "+: integer overflow");
}
END_TEST

START_TEST(test_errors) {
  ck_assert_str_eq(eval("(car 5)"), "car: expected pair, got 5");
  ck_assert_str_eq(eval("(define (f x y) x) (f 1)"), "f: wrong number of arguments (expected 2, got 1)");
  ck_assert_str_eq(eval("((lambda (a . r) r))"), "#<procedure>: wrong number of arguments (expected at least 1, got 0)");
  ck_assert_str_eq(eval("(define x 5) (x 1)"), "not a procedure: 5");
  ck_assert_str_eq(eval("(define a b) (define b 1) a"), "variable b used before its definition");
  Fiber *f = start("(error \"boom\" 1 \"x\" 'y)");
  ck_assert_int_eq(finish(f), VM_ERROR);
  ck_assert_str_eq(f->error.msg, "boom");
  ck_assert_str_eq(written(f->error.irritants), "(1 \"x\" y)");
  ck_assert_int_eq(f->error.loc.line, 1);
  ck_assert_int_eq(f->error.loc.col, 1);
}
END_TEST

/* {===== Suspension =====} */

START_TEST(test_vis_and_resume) {
  Fiber *f = start("(define s (get-state))\n(set-state (cons 1 s))\n(list 'got s)");
  ck_assert_int_eq(vm_run(f), VM_VIS);
  ck_assert_str_eq(instr_info[f->vis_instr].name, "get-state");
  ck_assert_int_eq(f->vis_argc, 0);
  ck_assert_int_eq(fiber_loc(f, f->nframes - 1).line, 1);
  ck_assert_int_eq(vm_resume(f, v_cons(v_int(7), v_nil())), VM_VIS);
  ck_assert_str_eq(instr_info[f->vis_instr].name, "set-state");
  ck_assert_int_eq(f->vis_argc, 1);
  ck_assert_str_eq(written(f->vis_args[0]), "(1 7)");
  ck_assert_int_eq(vm_resume(f, v_unspec()), VM_RET);
  ck_assert_str_eq(written(f->result), "(got (7))");
}
END_TEST

START_TEST(test_vis_operands) {
  Fiber *f = start("(call (create-obj 'counter) '(inc 5))");
  ck_assert_int_eq(vm_run(f), VM_VIS);
  ck_assert_int_eq(f->vis_instr, IN_CREATE_OBJ);
  ck_assert_str_eq(written(f->vis_args[0]), "counter");
  ck_assert_int_eq(vm_resume(f, v_ref(T_OBJREF, 42)), VM_VIS);
  ck_assert_int_eq(f->vis_instr, IN_CALL);
  ck_assert_int_eq(f->vis_argc, 2);
  ck_assert_str_eq(written(f->vis_args[0]), "#<object 42>");
  ck_assert_str_eq(written(f->vis_args[1]), "(inc 5)");
  ck_assert_int_eq(vm_resume(f, v_just(v_int(5))), VM_RET);
  ck_assert_str_eq(written(f->result), "(just 5)");
}
END_TEST

/* A continuation copied at a Vis node can be resumed several times with
 * different responses, independently (what choose will need). */
START_TEST(test_copied_continuations) {
  Fiber *f = start("(define (deep n) (if (= n 0) (get-input) (+ 1 (deep (- n 1)))))\n"
                   "(let ((x (deep 1000))) (* x 2))");
  ck_assert_int_eq(vm_run(f), VM_VIS);
  ck_assert_int_eq(f->vis_instr, IN_GET_INPUT);
  Fiber *copies[3];
  for (int j = 0; j < 3; j++) copies[j] = fiber_copy(f);
  GC_gcollect();
  for (int j = 0; j < 3; j++) {
    ck_assert_int_eq(vm_resume(copies[j], v_int(j * 10)), VM_RET);
    ck_assert_int_eq(copies[j]->result.as.i, (1000 + j * 10) * 2);
  }
  ck_assert_int_eq(vm_resume(f, v_int(-1000)), VM_RET);
  ck_assert_int_eq(f->result.as.i, 0);
}
END_TEST

START_TEST(test_first_class_instruction) {
  /* An instruction passed as a value suspends when called, also through
   * apply and in tail position inside a procedure. */
  Fiber *f = start("(define (g f) (f))\n(list (g get-self) (apply call (list 1 2)))");
  ck_assert_int_eq(vm_run(f), VM_VIS);
  ck_assert_int_eq(f->vis_instr, IN_GET_SELF);
  ck_assert_int_eq(vm_resume(f, v_ref(T_OBJREF, 0)), VM_VIS);
  ck_assert_int_eq(f->vis_instr, IN_CALL);
  ck_assert_str_eq(written(f->vis_args[1]), "2");
  ck_assert_int_eq(vm_resume(f, v_nothing()), VM_RET);
  ck_assert_str_eq(written(f->result), "(#<object 0> nothing)");
}
END_TEST

START_TEST(test_map_suspends) {
  /* Higher-order prelude functions are VM code, so a suspension inside the
   * mapped procedure works. */
  Fiber *f = start("(map (lambda (x) (+ x (get-input))) '(1 2 3))");
  int n = 0;
  VMStatus st = vm_run(f);
  while (st == VM_VIS) {
    ck_assert_int_eq(f->vis_instr, IN_GET_INPUT);
    st = vm_resume(f, v_int(100 * ++n));
  }
  ck_assert_int_eq(st, VM_RET);
  ck_assert_str_eq(written(f->result), "(101 202 303)");
}
END_TEST

/* {===== Stack, Tau, tail calls =====} */

START_TEST(test_stack_limit) {
  size_t saved = vm->max_depth;
  vm->max_depth = 1000;
  ck_assert_str_eq(eval("(define (c n) (if (= n 0) 0 (+ 1 (c (- n 1))))) (c 990)"), "990");
  ck_assert_str_eq(eval("(define (c n) (if (= n 0) 0 (+ 1 (c (- n 1))))) (c 5000)"), "stack overflow");
  vm->max_depth = saved;
  ck_assert_str_eq(eval("(define (c n) (if (= n 0) 0 (+ 1 (c (- n 1))))) (c 1000000)"), "1000000");
}
END_TEST

/* An ended fiber renewed runs a new procedure as a fresh one would, on
 * its old memory cleared; one whose stack outgrew the GC heap is not. */
START_TEST(test_renewed_fiber) {
  Fiber *f = start("(define (deep n) (if (= n 0) (lambda (a b) (list a b)) (car (list (deep (- n 1)))))) (deep 30)");
  ck_assert_int_eq(finish(f), VM_RET);
  Value fn = f->result;
  ck_assert(fiber_renewable(f));
  Value *stack = f->stack;
  Value args[3] = { v_int(1), v_int(2), v_int(3) };
  ck_assert_ptr_eq(fiber_renew(f, fn, args, 2), f);
  ck_assert_ptr_eq(f->stack, stack);
  ck_assert_int_eq(f->nframes, 1);
  for (size_t j = 3; j < f->stack_cap; j++) ck_assert_int_eq(f->stack[j].tag, 0);
  ck_assert_int_eq(finish(f), VM_RET);
  ck_assert_str_eq(written(f->result), "(1 2)");
  fiber_renew(f, fn, args, 3);
  ck_assert_int_eq(finish(f), VM_ERROR);
  ck_assert_str_eq(f->error.msg, "#<procedure>: wrong number of arguments (expected 2, got 3)");
  fiber_renew(f, v_int(7), NULL, 0);
  ck_assert_int_eq(finish(f), VM_ERROR);
  ck_assert_str_eq(f->error.msg, "not a procedure: 7");
  Fiber *g = start("(define (c n) (if (= n 0) 0 (+ 1 (c (- n 1))))) (c 300000)");
  ck_assert_int_eq(finish(g), VM_RET);
  ck_assert(!fiber_renewable(g));
}
END_TEST

START_TEST(test_tau_slices) {
  vm->slice = 1000;
  Fiber *f = start("(let loop ((i 0)) (if (< i 100000) (loop (+ i 1)) i))");
  int taus = 0;
  VMStatus st;
  while ((st = vm_run(f)) == VM_TAU) taus++;
  vm->slice = 0;
  ck_assert_int_eq(st, VM_RET);
  ck_assert_int_eq(f->result.as.i, 100000);
  ck_assert_int_ge(taus, 99);
}
END_TEST

START_TEST(test_tail_calls_constant_frames) {
  size_t saved = vm->max_depth;
  vm->max_depth = 50;
  ck_assert_str_eq(eval("(define (ev? n) (if (= n 0) #t (od? (- n 1))))\n"
                        "(define (od? n) (if (= n 0) #f (ev? (- n 1))))\n(ev? 100001)"), "#f");
  ck_assert_str_eq(eval("(define (f n) (cond ((= n 0) 'done) (else (apply f (list (- n 1)))))) (f 100000)"), "done");
  vm->max_depth = saved;
}
END_TEST

START_TEST(test_equal_deep) {
  /* equal? and the printer on data nested far deeper than the C stack. */
  Value a = v_nil(), b = v_nil();
  for (int j = 0; j < 1000000; j++) {
    a = v_cons(a, v_int(j));
    b = v_cons(b, v_int(j));
  }
  ck_assert(v_equal(a, b));
  ck_assert(!v_equal(a, v_cons(b, v_nil())));
  char *s = v_write_to_string(a, false);
  ck_assert_int_eq(strncmp(s, "((((", 4), 0);
  ck_assert(v_equal(v_just(v_cstring("x")), v_just(v_cstring("x"))));
  ck_assert(!v_equal(v_just(v_int(1)), v_cons(v_sym(sym_intern_cstr("just")), v_cons(v_int(1), v_nil()))));
}
END_TEST

/* buf_u64 at every change in the number of digits, and at the ends. */
/* How many of the pages of [len] bytes at [p] are resident. */
static size_t resident_pages(void *p, size_t len) {
  size_t page = (size_t)sysconf(_SC_PAGESIZE), n = (len + page - 1) / page, in = 0;
  unsigned char *v = malloc(n);
  ck_assert_int_eq(mincore(p, len, v), 0);
  for (size_t j = 0; j < n; j++) in += v[j] & 1;
  free(v);
  return in;
}

static void *anonymous(size_t len, int flags) {
  void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | flags, -1, 0);
  ck_assert_ptr_ne(p, MAP_FAILED);
  return p;
}

/* After heap_init, a mapping the size of a heap section comes with its
 * pages in; reservations and small mappings do not (vm/heapmem.c). */
START_TEST(test_heap_sections_populated) {
#if defined(AVM_SANITIZE)
  return;  /* the sanitizers keep their own mmap */
#endif
  size_t page = (size_t)sysconf(_SC_PAGESIZE);
  void *probe = anonymous(page, MAP_NORESERVE);
  bool kernel_populates = madvise(probe, page, 23 /* MADV_POPULATE_WRITE */) == 0;
  munmap(probe, page);
  if (!kernel_populates) return;  /* before Linux 5.14: pages fault in one by one */
  void *section = anonymous(1 << 20, 0), *reserved = anonymous(1 << 20, MAP_NORESERVE),
       *small = anonymous(4 * page, 0);
  ck_assert_uint_eq(resident_pages(section, 1 << 20), (1 << 20) / page);
  ck_assert_uint_eq(resident_pages(reserved, 1 << 20), 0);
  ck_assert_uint_eq(resident_pages(small, 4 * page), 0);
  munmap(section, 1 << 20);
  munmap(reserved, 1 << 20);
  munmap(small, 4 * page);
}
END_TEST

START_TEST(test_buf_u64_digits) {
  Buf b = { 0 };
  char want[32];
  uint64_t p = 1;
  for (int d = 1; d <= 20; d++) {
    uint64_t cases[3] = { p - 1, p, p + 1 };
    for (int j = 0; j < 3; j++) {
      b.n = 0;
      buf_u64(&b, cases[j]);
      snprintf(want, sizeof want, "%" PRIu64, cases[j]);
      ck_assert_uint_eq(b.n, strlen(want));
      ck_assert(memcmp(b.p, want, b.n) == 0);
    }
    if (d < 20) p *= 10;
  }
  b.n = 0;
  buf_u64(&b, UINT64_MAX);
  ck_assert(b.n == 20 && memcmp(b.p, "18446744073709551615", 20) == 0);
  b.n = 0;
  buf_i64(&b, INT64_MIN);
  ck_assert(b.n == 20 && memcmp(b.p, "-9223372036854775808", 20) == 0);
  buf_free(&b);
}
END_TEST

/* v_contains_proc finds a procedure wherever it is: after a run of
 * atoms, past the run it checks at once, nested, in a just, as an
 * improper tail; and finds none in lists of atoms of every kind. */
START_TEST(test_contains_proc) {
  static const char *const with[] = {
    "(list 1 2 car)", "(list 1 (list 2 car))", "(cons 1 car)", "(list 1 2 3 4 5 6 7 8 9 car)",
    "(list 1 (just car))", "(list (lambda (x) x))", "(just (list 1 car))", "car",
  };
  static const char *const without[] = {
    "(list 1 2 3)", "(list 1 2 3 4 5 6 7 8 9 10)", "(list 'a \"s\" #t (just 3) '())", "(cons 1 2)",
    "(list (list 1 2) (list 3 (list 4)))", "(just 5)", "'()", "7",
  };
  for (size_t j = 0; j < sizeof with / sizeof *with; j++) {
    Fiber *f = start(with[j]);
    ck_assert_int_eq(finish(f), VM_RET);
    ck_assert_msg(v_contains_proc(f->result), "%s holds a procedure", with[j]);
  }
  for (size_t j = 0; j < sizeof without / sizeof *without; j++) {
    Fiber *f = start(without[j]);
    ck_assert_int_eq(finish(f), VM_RET);
    ck_assert_msg(!v_contains_proc(f->result), "%s holds no procedure", without[j]);
    ck_assert_msg(!v_contains_proc(f->result), "%s, asked again (remembered)", without[j]);
  }
}
END_TEST

/* The collector scans the stack conservatively: what a finished call
 * left there must not keep the objects of these tests alive. */
static __attribute__((noinline)) void scrub_stack(void) {
  volatile char junk[16384];
  memset((char *)junk, 0, sizeof junk);
}

/* Starts a block of pairs: the rest of it waits in the free list. */
static __attribute__((noinline)) void start_pair_block(Value *keep) {
  while (gc_small_lists[2]) (void)v_cons(v_nil(), v_nil());
  *keep = v_cons(v_int(0), v_nil());
  ck_assert_ptr_nonnull(gc_small_lists[2]);
}

/* Objects waiting in the small-object free lists outlive a collection:
 * the collector would otherwise hand them out a second time ... */
START_TEST(test_small_lists_kept) {
  Value *first = GC_MALLOC(sizeof *first);
  start_pair_block(first);
  scrub_stack();
  GC_gcollect();
  int waiting = 0;
  for (void *q = gc_small_lists[2]; q; q = *(void **)q, waiting++) ck_assert(GC_is_marked(q));
  ck_assert_int_eq(waiting, 4096 / 32 - 1);
  ck_assert_int_eq(first->as.pair->car.as.i, 0);
}
END_TEST

/* ... and what one still holds from its last life keeps nothing alive. */
static __attribute__((noinline)) void leave_stale_pointer(void **link) {
  Value first;
  start_pair_block(&first);
  void **waiting = gc_small_lists[2];
  void *x = GC_MALLOC(64);
  *link = x;   /* in memory the collector does not scan; cleared when x goes */
  GC_general_register_disappearing_link(link, x);
  waiting[3] = x;   /* where a pair's cdr pointed */
}

START_TEST(test_small_lists_hold_nothing) {
  void **link = malloc(sizeof *link);
  leave_stale_pointer(link);
  ck_assert_ptr_nonnull(*link);
  scrub_stack();
  GC_gcollect();
  ck_assert_ptr_null(*link);
  free(link);
}
END_TEST

static Suite *vm_suite(void) {
  Suite *s = suite_create("vm");
  TCase *tc = tcase_create("run");
  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, test_results);
  tcase_add_test(tc, test_int64_edges);
  tcase_add_test(tc, test_errors);
  tcase_add_test(tc, test_vis_and_resume);
  tcase_add_test(tc, test_vis_operands);
  tcase_add_test(tc, test_copied_continuations);
  tcase_add_test(tc, test_first_class_instruction);
  tcase_add_test(tc, test_map_suspends);
  tcase_add_test(tc, test_stack_limit);
  tcase_add_test(tc, test_renewed_fiber);
  tcase_add_test(tc, test_tau_slices);
  tcase_add_test(tc, test_tail_calls_constant_frames);
  tcase_add_test(tc, test_equal_deep);
  tcase_add_test(tc, test_buf_u64_digits);
  tcase_add_test(tc, test_heap_sections_populated);
  tcase_add_test(tc, test_contains_proc);
  tcase_add_test(tc, test_small_lists_kept);
  tcase_add_test(tc, test_small_lists_hold_nothing);
  suite_add_tcase(s, tc);
  return s;
}

int main(void) {
  heap_init();
  vm = vm_new();
  prelude_load(vm);
  return run_suite(vm_suite());
}
