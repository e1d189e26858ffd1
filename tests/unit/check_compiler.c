/* tests/unit/check_compiler.c — the compiler (compiler/compile.c, fed by
 * lang/desugar.c): golden listings in the manner of Lua's T.listcode (tail
 * calls, loops, fused compares, register reuse, do-notation, closures,
 * letrec, apply, AVM instructions), every compile diagnostic's exact text,
 * declarations, and deterministic .avmb output (compiler/writer.c). */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include "tests/unit/testutil.h"
#include <ctype.h>
#include <gc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "compiler/compiler.h"
#include "stdlib/prelude.h"
#include "util/suggest.h"
#include "vm/loader.h"

/* One VM with the prelude, shared by every test that only compiles:
 * compiling never changes it (nothing here links a module into it). */
static VM *vm;

/* {===== Helpers =====} */

typedef struct Compiled {
  Module *m;
  char *diag;   /* everything the Diag printed */
  int nerrors;
} Compiled;

/* Compiles [src] as file [name] with [opt], capturing diagnostics. */
static Compiled compile_with(VM *in, const char *name, const char *src, CompOptions opt) {
  Compiled r;
  size_t size;
  FILE *f = open_memstream(&r.diag, &size);
  ck_assert_ptr_nonnull(f);
  Diag d;
  diag_init(&d, f);
  const char *file = diag_add_source_from(&d, name, src, strlen(src), opt.first_line ? opt.first_line : 1);
  r.m = comp_source(&d, in, file, src, strlen(src), &opt);
  r.nerrors = d.nerrors;
  fclose(f);
  return r;
}

/* Compiles [src] as file "t.avm". */
static Compiled compile_in(VM *in, const char *src, bool allow_unsafe) {
  return compile_with(in, "t.avm", src, (CompOptions){ .allow_unsafe = allow_unsafe });
}

static Compiled compile_src(const char *src) { return compile_in(vm, src, false); }

/* Compiles [src], which must succeed silently and give verifiable code. */
static Module *ok(const char *src) {
  Compiled c = compile_src(src);
  ck_assert_msg(c.m != NULL, "compiling %s failed:\n%s", src, c.diag);
  ck_assert_str_eq(c.diag, "");
  char err[512];
  ck_assert_msg(vm_verify(c.m, err, sizeof err), "compiling %s: %s", src, err);
  return c.m;
}

/* Asserts that [src] fails to compile with exactly [expected] diagnostics
 * and [nerrors] errors. */
static void fails(const char *src, int nerrors, const char *expected) {
  Compiled c = compile_src(src);
  ck_assert_msg(c.m == NULL, "compiling %s should fail", src);
  ck_assert_str_eq(c.diag, expected);
  ck_assert_int_eq(c.nerrors, nerrors);
}

/* Copies one disassembler line without its pc-column padding and without
 * the "[line:col]" column, with every run of blanks made one space:
 * "     2  [1:53]\tJNUMEQ      r2, k0 if false\t; 0" -> "2 JNUMEQ r2, k0 if false ; 0". */
static void normalize_line(FILE *out, const char *l, size_t n) {
  const char *p = l, *end = l + n;
  while (p < end && *p == ' ') p++;
  const char *q = p;
  while (q < end && isdigit((unsigned char)*q)) q++;
  if (q > p) {
    const char *r = q;
    while (r < end && *r == ' ') r++;
    if (r < end && *r == '[') {
      const char *close = memchr(r, ']', (size_t)(end - r));
      if (close) {
        fwrite(p, 1, (size_t)(q - p), out);
        fputc(' ', out);
        p = close + 1;
      }
    }
  }
  while (p < end && (*p == ' ' || *p == '\t')) p++;
  bool blank = false;
  for (; p < end; p++) {
    if (*p == ' ' || *p == '\t') {
      blank = true;
      continue;
    }
    if (blank) fputc(' ', out);
    blank = false;
    fputc(*p, out);
  }
  fputc('\n', out);
}

/* The verbose listing of [m] (function [fn] only, or all when fn < 0),
 * normalized line by line, blank lines dropped. */
static char *listing_of(const Module *m, int fn) {
  char *raw, *res;
  size_t rawlen, reslen;
  FILE *f = open_memstream(&raw, &rawlen);
  disasm_module(f, m, true);
  fclose(f);
  FILE *out = open_memstream(&res, &reslen);
  char hdr[32];
  snprintf(hdr, sizeof hdr, "function %d ", fn);
  bool on = fn < 0;
  for (const char *l = raw; *l;) {
    const char *nl = strchr(l, '\n');
    size_t n = nl ? (size_t)(nl - l) : strlen(l);
    if (n >= 9 && strncmp(l, "function ", 9) == 0) on = fn < 0 || strncmp(l, hdr, strlen(hdr)) == 0;
    if (on && n > 0) normalize_line(out, l, n);
    l += n + (nl ? 1 : 0);
  }
  fclose(out);
  free(raw);
  return res;
}

static char *listing(const char *src, int fn) { return listing_of(ok(src), fn); }

/* Compiles [src] in a fresh VM, runs it and returns its result in write
 * form (or the error message).  The program must not suspend; one that
 * runs more than 100,000 slices of 1000 calls and backward jumps gives
 * "(no result)". */
static char *run(const char *src) {
  VM *own = vm_new();
  prelude_load(own);
  Compiled c = compile_in(own, src, false);
  ck_assert_msg(c.m != NULL, "compiling %s failed:\n%s", src, c.diag);
  vm_link(own, c.m);
  own->slice = 1000;
  Fiber *f = fiber_new(own, proto_main_closure(c.m), NULL, 0);
  VMStatus st;
  long slices = 0;
  while ((st = vm_run(f)) == VM_TAU)
    if (++slices > 100000) return "(no result)";
  if (st == VM_ERROR) return (char *)f->error.msg;
  ck_assert_int_eq(st, VM_RET);
  return v_write_to_string(f->result, false);
}

/* Runs [defs] followed by the expression [expr], as run does. */
static char *run_with(const char *defs, const char *expr) {
  size_t n = strlen(defs) + strlen(expr) + 2;
  char *src = GC_MALLOC_ATOMIC(n);
  snprintf(src, n, "%s\n%s", defs, expr);
  return run(src);
}

/* {===== Golden listings =====} */

/* A named let whose name is only called in tail position is a loop: the
 * parameters are registers, the call a backward JMP, and there is no CALL
 * and no closure.  (- i 1) goes through a temporary because (+ a i) still
 * reads the old i; (+ a i) is written straight into a's register.
 * WASTE: returning a local (pcs 4-5) copies it to a fresh register first;
 * RET r3 would do. */
START_TEST(test_loop) {
  const char *src = "(define (count n acc)\n"
                    "  (let loop ((i n) (a acc))\n"
                    "    (if (= i 0) a (loop (- i 1) (+ a i)))))\n"
                    "(count 10 0)";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <count>: 2 params, 5 registers, 0 upvalues, 1 constant\n"
                   "0 MOVE r2, r0\n"
                   "1 MOVE r3, r1\n"
                   "2 JNUMEQ r2, k0 if false ; 0\n"
                   "3 JMP -> 6\n"
                   "4 MOVE r4, r3\n"
                   "5 RET r4\n"
                   "6 ADDI r4, r2, -1\n"
                   "7 ADD r3, r3, r2\n"
                   "8 MOVE r2, r4\n"
                   "9 JMP -> 2\n"
                   "k0 = 0\n");
  ck_assert_str_eq(run(src), "55");
}
END_TEST

/* Swapping parameters with (loop b a ...): a's new value (old b) waits in
 * a temporary because the next argument still reads a; b's and k's new
 * values are written in place. */
START_TEST(test_loop_swap) {
  const char *src = "(define (f n)\n"
                    "  (let loop ((a 1) (b 2) (k n))\n"
                    "    (if (= k 0) (list a b) (loop b a (- k 1)))))\n"
                    "(f 3)";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 5 registers, 0 upvalues, 1 constant\n"
                   "0 LOADI r1, 1\n"
                   "1 LOADI r2, 2\n"
                   "2 MOVE r3, r0\n"
                   "3 JNUMEQ r3, k0 if false ; 0\n"
                   "4 JMP -> 7\n"
                   "5 PRIM r4, r1, list (2 args)\n"
                   "6 RET r4\n"
                   "7 MOVE r4, r2\n"
                   "8 MOVE r2, r1\n"
                   "9 ADDI r3, r3, -1\n"
                   "10 MOVE r1, r4\n"
                   "11 JMP -> 3\n"
                   "k0 = 0\n");
  ck_assert_str_eq(run(src), "(2 1)");
}
END_TEST

/* A loop in non-tail position leaves its value in the destination.
 * WASTE: the JMP at pc 5 follows the loop's backward jump and is dead. */
START_TEST(test_loop_nontail) {
  const char *src = "(define (f n) (+ 1 (let loop ((i n)) (if (< i 10) (loop (+ i 1)) i))))\n"
                    "(f 3)";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 4 registers, 0 upvalues, 1 constant\n"
                   "0 MOVE r3, r0\n"
                   "1 JLT r3, k0 if false ; 10\n"
                   "2 JMP -> 6\n"
                   "3 ADDI r3, r3, 1\n"
                   "4 JMP -> 1\n"
                   "5 JMP -> 7\n"
                   "6 MOVE r2, r3\n"
                   "7 ADDI r1, r2, 1\n"
                   "8 RET r1\n"
                   "k0 = 10\n");
  ck_assert_str_eq(run(src), "11");
}
END_TEST

/* A named let called in non-tail position becomes a self-patched
 * closure (letrec): CLOSURE, SETUPV of its own upvalue, then the call. */
START_TEST(test_named_let_closure) {
  const char *src = "(define (f n) (let loop ((i n)) (if (= i 0) 0 (+ 1 (loop (- i 1))))))\n"
                    "(f 4)";
  ck_assert_str_eq(listing(src, -1),
                   "module t.avm: 3 functions, 1 global, 0 declarations\n"
                   "g0 = f\n"
                   "function 0 <top level>: 0 params, 2 registers, 0 upvalues, 0 constants\n"
                   "0 CLOSURE r0, f0\n"
                   "1 DEFGLOBAL r0, g0 ; f\n"
                   "2 GETGLOBAL r0, g0 ; f\n"
                   "3 LOADI r1, 4\n"
                   "4 CALL r0, 1\n"
                   "5 RET r0\n"
                   "function 1 <loop>: 1 param, 4 registers, 1 upvalue, 1 constant\n"
                   "0 JNUMEQ r0, k0 if false ; 0\n"
                   "1 JMP -> 4\n"
                   "2 LOADI r1, 0\n"
                   "3 RET r1\n"
                   "4 GETUPV r2, u0\n"
                   "5 ADDI r3, r0, -1\n"
                   "6 CALL r2, 1\n"
                   "7 ADDI r1, r2, 1\n"
                   "8 RET r1\n"
                   "k0 = 0\n"
                   "u0 = register 2\n"
                   "function 2 <f>: 1 param, 3 registers, 0 upvalues, 0 constants\n"
                   "0 CLOSURE r2, f0\n"
                   "1 SETUPV r2, 0, r2\n"
                   "2 MOVE r1, r2\n"
                   "3 MOVE r2, r0\n"
                   "4 TAILCALL r1, 1\n");
  ck_assert_str_eq(run(src), "4");
}
END_TEST

/* A call in tail position of a define is a TAILCALL; the last top-level
 * expression's is not, so the program's frame stays in backtraces. */
START_TEST(test_tailcall) {
  const char *src = "(define (f x) (g x 1))\n"
                    "(define (g a b) (+ a b))\n"
                    "(f 2)";
  ck_assert_str_eq(listing(src, 0),
                   "function 0 <top level>: 0 params, 2 registers, 0 upvalues, 0 constants\n"
                   "0 CLOSURE r0, f0\n"
                   "1 DEFGLOBAL r0, g0 ; f\n"
                   "2 CLOSURE r0, f1\n"
                   "3 DEFGLOBAL r0, g1 ; g\n"
                   "4 GETGLOBAL r0, g0 ; f\n"
                   "5 LOADI r1, 2\n"
                   "6 CALL r0, 1\n"
                   "7 RET r0\n");
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 4 registers, 0 upvalues, 0 constants\n"
                   "0 GETGLOBAL r1, g1 ; g\n"
                   "1 MOVE r2, r0\n"
                   "2 LOADI r3, 1\n"
                   "3 TAILCALL r1, 2\n");
  ck_assert_str_eq(run(src), "3");
}
END_TEST

/* A call whose value is used is a CALL, its result read in place. */
START_TEST(test_nontail_call) {
  ck_assert_str_eq(listing("(define (f x) (+ 1 (g x)))\n"
                           "(define (g a) a)",
                           1),
                   "function 1 <f>: 1 param, 4 registers, 0 upvalues, 0 constants\n"
                   "0 GETGLOBAL r2, g1 ; g\n"
                   "1 MOVE r3, r0\n"
                   "2 CALL r2, 1\n"
                   "3 ADDI r1, r2, 1\n"
                   "4 RET r1\n");
}
END_TEST

/* Comparisons in test position fuse with their jump: a K operand for
 * integer constants, the sense bit flipped by not, JNULL for null?. */
START_TEST(test_compare_jump) {
  ck_assert_str_eq(listing("(define (f x y l)\n"
                           "  (if (< x 10)\n"
                           "      (if (> x y) 1 2)\n"
                           "      (if (not (>= y 5)) 3 (if (null? l) 4 5))))",
                           1),
                   "function 1 <f>: 3 params, 4 registers, 0 upvalues, 2 constants\n"
                   "0 JLT r0, k0 if false ; 10\n"
                   "1 JMP -> 8\n"
                   "2 JGT r0, r1 if false\n"
                   "3 JMP -> 6\n"
                   "4 LOADI r3, 1\n"
                   "5 RET r3\n"
                   "6 LOADI r3, 2\n"
                   "7 RET r3\n"
                   "8 JGE r1, k1 if true ; 5\n"
                   "9 JMP -> 12\n"
                   "10 LOADI r3, 3\n"
                   "11 RET r3\n"
                   "12 JNULL r2 if false\n"
                   "13 JMP -> 16\n"
                   "14 LOADI r3, 4\n"
                   "15 RET r3\n"
                   "16 LOADI r3, 5\n"
                   "17 RET r3\n"
                   "k0 = 10\n"
                   "k1 = 5\n");
}
END_TEST

/* and/or in test position.  and fuses (JPAIR); or goes through its
 * temporary.  WASTE: the or materializes booleans (NULLP, EQ) and jumps
 * on them (JMPF, MOVE, JMP) where JNULL/JEQ jumps would do, and eq? with
 * a quoted symbol loads it into a register instead of a K operand. */
START_TEST(test_and_or_test) {
  ck_assert_str_eq(listing("(define (f x) (if (and (pair? x) (or (null? (cdr x)) (eq? (car x) 'a))) 1 2))", 1),
                   "function 1 <f>: 1 param, 5 registers, 0 upvalues, 1 constant\n"
                   "0 JPAIR r0 if false\n"
                   "1 JMP -> 13\n"
                   "2 CDR r3, r0\n"
                   "3 NULLP r2, r3\n"
                   "4 JMPF r2, -> 7\n"
                   "5 MOVE r1, r2\n"
                   "6 JMP -> 10\n"
                   "7 CAR r3, r0\n"
                   "8 LOADK r4, k0 ; a\n"
                   "9 EQ r1, r3, r4\n"
                   "10 JMPF r1, -> 13\n"
                   "11 LOADI r1, 1\n"
                   "12 RET r1\n"
                   "13 LOADI r1, 2\n"
                   "14 RET r1\n"
                   "k0 = a\n");
}
END_TEST

/* Adding or subtracting a constant that fits 16 signed bits is ADDI; the
 * rest load the constant.  (- x -32768) cannot negate into 16 bits. */
START_TEST(test_addi) {
  ck_assert_str_eq(listing("(define (f x) (list (+ x 1) (- x 1) (+ 1 x) (+ x 40000) (- x -32768) (+ x -32768)))", 1),
                   "function 1 <f>: 1 param, 7 registers, 0 upvalues, 0 constants\n"
                   "0 ADDI r1, r0, 1\n"
                   "1 ADDI r2, r0, -1\n"
                   "2 ADDI r3, r0, 1\n"
                   "3 LOADI r5, 40000\n"
                   "4 ADD r4, r0, r5\n"
                   "5 LOADI r6, -32768\n"
                   "6 SUB r5, r0, r6\n"
                   "7 ADDI r6, r0, -32768\n"
                   "8 PRIM r1, r1, list (6 args)\n"
                   "9 RET r1\n");
}
END_TEST

/* Locals and temporaries are freed at the end of their scope: the second
 * let reuses the registers of the first (r1-r3), 4 in all. */
START_TEST(test_register_reuse) {
  Module *m = ok("(define (f x)\n"
                 "  (let ((a (car x)) (b (cdr x))) (cons b a))\n"
                 "  (let ((c (cdr x)) (d (car x))) (cons c d)))");
  ck_assert_str_eq(listing_of(m, 1),
                   "function 1 <f>: 1 param, 4 registers, 0 upvalues, 0 constants\n"
                   "0 CAR r2, r0\n"
                   "1 CDR r3, r0\n"
                   "2 CONS r1, r3, r2\n"
                   "3 CDR r1, r0\n"
                   "4 CAR r2, r0\n"
                   "5 CONS r3, r1, r2\n"
                   "6 RET r3\n");
  ck_assert_int_eq(m->protos[1]->nregs, 4);
}
END_TEST

/* A primitive reads its arguments where they are when they are locals in
 * consecutive registers, in order; so one local argument is never copied
 * (PRIM r1, r2 / PRIM r2, r1). */
START_TEST(test_register_reuse_prim) {
  ck_assert_str_eq(listing("(define (f x)\n"
                           "  (let ((a (car x))) (display a))\n"
                           "  (let ((b (cdr x))) (display b)))",
                           1),
                   "function 1 <f>: 1 param, 3 registers, 0 upvalues, 0 constants\n"
                   "0 CAR r2, r0\n"
                   "1 PRIM r1, r2, display (1 arg)\n"
                   "2 CDR r1, r0\n"
                   "3 PRIM r2, r1, display (1 arg)\n"
                   "4 RET r2\n");
}
END_TEST

/* (x <- e) binds x to e's register: the instruction's result goes
 * straight into it, and (return v) is v. */
START_TEST(test_do_notation) {
  ck_assert_str_eq(listing("(define (f)\n"
                           "  (do (s <- (get-state))\n"
                           "      (n <- (length s))\n"
                           "      (set-state (cons n s))\n"
                           "      (return n)))",
                           1),
                   "function 1 <f>: 0 params, 3 registers, 0 upvalues, 0 constants\n"
                   "0 AVM r0, r0, get-state (0 args)\n"
                   "1 PRIM r1, r0, length (1 arg)\n"
                   "2 CONS r2, r1, r0\n"
                   "3 AVM r2, r2, set-state (1 arg)\n"
                   "4 MOVE r2, r1\n"
                   "5 RET r2\n");
}
END_TEST

/* An argument check whose value is unused is one CHECK on the register
 * the argument is in (a local's own, or a temporary); one whose value is
 * the result stays a call of the primitive. */
START_TEST(test_check_unused) {
  const char *src = "(define (f g l) (%check-proc \"f\" g) (%check-list \"f\" (cdr l)) (%check-list \"f\" l))";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 2 params, 4 registers, 0 upvalues, 1 constant\n"
                   "0 CHECK r0, k0, %check-proc ; \"f\"\n"
                   "1 CDR r2, r1\n"
                   "2 CHECK r2, k0, %check-list ; \"f\"\n"
                   "3 LOADK r2, k0 ; \"f\"\n"
                   "4 MOVE r3, r1\n"
                   "5 PRIM r2, r2, %check-list (2 args)\n"
                   "6 RET r2\n"
                   "k0 = \"f\"\n");
}
END_TEST

/* A flat list pattern walks the list once: the car of each pair is
 * tested (the quoted head, with one JEQ against a constant) or loaded
 * straight into its variable (n in r1, max in r2), and each cdr is taken
 * once, into one cursor (r3) that overwrites itself.  An item's pair
 * test, car and cdr are one JUNCONS (the head's car goes to r4).  The variables' registers come
 * first, so the cursor is free again for the body. */
START_TEST(test_match_flat) {
  const char *src = "(define (f msg) (match msg (('ping n max) (< n max))))";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 5 registers, 0 upvalues, 1 constant\n"
                   "0 JUNCONS r4, r3, r0 if false\n"
                   "1 JMP -> 12\n"
                   "2 JEQ r4, k0 if false ; ping\n"
                   "3 JMP -> 12\n"
                   "4 JUNCONS r1, r3, r3 if false\n"
                   "5 JMP -> 12\n"
                   "6 JUNCONS r2, r3, r3 if false\n"
                   "7 JMP -> 12\n"
                   "8 JNULL r3 if false\n"
                   "9 JMP -> 12\n"
                   "10 LT r3, r1, r2\n"
                   "11 RET r3\n"
                   "12 PRIM r1, r0, %match-fail (1 arg)\n"
                   "13 RET r1\n"
                   "k0 = ping\n");
  ck_assert_str_eq(run_with(src, "(list (f '(ping 1 2)) (f '(ping 2 1)))"), "(#t #f)");
  ck_assert_str_eq(run_with(src, "(f '(pong 1 2))"), "match: no clause matches (pong 1 2)");
  ck_assert_str_eq(run_with(src, "(f '(ping 1 2 3))"), "match: no clause matches (ping 1 2 3)");
  ck_assert_str_eq(run_with(src, "(f '(ping 1))"), "match: no clause matches (ping 1)");
  ck_assert_str_eq(run_with(src, "(f '(ping . 5))"), "match: no clause matches (ping . 5)");
  ck_assert_str_eq(run_with(src, "(f '(ping 1 . 2))"), "match: no clause matches (ping 1 . 2)");
}
END_TEST

/* A nested list pattern walks the inner list with a cursor of its own
 * (r5) above the outer one (r4), which the inner walk leaves alone; _
 * costs the pair test only. */
START_TEST(test_match_nested) {
  const char *src = "(define (f x) (match x (((a b) (c) _) (list a b c))))";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 6 registers, 0 upvalues, 0 constants\n"
                   "0 JUNCONS r5, r4, r0 if false\n"
                   "1 JMP -> 21\n"
                   "2 JUNCONS r1, r5, r5 if false\n"
                   "3 JMP -> 21\n"
                   "4 JUNCONS r2, r5, r5 if false\n"
                   "5 JMP -> 21\n"
                   "6 JNULL r5 if false\n"
                   "7 JMP -> 21\n"
                   "8 JUNCONS r5, r4, r4 if false\n"
                   "9 JMP -> 21\n"
                   "10 JUNCONS r3, r5, r5 if false\n"
                   "11 JMP -> 21\n"
                   "12 JNULL r5 if false\n"
                   "13 JMP -> 21\n"
                   "14 JPAIR r4 if false\n"
                   "15 JMP -> 21\n"
                   "16 CDR r4, r4\n"
                   "17 JNULL r4 if false\n"
                   "18 JMP -> 21\n"
                   "19 PRIM r4, r1, list (3 args)\n"
                   "20 RET r4\n"
                   "21 PRIM r1, r0, %match-fail (1 arg)\n"
                   "22 RET r1\n");
  ck_assert_str_eq(run_with(src, "(f '((1 2) (3) 4))"), "(1 2 3)");
  ck_assert_str_eq(run_with(src, "(f '((1 2) (3 4) 5))"), "match: no clause matches ((1 2) (3 4) 5)");
}
END_TEST

/* A dotted tail is the cdr after the last item, loaded straight into
 * its variable (rest in r3).  Variables the body does not use (a, b)
 * are not loaded at all.  Not in tail position, the clause jumps over
 * the failure to the code after the match. */
START_TEST(test_match_dotted_tail) {
  const char *src = "(define (f x) (+ 1 (match x ((a b . rest) (length rest)))))";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 5 registers, 0 upvalues, 0 constants\n"
                   "0 JPAIR r0 if false\n"
                   "1 JMP -> 8\n"
                   "2 CDR r4, r0\n"
                   "3 JPAIR r4 if false\n"
                   "4 JMP -> 8\n"
                   "5 CDR r3, r4\n"
                   "6 PRIM r2, r3, length (1 arg)\n"
                   "7 JMP -> 9\n"
                   "8 PRIM r2, r0, %match-fail (1 arg)\n"
                   "9 ADDI r1, r2, 1\n"
                   "10 RET r1\n");
  ck_assert_str_eq(run_with(src, "(list (f '(1 2)) (f '(1 2 3 4)))"), "(1 3)");
  ck_assert_str_eq(run_with(src, "(f '(1))"), "match: no clause matches (1)");
}
END_TEST

/* Each clause tests the subject (r0) afresh and a failing test jumps to
 * the next clause, which reuses the registers of the one before; after
 * the last, %match-fail.  A literal item is tested in a temporary (r3)
 * above the cursor (r2), which still has its cdr to give; (just n) loads
 * the maybe's value straight into n. */
START_TEST(test_match_clauses) {
  const char *src = "(define (f x)\n"
                    "  (match x\n"
                    "    ((a 0) a)\n"
                    "    (('neg a) (- a))\n"
                    "    ((just n) n)\n"
                    "    (nothing 0)))";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 4 registers, 0 upvalues, 2 constants\n"
                   "0 JUNCONS r1, r2, r0 if false\n"
                   "1 JMP -> 10\n"
                   "2 JUNCONS r3, r2, r2 if false\n"
                   "3 JMP -> 10\n"
                   "4 JEQ r3, k0 if false ; 0\n"
                   "5 JMP -> 10\n"
                   "6 JNULL r2 if false\n"
                   "7 JMP -> 10\n"
                   "8 MOVE r2, r1\n"
                   "9 RET r2\n"
                   "10 JUNCONS r3, r2, r0 if false\n"
                   "11 JMP -> 20\n"
                   "12 JEQ r3, k1 if false ; neg\n"
                   "13 JMP -> 20\n"
                   "14 JUNCONS r1, r2, r2 if false\n"
                   "15 JMP -> 20\n"
                   "16 JNULL r2 if false\n"
                   "17 JMP -> 20\n"
                   "18 PRIM r2, r1, - (1 arg)\n"
                   "19 RET r2\n"
                   "20 PRIM r2, r0, just? (1 arg)\n"
                   "21 JMPF r2, -> 25\n"
                   "22 PRIM r1, r0, from-just (1 arg)\n"
                   "23 MOVE r2, r1\n"
                   "24 RET r2\n"
                   "25 PRIM r1, r0, nothing? (1 arg)\n"
                   "26 JMPF r1, -> 29\n"
                   "27 LOADI r1, 0\n"
                   "28 RET r1\n"
                   "29 PRIM r1, r0, %match-fail (1 arg)\n"
                   "30 RET r1\n"
                   "k0 = 0\n"
                   "k1 = neg\n");
  ck_assert_str_eq(run_with(src, "(list (f '(5 0)) (f '(neg 3)) (f (just 4)) (f nothing))"), "(5 -3 4 0)");
  ck_assert_str_eq(run_with(src, "(f '(5 1))"), "match: no clause matches (5 1)");
}
END_TEST

/* Flat closures: the middle lambda carries a (register 0 of f) for the
 * inner one, which gets it from the middle one's upvalue 0. */
START_TEST(test_closures) {
  const char *src = "(define (f a) (lambda (b) (lambda (c) (+ a c))))\n"
                    "(((f 1) 2) 3)";
  ck_assert_str_eq(listing(src, -1),
                   "module t.avm: 4 functions, 1 global, 0 declarations\n"
                   "g0 = f\n"
                   "function 0 <top level>: 0 params, 2 registers, 0 upvalues, 0 constants\n"
                   "0 CLOSURE r0, f0\n"
                   "1 DEFGLOBAL r0, g0 ; f\n"
                   "2 GETGLOBAL r0, g0 ; f\n"
                   "3 LOADI r1, 1\n"
                   "4 CALL r0, 1\n"
                   "5 LOADI r1, 2\n"
                   "6 CALL r0, 1\n"
                   "7 LOADI r1, 3\n"
                   "8 CALL r0, 1\n"
                   "9 RET r0\n"
                   "function 1 <lambda>: 1 param, 3 registers, 1 upvalue, 0 constants\n"
                   "0 GETUPV r2, u0\n"
                   "1 ADD r1, r2, r0\n"
                   "2 RET r1\n"
                   "u0 = upvalue 0\n"
                   "function 2 <lambda>: 1 param, 2 registers, 1 upvalue, 0 constants\n"
                   "0 CLOSURE r1, f0\n"
                   "1 RET r1\n"
                   "u0 = register 0\n"
                   "function 3 <f>: 1 param, 2 registers, 0 upvalues, 0 constants\n"
                   "0 CLOSURE r1, f0\n"
                   "1 RET r1\n");
  ck_assert_str_eq(run(src), "4");
}
END_TEST

/* Mutually recursive letrec lambdas: ev? is made before od? exists and
 * gets it by SETUPV once od? is made. */
START_TEST(test_letrec) {
  const char *src = "(define (f n)\n"
                    "  (letrec ((ev? (lambda (k) (if (= k 0) #t (od? (- k 1)))))\n"
                    "           (od? (lambda (k) (if (= k 0) #f (ev? (- k 1))))))\n"
                    "    (ev? n)))\n"
                    "(list (f 7) (f 10))";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <ev?>: 1 param, 3 registers, 1 upvalue, 1 constant\n"
                   "0 JNUMEQ r0, k0 if false ; 0\n"
                   "1 JMP -> 4\n"
                   "2 LOADTRUE r1\n"
                   "3 RET r1\n"
                   "4 GETUPV r1, u0\n"
                   "5 ADDI r2, r0, -1\n"
                   "6 TAILCALL r1, 1\n"
                   "k0 = 0\n"
                   "u0 = register 2\n");
  ck_assert_str_eq(listing(src, 3),
                   "function 3 <f>: 1 param, 5 registers, 0 upvalues, 0 constants\n"
                   "0 CLOSURE r1, f0\n"
                   "1 CLOSURE r2, f1\n"
                   "2 SETUPV r1, 0, r2\n"
                   "3 MOVE r3, r1\n"
                   "4 MOVE r4, r0\n"
                   "5 TAILCALL r3, 1\n");
  ck_assert_str_eq(run(src), "(#f #t)");
}
END_TEST

/* (return v) compiles exactly as v, not as a call of the prelude's
 * return; rebinding return makes it an ordinary call again.
 * WASTE: returning a parameter copies it first (MOVE r1, r0; RET r1). */
START_TEST(test_return) {
  const char *src = "(define (f x) (return x))\n"
                    "(define (g x) x)";
  ck_assert_str_eq(listing(src, 1),
                   "function 1 <f>: 1 param, 2 registers, 0 upvalues, 0 constants\n"
                   "0 MOVE r1, r0\n"
                   "1 RET r1\n");
  ck_assert_str_eq(listing(src, 2),
                   "function 2 <g>: 1 param, 2 registers, 0 upvalues, 0 constants\n"
                   "0 MOVE r1, r0\n"
                   "1 RET r1\n");
  ck_assert_str_eq(listing("(define (f return x) (return x))", 1),
                   "function 1 <f>: 2 params, 4 registers, 0 upvalues, 0 constants\n"
                   "0 MOVE r2, r0\n"
                   "1 MOVE r3, r1\n"
                   "2 TAILCALL r2, 1\n");
}
END_TEST

/* apply is APPLY, or TAILAPPLY in tail position; B counts the arguments
 * after the procedure, the last being the list.
 * WASTE: the procedure and arguments are evaluated one register too high
 * and then shifted down by n MOVEs (pcs 3-5, 2-3); evaluating them in
 * place from the base register would save every one. */
START_TEST(test_apply) {
  ck_assert_str_eq(listing("(define (f g l) (apply g 1 l))", 1),
                   "function 1 <f>: 2 params, 6 registers, 0 upvalues, 0 constants\n"
                   "0 MOVE r3, r0\n"
                   "1 LOADI r4, 1\n"
                   "2 MOVE r5, r1\n"
                   "3 MOVE r2, r3\n"
                   "4 MOVE r3, r4\n"
                   "5 MOVE r4, r5\n"
                   "6 TAILAPPLY r2, 2\n");
  ck_assert_str_eq(listing("(define (h g l) (length (apply g l)))", 1),
                   "function 1 <h>: 2 params, 5 registers, 0 upvalues, 0 constants\n"
                   "0 MOVE r3, r0\n"
                   "1 MOVE r4, r1\n"
                   "2 MOVE r2, r3\n"
                   "3 MOVE r3, r4\n"
                   "4 APPLY r2, 1\n"
                   "5 PRIM r2, r2, length (1 arg)\n"
                   "6 RET r2\n");
  ck_assert_str_eq(run("(list (apply + 1 2 '(3 4)) (length (apply list '(1 2))))"), "(10 2)");
}
END_TEST

/* An AVM instruction called by name is one AVM op (suspending), with its
 * arguments in consecutive registers (here the parameters' own, o and m
 * in r0 and r1); a local of the same name is not. */
START_TEST(test_avm_instruction) {
  ck_assert_str_eq(listing("(define (f o m) (call o m))", 1),
                   "function 1 <f>: 2 params, 3 registers, 0 upvalues, 0 constants\n"
                   "0 AVM r2, r0, call (2 args)\n"
                   "1 RET r2\n");
  ck_assert_str_eq(listing("(define (f x) (do (s <- (get-state)) (set-state (cons x s))))", 1),
                   "function 1 <f>: 1 param, 3 registers, 0 upvalues, 0 constants\n"
                   "0 AVM r1, r0, get-state (0 args)\n"
                   "1 CONS r2, r0, r1\n"
                   "2 AVM r2, r2, set-state (1 arg)\n"
                   "3 RET r2\n");
  ck_assert_str_eq(listing("(define (f get-state) (get-state))", 1),
                   "function 1 <f>: 1 param, 2 registers, 0 upvalues, 0 constants\n"
                   "0 MOVE r1, r0\n"
                   "1 TAILCALL r1, 0\n");
  /* As a value, an instruction is the global holding its procedure. */
  ck_assert_str_eq(listing("(define (f l) (map get-self l))", 1),
                   "function 1 <f>: 1 param, 4 registers, 0 upvalues, 0 constants\n"
                   "0 GETGLOBAL r1, g1 ; map\n"
                   "1 GETGLOBAL r2, g2 ; get-self\n"
                   "2 MOVE r3, r0\n"
                   "3 TAILCALL r1, 2\n");
}
END_TEST

/* A body's internal definitions are a letrec*: constants and expressions
 * between the definitions are evaluated in order into their registers. */
START_TEST(test_internal_defines) {
  const char *src = "(define (f x)\n"
                    "  (define a (+ x 1))\n"
                    "  (define (g y) (* y a))\n"
                    "  (g 2))\n"
                    "(f 4)";
  ck_assert_str_eq(listing(src, 2),
                   "function 2 <f>: 1 param, 5 registers, 0 upvalues, 0 constants\n"
                   "0 LOADUNSPEC r1\n"
                   "1 LOADUNSPEC r2\n"
                   "2 ADDI r1, r0, 1\n"
                   "3 CLOSURE r2, f0\n"
                   "4 MOVE r3, r2\n"
                   "5 LOADI r4, 2\n"
                   "6 TAILCALL r3, 1\n");
  ck_assert_str_eq(run(src), "10");
}
END_TEST

/* {===== Diagnostics =====} */

START_TEST(test_unbound_variable) {
  fails("(define (f y)\n"
        "  (+ y x))",
        1,
        "t.avm:2:8: error: unbound variable 'x'\n"
        "   (+ y x))\n"
        "        ^\n");
  /* In a nested lambda, and as an operator. */
  fails("(define (f)\n"
        "  (lambda (a)\n"
        "    (frob a)))",
        1,
        "t.avm:3:6: error: unbound variable 'frob'\n"
        "     (frob a)))\n"
        "      ^~~~\n");
  /* A later top-level definition is not unbound. */
  ck_assert_ptr_nonnull(ok("(define (f) (g))\n(define (g) 1)"));
}
END_TEST

START_TEST(test_edit_distance) {
  ck_assert_uint_eq(suggest_distance("", ""), 0);
  ck_assert_uint_eq(suggest_distance("abc", ""), 3);
  ck_assert_uint_eq(suggest_distance("", "ab"), 2);
  ck_assert_uint_eq(suggest_distance("define", "define"), 0);
  ck_assert_uint_eq(suggest_distance("defin", "define"), 1);      /* insertion */
  ck_assert_uint_eq(suggest_distance("lenght", "length"), 1);     /* transposition */
  ck_assert_uint_eq(suggest_distance("kitten", "sitting"), 3);
  ck_assert_uint_eq(suggest_distance("ca", "abc"), 3);            /* OSA, not full Damerau */
  /* The threshold: one edit per three characters, never a whole name. */
  Suggest s;
  suggest_init(&s, "x");
  suggest_consider(&s, "y", 0);
  ck_assert_ptr_null(s.best);
  suggest_init(&s, "fold-lef");
  suggest_consider(&s, "fold-right", 1);   /* 3 edits: too far */
  suggest_consider(&s, "%fold-left", 2);   /* internal */
  ck_assert_ptr_null(s.best);
  suggest_consider(&s, "fold-left", 3);
  ck_assert_str_eq(s.best, "fold-left");
  ck_assert_int_eq(s.best_kind, 3);
  /* Ties go to the first candidate offered, closer ones always win. */
  suggest_init(&s, "cat");
  suggest_consider(&s, "car", 1);
  suggest_consider(&s, "cdt", 2);
  ck_assert_str_eq(s.best, "car");
  suggest_init(&s, "lenght");
  suggest_consider(&s, "lent", 1);
  suggest_consider(&s, "length", 2);
  ck_assert_str_eq(s.best, "length");
}
END_TEST

/* "did you mean" names the closest thing in scope, of every kind. */
START_TEST(test_unbound_suggestions) {
  fails("(define (f items)\n  (car itmes))", 1,
        "t.avm:2:8: error: unbound variable 'itmes'\n"
        "   (car itmes))\n"
        "        ^~~~~\n"
        "t.avm:2:8: note: did you mean 'items'?\n");
  fails("(define counter 1)\n(+ conter 1)", 1,
        "t.avm:2:4: error: unbound variable 'conter'\n"
        " (+ conter 1)\n"
        "    ^~~~~~\n"
        "t.avm:2:4: note: did you mean 'counter'?\n");
  fails("(lenght '(1))", 1,
        "t.avm:1:2: error: unbound variable 'lenght'\n"
        " (lenght '(1))\n"
        "  ^~~~~~\n"
        "t.avm:1:2: note: did you mean 'length'?\n");
  fails("(fold-lef + 0 '(1))", 1,
        "t.avm:1:2: error: unbound variable 'fold-lef'\n"
        " (fold-lef + 0 '(1))\n"
        "  ^~~~~~~~\n"
        "t.avm:1:2: note: did you mean 'fold-left'?\n");
  fails("(get-stat)", 1,
        "t.avm:1:2: error: unbound variable 'get-stat'\n"
        " (get-stat)\n"
        "  ^~~~~~~~\n"
        "t.avm:1:2: note: did you mean 'get-state'?\n");
  /* A local shadows a global of the same distance: nearest scope first. */
  fails("(define (f lisp) (lis 1))", 1,
        "t.avm:1:19: error: unbound variable 'lis'\n"
        " (define (f lisp) (lis 1))\n"
        "                   ^~~\n"
        "t.avm:1:19: note: did you mean 'lisp'?\n");
  /* Nothing close: no note. */
  fails("(frobnicate 1)", 1,
        "t.avm:1:2: error: unbound variable 'frobnicate'\n"
        " (frobnicate 1)\n"
        "  ^~~~~~~~~~\n");
}
END_TEST

/* A misspelt special form is one diagnostic, not one per operand. */
START_TEST(test_misspelt_special_form) {
  fails("(defin (f x) (car x))", 1,
        "t.avm:1:2: error: unbound variable 'defin'\n"
        " (defin (f x) (car x))\n"
        "  ^~~~~\n"
        "t.avm:1:2: note: did you mean 'define'?\n");
  fails("(lamda (x) (+ x y))\n(lett ((a 1)) a)\n(behavor b (m) m)", 3,
        "t.avm:1:2: error: unbound variable 'lamda'\n"
        " (lamda (x) (+ x y))\n"
        "  ^~~~~\n"
        "t.avm:1:2: note: did you mean 'lambda'?\n"
        "t.avm:2:2: error: unbound variable 'lett'\n"
        " (lett ((a 1)) a)\n"
        "  ^~~~\n"
        "t.avm:2:2: note: did you mean 'let'?\n"
        "t.avm:3:2: error: unbound variable 'behavor'\n"
        " (behavor b (m) m)\n"
        "  ^~~~~~~\n"
        "t.avm:3:2: note: did you mean 'behavior'?\n");
  /* A misspelt procedure's arguments are still checked. */
  fails("(lenght x)", 2,
        "t.avm:1:2: error: unbound variable 'lenght'\n"
        " (lenght x)\n"
        "  ^~~~~~\n"
        "t.avm:1:2: note: did you mean 'length'?\n"
        "t.avm:1:9: error: unbound variable 'x'\n"
        " (lenght x)\n"
        "         ^\n");
}
END_TEST

/* Past max_errors neither errors nor their notes are printed. */
START_TEST(test_notes_follow_their_errors) {
  char src[1024] = "";
  for (int j = 0; j < 25; j++) strcat(src, "(lenght 1)\n");
  Compiled c = compile_src(src);
  ck_assert_ptr_null(c.m);
  ck_assert_int_eq(c.nerrors, 25);
  int errors = 0, notes = 0;
  for (const char *p = c.diag; (p = strstr(p, ": error: ")); p++) errors++;
  for (const char *p = c.diag; (p = strstr(p, ": note: ")); p++) notes++;
  ck_assert_int_eq(errors, 20);
  ck_assert_int_eq(notes, 20);
  ck_assert_ptr_nonnull(strstr(c.diag, "t.avm:20:2: note: did you mean 'length'?\n"));
  ck_assert_ptr_null(strstr(c.diag, "t.avm:21:"));
}
END_TEST

/* A span over several lines is underlined to the end of its first line. */
START_TEST(test_multiline_span) {
  fails("(display (car (list 1 2)  \n   3))", 1,
        "t.avm:1:10: error: car: wrong number of arguments (expected 1, got 2)\n"
        " (display (car (list 1 2)  \n"
        "          ^~~~~~~~~~~~~~~\n");
}
END_TEST

START_TEST(test_unbound_several) {
  fails("(list a b (c))", 3,
        "t.avm:1:7: error: unbound variable 'a'\n"
        " (list a b (c))\n"
        "       ^\n"
        "t.avm:1:9: error: unbound variable 'b'\n"
        " (list a b (c))\n"
        "         ^\n"
        "t.avm:1:12: error: unbound variable 'c'\n"
        " (list a b (c))\n"
        "            ^\n");
  fails("(define (f) x)\n(define (g) y)", 2,
        "t.avm:1:13: error: unbound variable 'x'\n"
        " (define (f) x)\n"
        "             ^\n"
        "t.avm:2:13: error: unbound variable 'y'\n"
        " (define (g) y)\n"
        "             ^\n");
}
END_TEST

START_TEST(test_pure_direct) {
  fails("(pure q (a) (set-state a))", 1,
        "t.avm:1:13: error: pure function 'q' uses AVM instruction 'set-state'\n"
        " (pure q (a) (set-state a))\n"
        "             ^~~~~~~~~~~~~\n");
  /* Inside a lambda of the pure body, and as a value. */
  fails("(pure q (l) (map (lambda (x) (get-state)) l))", 1,
        "t.avm:1:30: error: pure function 'q' uses AVM instruction 'get-state'\n"
        " (pure q (l) (map (lambda (x) (get-state)) l))\n"
        "                              ^~~~~~~~~~~\n");
  fails("(pure q (l) (map get-self l))", 1,
        "t.avm:1:18: error: pure function 'q' uses AVM instruction 'get-self'\n"
        " (pure q (l) (map get-self l))\n"
        "                  ^~~~~~~~\n");
  /* Behaviors and plain definitions may use instructions. */
  ck_assert_ptr_nonnull(ok("(behavior b (m) (do (s <- (get-state)) (set-state (cons m s)) (return #t)))"));
}
END_TEST

START_TEST(test_pure_indirect) {
  fails("(define (h) (get-state))\n"
        "(define (g) (h))\n"
        "(pure p (a) (g))",
        1,
        "t.avm:3:14: error: pure function 'p' calls 'g', which uses AVM instructions\n"
        " (pure p (a) (g))\n"
        "              ^\n");
  /* A reference to an impure procedure counts as much as a call. */
  fails("(define (h) (get-state))\n"
        "(pure p (l) (map (lambda (x) (h)) l))",
        1,
        "t.avm:2:31: error: pure function 'p' calls 'h', which uses AVM instructions\n"
        " (pure p (l) (map (lambda (x) (h)) l))\n"
        "                               ^\n");
  /* Direct uses are reported while compiling, calls after: the second
   * pure function's error comes first. */
  fails("(define (h) (get-state))\n"
        "(pure p (a) (h))\n"
        "(pure q (a) (set-state a))",
        2,
        "t.avm:3:13: error: pure function 'q' uses AVM instruction 'set-state'\n"
        " (pure q (a) (set-state a))\n"
        "             ^~~~~~~~~~~~~\n"
        "t.avm:2:14: error: pure function 'p' calls 'h', which uses AVM instructions\n"
        " (pure p (a) (h))\n"
        "              ^\n");
  /* Pure helpers, the prelude and shadowed instruction names are fine. */
  ck_assert_ptr_nonnull(ok("(define (sq x) (* x x))\n"
                           "(define (get-state) 7)\n"
                           "(pure p (a) (map sq (list a (get-state))))"));
}
END_TEST

START_TEST(test_unsafe) {
  fails("(reflect 1)", 1,
        "t.avm:1:1: error: unsafe instruction 'reflect' requires --allow-unsafe\n"
        " (reflect 1)\n"
        " ^~~~~~~~~~~\n");
  fails("(define (f) (scry-meta (lambda (m) #t)))", 1,
        "t.avm:1:13: error: unsafe instruction 'scry-meta' requires --allow-unsafe\n"
        " (define (f) (scry-meta (lambda (m) #t)))\n"
        "             ^~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
  Compiled c = compile_in(vm, "(reflect 1)", true);
  ck_assert_ptr_nonnull(c.m);
  ck_assert_str_eq(c.diag, "");
  ck_assert_int_eq(c.m->flags, MODULE_UNSAFE);
  char err[512];
  ck_assert_msg(vm_verify(c.m, err, sizeof err), "%s", err);
  ck_assert_str_eq(listing_of(c.m, -1),
                   "module t.avm (unsafe): 1 function, 0 globals, 0 declarations\n"
                   "function 0 <top level>: 0 params, 1 register, 0 upvalues, 0 constants\n"
                   "0 LOADI r0, 1\n"
                   "1 AVM r0, r0, reflect (1 arg)\n"
                   "2 RET r0\n");
  /* Safe code stays unmarked, with or without the flag. */
  c = compile_in(vm, "(get-self)", true);
  ck_assert_ptr_nonnull(c.m);
  ck_assert_int_eq(c.m->flags, 0);
  ck_assert_int_eq(ok("(define (f o m) (call o m))")->flags, 0);
}
END_TEST

START_TEST(test_arity) {
  fails("(car 1 2)", 1,
        "t.avm:1:1: error: car: wrong number of arguments (expected 1, got 2)\n"
        " (car 1 2)\n"
        " ^~~~~~~~~\n");
  fails("(-)", 1,
        "t.avm:1:1: error: -: wrong number of arguments (expected at least 1, got 0)\n"
        " (-)\n"
        " ^~~\n");
  fails("(define (f s) (substring s))", 1,
        "t.avm:1:15: error: substring: wrong number of arguments (expected 2 to 3, got 1)\n"
        " (define (f s) (substring s))\n"
        "               ^~~~~~~~~~~~~\n");
  fails("(create-obj)", 1,
        "t.avm:1:1: error: create-obj: wrong number of arguments (expected 1 to 2, got 0)\n"
        " (create-obj)\n"
        " ^~~~~~~~~~~~\n");
  /* A local or a module definition of the name is an ordinary call. */
  ck_assert_ptr_nonnull(ok("(define (f car) (car 1 2))"));
  ck_assert_ptr_nonnull(ok("(define (cdr a b) a)\n(cdr 1 2)"));
}
END_TEST

START_TEST(test_duplicate_declaration) {
  fails("(behavior b (m) 1)\n"
        "(pure p (a) 2)\n"
        "(pure p (a) 3)\n"
        "(behavior b (m) 4)",
        2,
        "t.avm:3:1: error: pure function 'p' is declared twice\n"
        " (pure p (a) 3)\n"
        " ^~~~~~~~~~~~~~\n"
        "t.avm:4:1: error: behavior 'b' is declared twice\n"
        " (behavior b (m) 4)\n"
        " ^~~~~~~~~~~~~~~~~~\n");
}
END_TEST

START_TEST(test_letrec_before_definition) {
  fails("(define (f) (letrec ((a (+ b 1)) (b 2)) a))", 1,
        "t.avm:1:25: error: 'b' is used before its definition\n"
        " (define (f) (letrec ((a (+ b 1)) (b 2)) a))\n"
        "                         ^~~~~~~\n");
  fails("(define (f)\n"
        "  (define a b)\n"
        "  (define b 1)\n"
        "  a)",
        1,
        "t.avm:2:13: error: 'b' is used before its definition\n"
        "   (define a b)\n"
        "             ^\n");
  /* Inside a lambda init the reference is delayed: fine. */
  ck_assert_ptr_nonnull(ok("(define (f) (letrec ((a (lambda () b)) (b 2)) (a)))"));
}
END_TEST

START_TEST(test_malformed_forms) {
  fails("(if 1)", 1,
        "t.avm:1:1: error: malformed if: expected (if test then [else])\n"
        " (if 1)\n"
        " ^~~~~~\n");
  fails("(if 1 2 3 4)", 1,
        "t.avm:1:1: error: malformed if: expected (if test then [else])\n"
        " (if 1 2 3 4)\n"
        " ^~~~~~~~~~~~\n");
  fails("(lambda (x))", 1,
        "t.avm:1:1: error: malformed lambda: expected (lambda (param ...) body ...)\n"
        " (lambda (x))\n"
        " ^~~~~~~~~~~~\n");
  fails("(define (f))", 1,
        "t.avm:1:1: error: malformed define: empty body\n"
        " (define (f))\n"
        " ^~~~~~~~~~~~\n");
  fails("(let ((x)) x)", 1,
        "t.avm:1:7: error: malformed let binding: expected (name expression)\n"
        " (let ((x)) x)\n"
        "       ^~~\n");
  fails("(let (x 1) x)", 1,
        "t.avm:1:7: error: malformed let binding: expected (name expression)\n"
        " (let (x 1) x)\n"
        "       ^\n");
  fails("(+ 1 (define x 2))", 1,
        "t.avm:1:6: error: definition not allowed here: define belongs at the top level or at the start of a body\n"
        " (+ 1 (define x 2))\n"
        "      ^~~~~~~~~~~~\n");
  fails("(cond (else 1) (#t 2))", 1,
        "t.avm:1:7: error: malformed cond: 'else' clause must be last\n"
        " (cond (else 1) (#t 2))\n"
        "       ^~~~~~~~\n");
  /* Errors in several forms are all reported. */
  fails("(if)\n(lambda)", 2,
        "t.avm:1:1: error: malformed if: expected (if test then [else])\n"
        " (if)\n"
        " ^~~~\n"
        "t.avm:2:1: error: malformed lambda: expected (lambda (param ...) body ...)\n"
        " (lambda)\n"
        " ^~~~~~~~\n");
}
END_TEST

/* {===== Output and declarations =====} */

static const char *const determinism_src =
  "(define greeting \"hello\\tworld\")\n"
  "(define table '((a . 1) (b 2 3) \"s\" #t #f ()))\n"
  "(define (adder n) (lambda (x) (+ x n 100000000000)))\n"
  "(define (walk l acc) (if (null? l) acc (walk (cdr l) (cons (car l) acc))))\n"
  "(behavior counter (msg)\n"
  "  (do (s <- (get-state))\n"
  "      (set-state (cons msg s))\n"
  "      (return (length s))))\n"
  "(pure dist (a b) (abs (- a b)))\n"
  "(list greeting ((adder 1) 2) (walk table '()) 'sym (just 1) nothing)\n";

START_TEST(test_deterministic_bytes) {
  Module *a = ok(determinism_src), *b = ok(determinism_src);
  ck_assert_ptr_ne(a, b);
  size_t na, nb;
  unsigned char *ba = avmb_write(a, &na), *bb = avmb_write(b, &nb);
  ck_assert_uint_eq(na, nb);
  ck_assert_int_eq(memcmp(ba, bb, na), 0);
  /* Writing the same module again gives the same bytes too. */
  size_t nc;
  unsigned char *bc = avmb_write(a, &nc);
  ck_assert_uint_eq(na, nc);
  ck_assert_int_eq(memcmp(ba, bc, na), 0);
  /* So does compiling in another VM with the prelude. */
  VM *other = vm_new();
  prelude_load(other);
  Compiled c = compile_in(other, determinism_src, false);
  ck_assert_ptr_nonnull(c.m);
  size_t nd;
  unsigned char *bd = avmb_write(c.m, &nd);
  ck_assert_uint_eq(na, nd);
  ck_assert_int_eq(memcmp(ba, bd, na), 0);
  /* And the listings agree. */
  ck_assert_str_eq(listing_of(a, -1), listing_of(b, -1));
  free(ba);
  free(bb);
  free(bc);
  free(bd);
}
END_TEST

/* The image loads back (vm/loader.c) into the same listing. */
START_TEST(test_avmb_round_trip) {
  Module *m = ok(determinism_src);
  size_t n;
  unsigned char *bytes = avmb_write(m, &n);
  char err[512] = "";
  Module *back = avmb_load(bytes, n, err, sizeof err);
  ck_assert_msg(back != NULL, "%s", err);
  ck_assert_msg(vm_verify(back, err, sizeof err), "%s", err);
  ck_assert_str_eq(listing_of(back, -1), listing_of(m, -1));
  free(bytes);
}
END_TEST

START_TEST(test_declarations) {
  Module *m = ok("(define (helper x) (* x 2))\n"
                 "(behavior b (msg) (helper msg))\n"
                 "(pure p (a b) (abs (- a b)))\n"
                 "(helper 1)");
  ck_assert_int_eq(m->ndecls, 2);
  ck_assert_int_eq(m->decls[0].kind, DECL_BEHAVIOR);
  ck_assert_str_eq(m->decls[0].name->name, "b");
  ck_assert_int_eq(m->decls[1].kind, DECL_PURE);
  ck_assert_str_eq(m->decls[1].name->name, "p");
  ck_assert_uint_lt(m->decls[0].proto, m->nprotos);
  ck_assert_uint_lt(m->decls[1].proto, m->nprotos);
  const Proto *pb = m->protos[m->decls[0].proto], *pp = m->protos[m->decls[1].proto];
  ck_assert_int_eq(pb->nparams, 1);
  ck_assert(!pb->rest);
  ck_assert_str_eq(pb->name->name, "b");
  ck_assert_int_eq(pb->nup, 0);
  ck_assert_int_eq(pp->nparams, 2);
  ck_assert_str_eq(pp->name->name, "p");
  ck_assert_str_eq(listing_of(m, -1),
                   "module t.avm: 4 functions, 2 globals, 2 declarations\n"
                   "behavior b = function 2\n"
                   "pure p = function 3\n"
                   "g0 = helper\n"
                   "g1 = p\n"
                   "function 0 <top level>: 0 params, 2 registers, 0 upvalues, 0 constants\n"
                   "0 CLOSURE r0, f0\n"
                   "1 DEFGLOBAL r0, g0 ; helper\n"
                   "2 CLOSURE r0, f2\n"
                   "3 DEFGLOBAL r0, g1 ; p\n"
                   "4 GETGLOBAL r0, g0 ; helper\n"
                   "5 LOADI r1, 1\n"
                   "6 CALL r0, 1\n"
                   "7 RET r0\n"
                   "function 1 <helper>: 1 param, 3 registers, 0 upvalues, 0 constants\n"
                   "0 LOADI r2, 2\n"
                   "1 MUL r1, r0, r2\n"
                   "2 RET r1\n"
                   "function 2 <b>: 1 param, 3 registers, 0 upvalues, 0 constants\n"
                   "0 GETGLOBAL r1, g0 ; helper\n"
                   "1 MOVE r2, r0\n"
                   "2 TAILCALL r1, 1\n"
                   "function 3 <p>: 2 params, 3 registers, 0 upvalues, 0 constants\n"
                   "0 SUB r2, r0, r1\n"
                   "1 PRIM r2, r2, abs (1 arg)\n"
                   "2 RET r2\n");
  /* A module of only declarations has a top level giving unspecified. */
  Module *d = ok("(behavior b (m) m)");
  ck_assert_int_eq(d->ndecls, 1);
  ck_assert_str_eq(listing_of(d, 0),
                   "function 0 <top level>: 0 params, 1 register, 0 upvalues, 0 constants\n"
                   "0 LOADUNSPEC r0\n"
                   "1 RET r0\n");
  ck_assert_int_eq(ok("(+ 1 2)")->ndecls, 0);
}
END_TEST

/* {===== Regressions: bugs found and fixed =====} */

/* Regressions: */
/* Was a bug: in a loop jump, an argument that is an ordinary call is compiled
 * straight into its loop parameter's register; when that register is the
 * top one (dst == freereg - 1), compile_call reuses it as the call base, so
 * the callee overwrites the parameter before the arguments read it:
 * GETGLOBAL r1, g0 (dbl) / MOVE r2, r1 / CALL r1, 1 -> "*: expected
 * integer, got #<procedure dbl>".  Expected 16.  The same happens when
 * the call is the value of an if or begin in that argument.  Fix: reuse
 * dst as the call base only when it is no variable's register. */
START_TEST(test_bug_loop_call_clobbers_parameter) {
  ck_assert_str_eq(run("(define (dbl x) (* 2 x))\n"
                       "(define (f) (let loop ((i 0) (acc 1)) (if (> i 3) acc (loop (+ i 1) (dbl acc)))))\n"
                       "(f)"),
                   "16");
  ck_assert_str_eq(run("(define (dec x) (- x 1))\n"
                       "(let loop ((n 5)) (if (= n 0) 'done (loop (dec n))))"),
                   "done");
  ck_assert_str_eq(run("(define (dbl x) (* 2 x))\n"
                       "(let loop ((i 0) (acc 1))\n"
                       "  (if (> i 3) acc (loop (+ i 1) (begin (length '()) (dbl acc)))))"),
                   "16");
}
END_TEST

/* Was a bug: a PRIM or AVM with no arguments takes B = freereg, which is out of
 * range when no register above it was ever used: (define (f) (get-state))
 * gives AVM r0, r1 in a 1-register function, and vm_verify (so avm run of
 * the .avmb) rejects it: "AVM: register B=1 out of range (1 registers)".
 * Fix: emit B = 0 when there are no arguments (test_do_notation and
 * test_avm_instruction then read "AVM r0, r0, get-state (0 args)" and
 * "AVM r1, r0, get-state (0 args)"). */
START_TEST(test_bug_zero_arg_operand_out_of_range) {
  ok("(get-state)");
  ok("(define (f) (get-state))");
  ok("(define (f) (list))");
  ok("(define (f x) (set-state (cons x (get-state))))");
  ok("(behavior b (m) (get-state))");
}
END_TEST

/* Was a bug: in a loop jump, an argument that is a variable with the
 * parameter's name counts as "unchanged" (compile_loop_jump compares
 * names), even when it names an inner binding that shadows the parameter:
 * here (loop i) passes the let's i, yet no MOVE r0, r1 is emitted and the
 * loop never ends.  Expected 5.  Fix: compare the register the argument
 * resolves to with the parameter's register. */
START_TEST(test_bug_loop_shadowed_parameter) {
  ck_assert_str_eq(run("(let loop ((i 0)) (let ((i (+ i 1))) (if (< i 5) (loop i) i)))"), "5");
}
END_TEST

/* Was a bug: the purity check only attributes a top-level definition's uses to
 * it when its value is a lambda, so aliases and computed procedures are
 * never marked impure and pure functions may call them.  Fix: give every
 * top-level define its own TopInfo in comp_module, whatever its value. */
START_TEST(test_bug_purity_through_alias) {
  fails("(define h get-state)\n"
        "(pure p () (h))",
        1,
        "t.avm:2:13: error: pure function 'p' calls 'h', which uses AVM instructions\n"
        " (pure p () (h))\n"
        "             ^\n");
  fails("(define (g) (get-state))\n"
        "(define h g)\n"
        "(pure p () (h))",
        1,
        "t.avm:3:13: error: pure function 'p' calls 'h', which uses AVM instructions\n"
        " (pure p () (h))\n"
        "             ^\n");
  fails("(define h (let ((k 1)) (lambda () (get-state))))\n"
        "(pure p () (h))",
        1,
        "t.avm:2:13: error: pure function 'p' calls 'h', which uses AVM instructions\n"
        " (pure p () (h))\n"
        "             ^\n");
}
END_TEST

/* Was a bug: "is used before its definition" is decided by occurs(), which
 * ignores shadowing and looks inside lambdas, so valid letrec* bodies are
 * rejected.  (The second case also needs the closure made inside a
 * non-lambda init to be patched, or the reference to go through the
 * letrec register at call time, before the check can be relaxed.) */
START_TEST(test_bug_letrec_false_positive) {
  ck_assert_str_eq(run("(define (f) (letrec ((a (let ((b 1)) b)) (b 2)) (+ a b)))\n(f)"), "3");
  /* A closure made inside a non-lambda initializer that refers to a later
   * binding stays a compile error ("used before its definition"): such a
   * closure is not patched when the later binding gets its value. */
}
END_TEST

/* {===== Compiling a session's inputs (the REPL) =====} */

/* Compiles [src] as the REPL does: its first line is line [line] of the
 * session, and procedures may use globals not defined yet. */
static Compiled compile_input(VM *in, const char *src, int line) {
  return compile_with(in, "<repl>", src, (CompOptions){ .first_line = line, .open_globals = true });
}

START_TEST(test_open_globals) {
  /* Inside a procedure: a warning, and a run-time lookup of the global. */
  Compiled c = compile_input(vm, "(define (f) (later 1))", 1);
  ck_assert_ptr_nonnull(c.m);
  ck_assert_int_eq(c.nerrors, 0);
  ck_assert_str_eq(c.diag, "<repl>:1:14: warning: 'later' is not defined yet\n"
                           " (define (f) (later 1))\n"
                           "              ^~~~~\n");
  /* At the top level the name is needed now: an error, as in a file. */
  c = compile_input(vm, "(later 1)", 1);
  ck_assert_ptr_null(c.m);
  ck_assert_str_eq(c.diag, "<repl>:1:2: error: unbound variable 'later'\n"
                           " (later 1)\n"
                           "  ^~~~~\n");
  /* Without open_globals (a file), the procedure's use is an error too. */
  fails("(define (f) (later 1))", 1,
        "t.avm:1:14: error: unbound variable 'later'\n"
        " (define (f) (later 1))\n"
        "              ^~~~~\n");
}
END_TEST

START_TEST(test_first_line) {
  /* Lines count from the input's place in the session, and the quoted
   * line is found in the input's own text. */
  Compiled c = compile_input(vm, "(+ 1\n   (car))", 41);
  ck_assert_ptr_null(c.m);
  ck_assert_str_eq(c.diag, "<repl>:42:4: error: car: wrong number of arguments (expected 1, got 0)\n"
                           "    (car))\n"
                           "    ^~~~~\n");
}
END_TEST

START_TEST(test_inputs_see_earlier_globals) {
  /* A later input compiles against what earlier ones defined in the VM,
   * and a procedure that uses an AVM instruction stays impure for a
   * later pure declaration. */
  VM *own = vm_new();
  prelude_load(own);
  Compiled c = compile_input(own, "(define (h) (get-state)) (define k 5)", 1);
  ck_assert_ptr_nonnull(c.m);
  vm_link(own, c.m);
  /* What running that input would have defined (any value but a
   * primitive will do for compiling). */
  vm_define_global(own, sym_intern_cstr("k"), v_int(5));
  vm_define_global(own, sym_intern_cstr("h"), v_int(0));
  c = compile_input(own, "(+ k 1)", 2);
  ck_assert_ptr_nonnull(c.m);
  ck_assert_str_eq(c.diag, "");
  c = compile_input(own, "(pure p () (h))", 3);
  ck_assert_ptr_null(c.m);
  ck_assert_str_eq(c.diag, "<repl>:3:13: error: pure function 'p' calls 'h', which uses AVM instructions\n"
                           " (pure p () (h))\n"
                           "             ^\n");
}
END_TEST

START_TEST(test_comp_syntax) {
  /* Data read once, compiled one top-level form at a time. */
  const char *src = "(define a 1) (+ a 2)";
  Diag d;
  diag_init(&d, stderr);
  const char *file = diag_add_source(&d, "t.avm", src, strlen(src));
  SyntaxList sl;
  ck_assert(read_source(&d, file, src, strlen(src), &sl));
  ck_assert_int_eq(sl.n, 2);
  CompOptions opt = { .open_globals = true };
  SyntaxList first = { &sl.items[0], 1 };
  Module *m = comp_syntax(&d, vm, file, &first, &opt);
  ck_assert_ptr_nonnull(m);
  ck_assert_uint_eq(m->nglobals, 1);
  ck_assert_str_eq(m->globals[0]->name, "a");
}
END_TEST

static Suite *compiler_suite(void) {
  Suite *s = suite_create("compiler");

  TCase *golden = tcase_create("golden");
  tcase_add_test(golden, test_loop);
  tcase_add_test(golden, test_loop_swap);
  tcase_add_test(golden, test_loop_nontail);
  tcase_add_test(golden, test_named_let_closure);
  tcase_add_test(golden, test_tailcall);
  tcase_add_test(golden, test_nontail_call);
  tcase_add_test(golden, test_compare_jump);
  tcase_add_test(golden, test_and_or_test);
  tcase_add_test(golden, test_addi);
  tcase_add_test(golden, test_register_reuse);
  tcase_add_test(golden, test_register_reuse_prim);
  tcase_add_test(golden, test_do_notation);
  tcase_add_test(golden, test_check_unused);
  tcase_add_test(golden, test_match_flat);
  tcase_add_test(golden, test_match_nested);
  tcase_add_test(golden, test_match_dotted_tail);
  tcase_add_test(golden, test_match_clauses);
  tcase_add_test(golden, test_closures);
  tcase_add_test(golden, test_letrec);
  tcase_add_test(golden, test_return);
  tcase_add_test(golden, test_apply);
  tcase_add_test(golden, test_avm_instruction);
  tcase_add_test(golden, test_internal_defines);
  suite_add_tcase(s, golden);

  TCase *errors = tcase_create("errors");
  tcase_add_test(errors, test_unbound_variable);
  tcase_add_test(errors, test_unbound_several);
  tcase_add_test(errors, test_edit_distance);
  tcase_add_test(errors, test_unbound_suggestions);
  tcase_add_test(errors, test_misspelt_special_form);
  tcase_add_test(errors, test_multiline_span);
  tcase_add_test(errors, test_notes_follow_their_errors);
  tcase_add_test(errors, test_pure_direct);
  tcase_add_test(errors, test_pure_indirect);
  tcase_add_test(errors, test_unsafe);
  tcase_add_test(errors, test_arity);
  tcase_add_test(errors, test_duplicate_declaration);
  tcase_add_test(errors, test_letrec_before_definition);
  tcase_add_test(errors, test_malformed_forms);
  suite_add_tcase(s, errors);

  TCase *output = tcase_create("output");
  tcase_add_test(output, test_deterministic_bytes);
  tcase_add_test(output, test_avmb_round_trip);
  tcase_add_test(output, test_declarations);
  suite_add_tcase(s, output);


  TCase *session = tcase_create("session");
  tcase_add_test(session, test_open_globals);
  tcase_add_test(session, test_first_line);
  tcase_add_test(session, test_inputs_see_earlier_globals);
  tcase_add_test(session, test_comp_syntax);
  suite_add_tcase(s, session);

  TCase *bugs = tcase_create("bugs");
  tcase_add_test(bugs, test_bug_loop_call_clobbers_parameter);
  tcase_add_test(bugs, test_bug_zero_arg_operand_out_of_range);
  tcase_add_test(bugs, test_bug_loop_shadowed_parameter);
  tcase_add_test(bugs, test_bug_purity_through_alias);
  tcase_add_test(bugs, test_bug_letrec_false_positive);
  suite_add_tcase(s, bugs);
  return s;
}

int main(void) {
  GC_INIT();
  vm = vm_new();
  prelude_load(vm);
  return run_suite(compiler_suite());
}
