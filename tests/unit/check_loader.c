/* tests/unit/check_loader.c — the .avmb writer, loader and verifier
 * (compiler/writer.c, vm/loader.c, vm/verify.c): round trips and
 * determinism, every truncation and single-byte corruption, hand-forged
 * modules that carry a correct CRC but break one rule each, and running
 * verified modules to their expected results. */
#define _POSIX_C_SOURCE 200809L
#include <check.h>
#include "tests/unit/testutil.h"
#include <gc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "compiler/compiler.h"
#include "stdlib/prelude.h"
#include "vm/avmb.h"
#include "vm/loader.h"

/* {===== Helpers =====} */

static VM *vm;   /* with the prelude: compiles every test program */

typedef struct Img { unsigned char *p; size_t len; } Img;

static Module *compile(const char *src) {
  Diag d;
  diag_init(&d, stderr);
  const char *name = diag_add_source(&d, "t.avm", src, strlen(src));
  CompOptions opt = { .allow_unsafe = true };
  Module *m = comp_source(&d, vm, name, src, strlen(src), &opt);
  ck_assert_msg(m != NULL, "compiling %s failed", src);
  return m;
}

static Img image_of(const Module *m) {
  Img img;
  img.p = avmb_write(m, &img.len);
  ck_assert_ptr_nonnull(img.p);
  return img;
}

static Img compile_image(const char *src) { return image_of(compile(src)); }

static Img img_copy(Img img) {
  Img c = { malloc(img.len ? img.len : 1), img.len };
  ck_assert_ptr_nonnull(c.p);
  memcpy(c.p, img.p, img.len);
  return c;
}

static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static void put32(unsigned char *p, uint32_t v) {
  for (int j = 0; j < 4; j++) p[j] = (unsigned char)(v >> (8 * j));
}

/* Recomputes the CRC so that only the structural checks can object. */
static void fix_crc(Img img) {
  uLong crc = crc32(0L, Z_NULL, 0);
  crc = crc32(crc, img.p + AVMB_HEADER_LEN, (uInt)(img.len - AVMB_HEADER_LEN));
  put32(img.p + 16, (uint32_t)crc);
}

/* The offset and length of section [tag], from the header's table. */
static uint32_t section_at(Img img, const char *tag, uint32_t *len, size_t *entry) {
  uint32_t nsec = get32(img.p + 20);
  for (uint32_t s = 0; s < nsec; s++) {
    const unsigned char *e = img.p + AVMB_HEADER_LEN + 12 * s;
    if (get32(e) == avmb_fourcc(tag)) {
      if (len) *len = get32(e + 8);
      if (entry) *entry = (size_t)(e - img.p);
      return get32(e + 4);
    }
  }
  ck_abort_msg("no section %s", tag);
  return 0;
}

/* Loads and verifies; the module, or NULL with the message in [err]. */
static Module *load_verified(const unsigned char *p, size_t len, char *err, size_t errlen) {
  err[0] = '\0';
  Module *m = avmb_load(p, len, err, errlen);
  if (m && !vm_verify(m, err, errlen)) return NULL;
  return m;
}

/* The rejection message for [img] (loader or verifier), NULL if accepted. */
static const char *rejection(Img img) {
  static char err[512];
  Module *m = load_verified(img.p, img.len, err, sizeof err);
  if (m) return NULL;
  ck_assert_msg(err[0] != '\0', "rejected without a message");
  return err;
}

static void assert_rejected(Img img, const char *substr) {
  const char *err = rejection(img);
  ck_assert_msg(err != NULL, "accepted, expected an error containing \"%s\"", substr);
  ck_assert_msg(strstr(err, substr) != NULL, "error \"%s\" does not contain \"%s\"", err, substr);
}

/* Runs a verified module on [rvm] for at most [taus] slices; the written
 * result, "error: MSG", "vis: INSTR" or "tau". */
static const char *run_on(VM *rvm, Module *m, int taus) {
  vm_link(rvm, m);
  Fiber *f = fiber_new(rvm, proto_main_closure(m), NULL, 0);
  VMStatus st = VM_TAU;
  for (int j = 0; j < taus && (st = vm_run(f)) == VM_TAU; j++) {}
  static char out[512];
  switch (st) {
    case VM_RET: snprintf(out, sizeof out, "%s", v_write_to_string(f->result, false)); break;
    case VM_ERROR: snprintf(out, sizeof out, "error: %s", f->error.msg); break;
    case VM_VIS: snprintf(out, sizeof out, "vis: %s", instr_info[f->vis_instr].name); break;
    case VM_TAU: snprintf(out, sizeof out, "tau"); break;
    case VM_HANDLED: snprintf(out, sizeof out, "handled"); break;  /* no runtime here: never */
  }
  return out;
}

static FILE *devnull(void) {
  static FILE *f;
  if (!f) f = fopen("/dev/null", "w");
  ck_assert_ptr_nonnull(f);
  return f;
}

/* A bare VM (primitives only, output discarded, small limits): cheap
 * enough to make one per corrupted module. */
static VM *bare_vm(void) {
  VM *r = vm_new();
  r->out = devnull();
  r->slice = 200;
  r->max_depth = 5000;
  return r;
}

/* {===== Forged modules =====} */

#define iabc instr_abc
#define iabx instr_abx
#define RET0 iabc(OP_RET, 0, 0, 0, 0)

static Proto *mkproto(Module *m, const Instr *code, uint32_t n, uint16_t nregs) {
  Proto *p = GC_MALLOC(sizeof *p);
  memset(p, 0, sizeof *p);
  p->module = m;
  p->code = GC_MALLOC((n ? n : 1) * sizeof(Instr));
  memcpy(p->code, code, n * sizeof(Instr));
  p->ncode = n;
  p->lines = GC_MALLOC((n ? n : 1) * sizeof(LineInfo));
  memset(p->lines, 0, (n ? n : 1) * sizeof(LineInfo));
  p->k = GC_MALLOC(8 * sizeof(Value));
  p->protos = GC_MALLOC(8 * sizeof(Proto *));
  p->up = GC_MALLOC(8 * sizeof(UpvalDesc));
  p->nregs = nregs;
  return p;
}

/* A module whose only function is [code]; callers add the rest. */
static Module *mkmodule(const Instr *code, uint32_t n, uint16_t nregs) {
  Module *m = GC_MALLOC(sizeof *m);
  memset(m, 0, sizeof *m);
  m->file = "forged.avm";
  m->protos = GC_MALLOC(8 * sizeof(Proto *));
  m->protos[0] = mkproto(m, code, n, nregs);
  m->nprotos = 1;
  m->globals = GC_MALLOC(8 * sizeof(Symbol *));
  m->gflags = GC_MALLOC(8);
  m->decls = GC_MALLOC(8 * sizeof(Decl));
  return m;
}

static Proto *add_proto(Module *m, const Instr *code, uint32_t n, uint16_t nregs) {
  Proto *p = mkproto(m, code, n, nregs);
  m->protos[m->nprotos++] = p;
  return p;
}

static void add_const(Proto *p, Value v) { p->k[p->nk++] = v; }

static void add_global(Module *m, const char *name) {
  m->gflags[m->nglobals] = GF_DEFINED;
  m->globals[m->nglobals++] = sym_intern_cstr(name);
}

static void forged_rejected(const Module *m, const char *substr) { assert_rejected(image_of(m), substr); }

static Module *forged_accepted(const Module *m) {
  Img img = image_of(m);
  char err[512];
  Module *l = load_verified(img.p, img.len, err, sizeof err);
  ck_assert_msg(l != NULL, "forged module rejected: %s", err);
  return l;
}

/* Offset of function 0's instruction count in an image of a module made by
 * mkmodule (no name, no upvalues). */
static size_t ncode_at(Img img) { return section_at(img, "FUNC", NULL, NULL) + 4 + 2 + 1 + 2 + 4 + 2; }

/* {===== Test programs =====} */

static const char *programs[] = {
  "(+ 1 2)",
  "(define (fact n) (if (< n 2) 1 (* n (fact (- n 1)))))\n(fact 10)",
  "(define (make-adder n) (lambda (x) (+ x n)))\n((make-adder 5) 10)",
  "(let loop ((i 0) (acc '())) (if (= i 5) (reverse acc) (loop (+ i 1) (cons i acc))))",
  "(list \"a\" 'b (string-append \"c\" \"d\") '(1 (2 . 3) #t #f) (just 4) nothing)",
  "(map (lambda (x) (* x x)) '(1 2 3))",
  "(apply + 1 2 '(3 4))",
  "(define (f x) (cond ((null? x) 'empty) ((pair? x) 'pair) ((< x 0) 'neg) (else 'other)))\n"
  "(list (f '()) (f '(1)) (f -3) (f 3))",
  "(behavior echo (msg) msg)\n(pure distance (a b) (abs (- a b)))\n(distance 3 10)",
  "(define (h) (get-self))\n(h)",
  "(car '())",
};
static const char *expected[] = {
  "3",
  "3628800",
  "15",
  "(0 1 2 3 4)",
  "(\"a\" b \"cd\" (1 (2 . 3) #t #f) (just 4) nothing)",
  "(1 4 9)",
  "10",
  "(empty pair neg other)",
  "7",
  "vis: get-self",
  "error: car: expected pair, got ()",
};
#define NPROGRAMS (sizeof programs / sizeof *programs)

/* A small program using no prelude procedure, for the exhaustive tests. */
static const char *small_program =
  "(define (fact n) (if (< n 2) 1 (* n (fact (- n 1)))))\n"
  "(define (down i acc) (if (= i 0) acc (down (- i 1) (cons i acc))))\n"
  "(list (fact 6) (down 3 '()) \"s\" 'y)";

/* {===== Round trips =====} */

START_TEST(test_round_trip) {
  for (size_t j = 0; j < NPROGRAMS; j++) {
    Img img = compile_image(programs[j]);
    char err[512];
    Module *m = load_verified(img.p, img.len, err, sizeof err);
    ck_assert_msg(m != NULL, "program %zu: %s", j, err);
    Img again = image_of(m);
    ck_assert_uint_eq(again.len, img.len);
    ck_assert_msg(memcmp(again.p, img.p, img.len) == 0, "program %zu: rewritten image differs", j);
  }
}
END_TEST

START_TEST(test_round_trip_preserves_module) {
  Module *src = compile(programs[8]);
  Img img = image_of(src);
  char err[512];
  Module *m = load_verified(img.p, img.len, err, sizeof err);
  ck_assert_ptr_nonnull(m);
  ck_assert_str_eq(m->file, "t.avm");
  ck_assert_uint_eq(m->nprotos, src->nprotos);
  ck_assert_uint_eq(m->nglobals, src->nglobals);
  ck_assert_uint_eq(m->ndecls, 2);
  ck_assert_int_eq(m->decls[0].kind, DECL_BEHAVIOR);
  ck_assert_str_eq(m->decls[0].name->name, "echo");
  ck_assert_int_eq(m->decls[1].kind, DECL_PURE);
  ck_assert_str_eq(m->decls[1].name->name, "distance");
  for (uint32_t j = 0; j < m->nprotos; j++) {
    ck_assert_uint_eq(m->protos[j]->ncode, src->protos[j]->ncode);
    ck_assert_mem_eq(m->protos[j]->code, src->protos[j]->code, src->protos[j]->ncode * sizeof(Instr));
    ck_assert_mem_eq(m->protos[j]->lines, src->protos[j]->lines, src->protos[j]->ncode * sizeof(LineInfo));
  }
  /* The unsafe flag survives too. */
  Module *u = compile("(define (r x) (reflect x))");
  ck_assert(u->flags & MODULE_UNSAFE);
  Img ui = image_of(u);
  ck_assert_uint_eq(get32(ui.p + 12), AVMB_FLAG_UNSAFE);
  Module *ul = load_verified(ui.p, ui.len, err, sizeof err);
  ck_assert_msg(ul != NULL, "%s", err);
  ck_assert(ul->flags & MODULE_UNSAFE);
}
END_TEST

START_TEST(test_deterministic) {
  VM *other = vm_new();
  prelude_load(other);
  for (size_t j = 0; j < NPROGRAMS; j++) {
    Img a = compile_image(programs[j]), b = compile_image(programs[j]);
    ck_assert_uint_eq(a.len, b.len);
    ck_assert_msg(memcmp(a.p, b.p, a.len) == 0, "program %zu: two compilations differ", j);
    /* ... and in another VM. */
    VM *save = vm;
    vm = other;
    Img c = compile_image(programs[j]);
    vm = save;
    ck_assert_uint_eq(a.len, c.len);
    ck_assert_msg(memcmp(a.p, c.p, a.len) == 0, "program %zu: compilations in two VMs differ", j);
  }
}
END_TEST

START_TEST(test_header) {
  Img img = compile_image("1");
  ck_assert_mem_eq(img.p, AVMB_MAGIC, AVMB_MAGIC_LEN);
  ck_assert_uint_eq(img.p[8] | img.p[9] << 8, AVMB_VERSION_MAJOR);
  ck_assert_uint_eq(img.p[10] | img.p[11] << 8, AVMB_VERSION_MINOR);
  ck_assert_uint_eq(get32(img.p + 12), 0);
  ck_assert_uint_eq(get32(img.p + 20), 4);
  uint32_t crc = get32(img.p + 16);
  fix_crc(img);
  ck_assert_uint_eq(get32(img.p + 16), crc);
  const char *tags[] = { "SRCN", "SYMS", "FUNC", "DECL" };
  size_t end = AVMB_HEADER_LEN + 12 * 4;
  for (int s = 0; s < 4; s++) {
    uint32_t len, off = section_at(img, tags[s], &len, NULL);
    ck_assert_uint_eq(off, end);   /* in order, back to back */
    end = (size_t)off + len;
  }
  ck_assert_uint_eq(end, img.len);
}
END_TEST

/* {===== Corruption =====} */

START_TEST(test_truncation) {
  for (size_t p = 0; p < NPROGRAMS; p += 3) {
    Img img = compile_image(programs[p]);
    for (size_t n = 0; n < img.len; n++) {
      Img cut = { img.p, n };
      const char *want = n < AVMB_MAGIC_LEN ? "bad magic number"
                         : n < AVMB_HEADER_LEN ? "truncated file (header incomplete)"
                         : "checksum mismatch";
      const char *err = rejection(cut);
      ck_assert_msg(err != NULL, "prefix of %zu bytes accepted", n);
      ck_assert_msg(strstr(err, want), "prefix of %zu bytes: \"%s\"", n, err);
    }
  }
  Img empty = { (unsigned char *)"", 0 };
  assert_rejected(empty, "bad magic number");
}
END_TEST

/* Truncations the CRC cannot see: the prefix's CRC is recomputed, or one
 * section's length is shortened in the table. */
START_TEST(test_truncation_with_crc) {
  Img img = compile_image(programs[8]);
  for (size_t n = AVMB_HEADER_LEN; n < img.len; n++) {
    Img cut = img_copy(img);
    cut.len = n;
    fix_crc(cut);
    const char *err = rejection(cut);
    ck_assert_msg(err != NULL, "prefix of %zu bytes with a good CRC accepted", n);
    free(cut.p);
  }
  const char *tags[] = { "SRCN", "SYMS", "FUNC", "DECL" };
  for (int s = 0; s < 4; s++) {
    uint32_t len;
    size_t entry;
    section_at(img, tags[s], &len, &entry);
    for (uint32_t l = 0; l < len; l++) {
      Img c = img_copy(img);
      put32(c.p + entry + 8, l);
      fix_crc(c);
      const char *err = rejection(c);
      ck_assert_msg(err != NULL, "section %s cut to %u of %u bytes accepted", tags[s], l, len);
      ck_assert_msg(strstr(err, "truncated") || strstr(err, "corrupt"),
                    "section %s cut to %u bytes: \"%s\"", tags[s], l, err);
      free(c.p);
    }
  }
}
END_TEST

static const unsigned char masks[] = { 0x01, 0x02, 0x04, 0x10, 0x80, 0xFF };

/* Every byte flipped, CRC left alone: only header bytes outside the CRC
 * (minor version, flags, section count) may be accepted, and then the
 * module must still verify and compute the same result. */
START_TEST(test_byte_flips) {
  Img img = compile_image(small_program);
  char err[512];
  const char *want = run_on(bare_vm(), load_verified(img.p, img.len, err, sizeof err), 1000);
  ck_assert_str_eq(want, "(720 (1 2 3) \"s\" y)");
  char *want_copy = strdup(want);
  for (size_t at = 0; at < img.len; at++) {
    for (size_t k = 0; k < sizeof masks; k++) {
      Img c = img_copy(img);
      c.p[at] ^= masks[k];
      Module *m = avmb_load(c.p, c.len, err, sizeof err);
      if (!m) {
        ck_assert_msg(err[0] != '\0', "byte %zu ^ %02x: rejected without a message", at, masks[k]);
      } else {
        ck_assert_msg((at >= 10 && at < 16) || (at >= 20 && at < 24),
                      "byte %zu ^ %02x inside the CRC accepted", at, masks[k]);
        ck_assert_msg(vm_verify(m, err, sizeof err), "byte %zu ^ %02x: loaded but %s", at, masks[k], err);
        ck_assert_str_eq(run_on(bare_vm(), m, 1000), want_copy);
      }
      free(c.p);
    }
  }
  free(want_copy);
}
END_TEST

/* Every byte flipped with the CRC fixed up: whatever the loader and the
 * verifier accept must run without crashing. */
static void flips_with_crc(const char *src) {
  Img img = compile_image(src);
  char err[512];
  int loaded = 0, verified = 0;
  for (size_t at = AVMB_HEADER_LEN; at < img.len; at++) {
    for (size_t k = 0; k < sizeof masks; k++) {
      Img c = img_copy(img);
      c.p[at] ^= masks[k];
      fix_crc(c);
      err[0] = '\0';
      Module *m = avmb_load(c.p, c.len, err, sizeof err);
      if (!m) {
        ck_assert_msg(err[0] != '\0', "byte %zu ^ %02x: rejected without a message", at, masks[k]);
      } else {
        loaded++;
        if (vm_verify(m, err, sizeof err)) {
          verified++;
          run_on(bare_vm(), m, 50);
        } else {
          ck_assert_msg(strncmp(err, "invalid bytecode: ", 18) == 0, "verifier message \"%s\"", err);
        }
      }
      free(c.p);
    }
  }
  ck_assert_int_gt(loaded, 0);
  ck_assert_int_gt(verified, 0);
}

START_TEST(test_byte_flips_with_crc) { flips_with_crc(small_program); }
END_TEST

START_TEST(test_byte_flips_with_crc_closures) {
  flips_with_crc("(define (make-adder n) (lambda (x) (+ x n)))\n"
                 "(define (twice f) (lambda (x) (f (f x))))\n"
                 "(let ((a (make-adder 3))) (list ((twice a) 1) (a 0)))");
}
END_TEST

/* {===== Forged modules: the loader =====} */

START_TEST(test_bad_magic) {
  Img img = compile_image("1");
  img.p[1] = 'X';
  fix_crc(img);
  assert_rejected(img, "not an avm bytecode file (bad magic number)");
  Img text = { (unsigned char *)"(display \"this is source, not bytecode\")", 40 };
  assert_rejected(text, "bad magic number");
}
END_TEST

START_TEST(test_wrong_major_version) {
  Img img = compile_image("1");
  img.p[8] = AVMB_VERSION_MAJOR + 1;
  fix_crc(img);
  char want[128];
  snprintf(want, sizeof want, "unsupported bytecode format version %d.%d (this avm reads %d.x)",
           AVMB_VERSION_MAJOR + 1, AVMB_VERSION_MINOR, AVMB_VERSION_MAJOR);
  assert_rejected(img, want);
  img.p[8] = 0;
  assert_rejected(img, "unsupported bytecode format version 0.");
  /* A newer minor version is fine. */
  img.p[8] = AVMB_VERSION_MAJOR;
  img.p[10] = AVMB_VERSION_MINOR + 1;
  ck_assert_ptr_null(rejection(img));
}
END_TEST

START_TEST(test_bad_crc) {
  Img img = compile_image("1");
  img.p[16] ^= 1;
  assert_rejected(img, "checksum mismatch: the file is corrupted or truncated");
}
END_TEST

START_TEST(test_sections) {
  Img img = compile_image("1");
  size_t entry;
  section_at(img, "FUNC", NULL, &entry);
  Img c = img_copy(img);
  memcpy(c.p + entry, "FUNK", 4);
  fix_crc(c);
  assert_rejected(c, "missing section FUNC");
  c = img_copy(img);
  put32(c.p + entry + 4, (uint32_t)img.len);   /* offset past the end */
  fix_crc(c);
  assert_rejected(c, "section 2 lies outside the file");
  c = img_copy(img);
  put32(c.p + entry + 8, 0xFFFFFFFF);          /* length past the end */
  fix_crc(c);
  assert_rejected(c, "section 2 lies outside the file");
  c = img_copy(img);
  put32(c.p + entry + 4, 4);                   /* inside the header */
  fix_crc(c);
  assert_rejected(c, "section 2 lies outside the file");
  c = img_copy(img);
  put32(c.p + 20, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "corrupt section count 4294967295");
  c = img_copy(img);
  memcpy(c.p + AVMB_HEADER_LEN + 12 * 3, "XTRA", 4);
  fix_crc(c);
  assert_rejected(c, "missing section DECL");
  /* An unknown fifth section is skipped: insert its table entry. */
  Img x = { malloc(img.len + 12), img.len + 12 };
  ck_assert_ptr_nonnull(x.p);
  memcpy(x.p, img.p, AVMB_HEADER_LEN + 12 * 4);
  memcpy(x.p + AVMB_HEADER_LEN + 12 * 5, img.p + AVMB_HEADER_LEN + 12 * 4, img.len - AVMB_HEADER_LEN - 12 * 4);
  put32(x.p + 20, 5);
  for (int s = 0; s < 4; s++) {
    unsigned char *e = x.p + AVMB_HEADER_LEN + 12 * s;
    put32(e + 4, get32(e + 4) + 12);
  }
  memcpy(x.p + AVMB_HEADER_LEN + 12 * 4, "XTRA", 4);
  put32(x.p + AVMB_HEADER_LEN + 12 * 4 + 4, AVMB_HEADER_LEN);
  put32(x.p + AVMB_HEADER_LEN + 12 * 4 + 8, 12);
  fix_crc(x);
  ck_assert_ptr_null(rejection(x));
}
END_TEST

START_TEST(test_huge_counts) {
  Instr code[] = { iabx(OP_LOADK, 0, 0), RET0 };
  Module *m = mkmodule(code, 2, 1);
  add_const(m->protos[0], v_string("hello", 5));
  add_global(m, "g");
  Img img = image_of(m);
  ck_assert_ptr_null(rejection(img));
  size_t nc = ncode_at(img);
  ck_assert_uint_eq(get32(img.p + nc), 2);

  Img c = img_copy(img);
  put32(c.p + nc, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "corrupt instruction count 4294967295");

  size_t nk = nc + 4 + (AVMB_INSTR_SIZE + AVMB_SPAN_SIZE) * 2;
  ck_assert_uint_eq(get32(img.p + nk), 1);
  c = img_copy(img);
  put32(c.p + nk, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "corrupt constant count 4294967295");

  ck_assert_uint_eq(img.p[nk + 4], KC_STR);
  ck_assert_uint_eq(get32(img.p + nk + 5), 5);
  c = img_copy(img);
  put32(c.p + nk + 5, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "truncated file (needed 4294967295 more bytes");

  uint32_t func = section_at(img, "FUNC", NULL, NULL);
  c = img_copy(img);
  put32(c.p + func, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "corrupt function count 4294967295");

  c = img_copy(img);
  c.p[func + 4 + 2 + 1 + 2 + 4] = 0xFF;   /* upvalue count 0xFFFF */
  c.p[func + 4 + 2 + 1 + 2 + 4 + 1] = 0xFF;
  fix_crc(c);
  assert_rejected(c, "corrupt upvalue count 65535");

  uint32_t syms = section_at(img, "SYMS", NULL, NULL);
  c = img_copy(img);
  put32(c.p + syms, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "corrupt global count 4294967295");
  c = img_copy(img);
  put32(c.p + syms + 5, 0xFFFFFFFF);      /* the global's name length */
  fix_crc(c);
  assert_rejected(c, "truncated file (needed 4294967295 more bytes");

  uint32_t decl = section_at(img, "DECL", NULL, NULL);
  c = img_copy(img);
  put32(c.p + decl, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "corrupt declaration count 4294967295");

  /* A list constant claiming 2^32-1 items. */
  Module *l = mkmodule(code, 2, 1);
  add_const(l->protos[0], v_cons(v_int(1), v_nil()));
  img = image_of(l);
  nk = ncode_at(img) + 4 + (AVMB_INSTR_SIZE + AVMB_SPAN_SIZE) * 2;
  ck_assert_uint_eq(img.p[nk + 4], KC_LIST);
  c = img_copy(img);
  put32(c.p + nk + 5, 0xFFFFFFFF);
  fix_crc(c);
  assert_rejected(c, "corrupt list count 4294967295");
}
END_TEST

START_TEST(test_bad_constants) {
  Instr code[] = { iabx(OP_LOADK, 0, 0), RET0 };
  Module *m = mkmodule(code, 2, 1);
  add_const(m->protos[0], v_prim(PR_car));
  Img img = image_of(m);
  ck_assert_ptr_null(rejection(img));
  size_t k0 = ncode_at(img) + 4 + (AVMB_INSTR_SIZE + AVMB_SPAN_SIZE) * 2 + 4;
  ck_assert_uint_eq(img.p[k0], KC_PRIM);
  Img c = img_copy(img);
  put32(c.p + k0 + 1, PROC_PRIM_COUNT);
  fix_crc(c);
  char want[64];
  snprintf(want, sizeof want, "unknown primitive %d in constant", (int)PROC_PRIM_COUNT);
  assert_rejected(c, want);
  c = img_copy(img);
  c.p[k0] = 99;
  fix_crc(c);
  assert_rejected(c, "unknown constant tag 99");
}
END_TEST

static Value nested_list(int depth) {
  Value v = v_int(1);
  for (int j = 0; j < depth; j++) v = v_cons(v, v_nil());
  return v;
}
static Value nested_just(int depth) {
  Value v = v_int(1);
  for (int j = 0; j < depth; j++) v = v_just(v);
  return v;
}

START_TEST(test_deep_constants) {
  Instr code[] = { iabx(OP_LOADK, 0, 0), RET0 };
  Module *m = mkmodule(code, 2, 1);
  add_const(m->protos[0], nested_list(AVMB_MAX_DATUM_DEPTH));
  forged_accepted(m);
  m = mkmodule(code, 2, 1);
  add_const(m->protos[0], nested_list(AVMB_MAX_DATUM_DEPTH + 1));
  forged_rejected(m, "constant nested too deeply");
  m = mkmodule(code, 2, 1);
  add_const(m->protos[0], nested_just(AVMB_MAX_DATUM_DEPTH + 1));
  forged_rejected(m, "constant nested too deeply");
  m = mkmodule(code, 2, 1);
  add_const(m->protos[0], nested_list(100000));
  forged_rejected(m, "constant nested too deeply");
}
END_TEST

START_TEST(test_children_and_decls) {
  Instr code[] = { iabx(OP_CLOSURE, 0, 0), RET0 };
  Instr body[] = { RET0 };
  Module *m = mkmodule(code, 2, 1);
  Proto *child = add_proto(m, body, 1, 1);
  m->protos[0]->protos[m->protos[0]->nprotos++] = child;
  forged_accepted(m);
  Img img = image_of(m);
  /* Function 0's child list is the last 4 bytes before function 1. */
  uint32_t flen, func = section_at(img, "FUNC", &flen, NULL);
  size_t child_at = ncode_at(img) + 4 + (AVMB_INSTR_SIZE + AVMB_SPAN_SIZE) * 2 + 4 + 4;
  ck_assert_uint_eq(get32(img.p + child_at - 4), 1);
  ck_assert_uint_eq(get32(img.p + child_at), 1);
  Img c = img_copy(img);
  put32(c.p + child_at, 7);
  fix_crc(c);
  assert_rejected(c, "function 0: child function index 7 out of range");
  (void)func;

  /* A child the module does not list: the writer emits index 2^32-1. */
  Module *f = mkmodule(code, 2, 1);
  f->protos[0]->protos[f->protos[0]->nprotos++] = mkproto(f, body, 1, 1);
  forged_rejected(f, "child function index 4294967295 out of range");

  /* No top-level function at all. */
  Module *none = mkmodule(code, 2, 1);
  none->nprotos = 0;
  forged_rejected(none, "no top-level function");

  /* Declarations. */
  Module *d = mkmodule(body, 1, 1);
  add_proto(d, body, 1, 1)->nparams = 1;
  d->decls[0] = (Decl){ DECL_BEHAVIOR, sym_intern_cstr("b"), 1 };
  d->ndecls = 1;
  forged_accepted(d);
  d->decls[0].proto = 5;
  forged_rejected(d, "declaration 0: function index out of range");
  d->decls[0].proto = 1;
  d->decls[0].kind = (DeclKind)7;
  forged_rejected(d, "declaration 0: unknown kind 7");
  d->decls[0].kind = DECL_BEHAVIOR;
  d->protos[1]->nparams = 2;
  d->protos[1]->nregs = 2;
  forged_rejected(d, "a behavior takes exactly one message");
  d->protos[1]->nparams = 1;
  d->protos[1]->up[0] = (UpvalDesc){ 1, 0 };
  d->protos[1]->nup = 1;
  forged_rejected(d, "a declared procedure cannot capture variables");
}
END_TEST

/* A corrupt SRCN section is an error, not a module with no file name. */
START_TEST(test_bad_source_name) {
  Img img = compile_image("1");
  uint32_t srcn = section_at(img, "SRCN", NULL, NULL);
  Img c = img_copy(img);
  put32(c.p + srcn, 0xFFFFFF);
  fix_crc(c);
  assert_rejected(c, "truncated file");
}
END_TEST

/* {===== Forged modules: the verifier =====} */

/* The line table: every instruction's source span survives the round trip
 * (runtime errors are located by it), and a span that cannot be one is
 * refused. */
START_TEST(test_line_table) {
  Module *src = compile("(define (f x)\n  (car x))\n(f\n 5)");
  Img img = image_of(src);
  char err[512];
  Module *m = load_verified(img.p, img.len, err, sizeof err);
  ck_assert_msg(m != NULL, "%s", err);
  bool car_seen = false, call_seen = false;
  for (uint32_t j = 0; j < m->nprotos; j++)
    for (uint32_t pc = 0; pc < m->protos[j]->ncode; pc++) {
      LineInfo l = m->protos[j]->lines[pc];
      if (m->protos[j]->code[pc].op == OP_CAR) {
        ck_assert(l.line == 2 && l.col == 3 && l.end_line == 2 && l.end_col == 10);
        car_seen = true;
      }
      if (m->protos[j]->code[pc].op == OP_CALL) {
        ck_assert(l.line == 3 && l.col == 1 && l.end_line == 4 && l.end_col == 4);
        call_seen = true;
      }
    }
  ck_assert(car_seen && call_seen);

  static const LineInfo good[] = { { 0, 0, 0, 0 }, { 4, 2, 4, 9 }, { 4, 2, 4, 2 }, { 4, 9, 6, 1 } };
  static const LineInfo bad_spans[] = { { 3, 0, 3, 5 }, { 2, 5, 1, 1 }, { 2, 5, 2, 4 }, { 0, 1, 0, 0 },
                                        { -1, 1, 1, 1 }, { 1, 1, 1, -3 } };
  Instr code[] = { iabc(OP_LOADNIL, 0, 0, 0, 0), RET0 };
  for (size_t j = 0; j < sizeof good / sizeof *good; j++) {
    Module *f = mkmodule(code, 2, 1);
    f->protos[0]->lines[1] = good[j];
    forged_accepted(f);
  }
  for (size_t j = 0; j < sizeof bad_spans / sizeof *bad_spans; j++) {
    Module *f = mkmodule(code, 2, 1);
    f->protos[0]->lines[1] = bad_spans[j];
    char want[128];
    snprintf(want, sizeof want, "function 0, instruction 1: line table: bad source span %d:%d-%d:%d",
             bad_spans[j].line, bad_spans[j].col, bad_spans[j].end_line, bad_spans[j].end_col);
    forged_rejected(f, want);
  }
  /* In the image: the entry follows the code, four u32 per instruction. */
  Module *f = mkmodule(code, 2, 1);
  f->protos[0]->lines[0] = (LineInfo){ 7, 3, 7, 8 };
  img = image_of(f);
  size_t span0 = ncode_at(img) + 4 + AVMB_INSTR_SIZE * 2;
  ck_assert_uint_eq(get32(img.p + span0), 7);
  ck_assert_uint_eq(get32(img.p + span0 + 12), 8);
  Img c = img_copy(img);
  put32(c.p + span0 + 8, 6);   /* ends on line 6, before it starts */
  fix_crc(c);
  assert_rejected(c, "line table: bad source span 7:3-6:8");
}
END_TEST

START_TEST(test_unknown_opcode) {
  Instr code[] = { iabc(OP__COUNT, 0, 0, 0, 0), RET0 };
  char want[64];
  snprintf(want, sizeof want, "function 0, instruction 0: unknown opcode %d", (int)OP__COUNT);
  forged_rejected(mkmodule(code, 2, 1), want);
  code[0].op = 255;
  forged_rejected(mkmodule(code, 2, 1), "unknown opcode 255");
}
END_TEST

START_TEST(test_register_out_of_range) {
  Instr code[] = { iabc(OP_MOVE, 0, 2, 0, 0), RET0 };
  forged_rejected(mkmodule(code, 2, 2), "MOVE: register B=2 out of range (2 registers)");
  code[0] = iabc(OP_ADD, 0, 1, 0xFFFF, 0);
  forged_rejected(mkmodule(code, 2, 2), "ADD: register C=65535 out of range");
  code[0] = iabc(OP_LOADNIL, 9, 0, 0, 0);
  forged_rejected(mkmodule(code, 2, 2), "LOADNIL: register A=9 out of range");
  code[0] = iabc(OP_LOADNIL, 0, 0, 0, 0);
  code[1] = iabc(OP_RET, 2, 0, 0, 0);
  forged_rejected(mkmodule(code, 2, 2), "RET: register A=2 out of range");
  code[1] = iabc(OP_RET, 1, 0, 0, 0);
  forged_accepted(mkmodule(code, 2, 2));
  Instr zero[] = { RET0 };
  forged_rejected(mkmodule(zero, 1, 0), "register count 0 too small");
  Module *p = mkmodule(zero, 1, 1);
  add_proto(p, zero, 1, 2)->nparams = 3;
  forged_rejected(p, "function 1, instruction 0: register count 2 too small for 3 parameters");
}
END_TEST

START_TEST(test_constant_out_of_range) {
  Instr code[] = { iabx(OP_LOADK, 0, 1), RET0 };
  Module *m = mkmodule(code, 2, 1);
  add_const(m->protos[0], v_int(5));
  forged_rejected(m, "LOADK: constant 1 out of range");
  m->protos[0]->code[0].bx = -1;
  forged_rejected(m, "LOADK: constant -1 out of range");
  m->protos[0]->code[0].bx = 0;
  forged_accepted(m);
  /* J* with a constant operand (X bit 1). */
  Instr j[] = { iabc(OP_JLT, 0, 3, 0, 2), iabx(OP_JMP, 0, 0), RET0 };
  Module *jm = mkmodule(j, 3, 1);
  add_const(jm->protos[0], v_int(5));
  forged_rejected(jm, "JLT: constant 3 out of range");
}
END_TEST

START_TEST(test_jump_out_of_range) {
  Instr code[] = { iabx(OP_JMP, 0, 1), RET0 };
  forged_rejected(mkmodule(code, 2, 1), "JMP: jump target 2 out of range");
  code[0].bx = -2;
  forged_rejected(mkmodule(code, 2, 1), "JMP: jump target -1 out of range");
  code[0].bx = INT32_MIN;
  forged_rejected(mkmodule(code, 2, 1), "jump target -2147483647 out of range");
  code[0] = iabx(OP_JMPF, 0, 5);
  forged_rejected(mkmodule(code, 2, 1), "JMPF: jump target 6 out of range");
  code[0].bx = 0;
  forged_accepted(mkmodule(code, 2, 1));
}
END_TEST

START_TEST(test_compare_without_jmp) {
  Instr code[] = { iabc(OP_JLT, 0, 0, 0, 0), RET0, RET0 };
  forged_rejected(mkmodule(code, 3, 1), "JLT must be followed by a JMP and another instruction");
  Instr last[] = { iabc(OP_LOADNIL, 0, 0, 0, 0), iabc(OP_JNULL, 0, 0, 0, 1), iabx(OP_JMP, 0, -1) };
  forged_rejected(mkmodule(last, 3, 1), "JNULL must be followed by a JMP and another instruction");
  Instr ok[] = { iabc(OP_JNULL, 0, 0, 0, 1), iabx(OP_JMP, 0, 0), RET0 };
  forged_accepted(mkmodule(ok, 3, 1));
}
END_TEST

/* Every instruction is charged gas, so a loop closed by a backward
 * conditional branch stops at a Tau like any other. */
START_TEST(test_backward_conditional_jump) {
  Instr jf[] = { iabc(OP_LOADFALSE, 0, 0, 0, 0), iabx(OP_JMPF, 0, -2), RET0 };
  Instr jt[] = { iabc(OP_LOADTRUE, 0, 0, 0, 0), iabx(OP_JMPT, 0, -1), RET0 };
  Instr jn[] = { iabc(OP_LOADNIL, 0, 0, 0, 0), iabc(OP_JNULL, 0, 0, 0, 1), iabx(OP_JMP, 0, -3), RET0 };
  Instr jp[] = { iabc(OP_LOADNIL, 0, 0, 0, 0), iabx(OP_JMP, 0, -2), RET0 };
  const Instr *loops[] = { jf, jt, jn, jp };
  const uint32_t lens[] = { 3, 3, 4, 3 };
  for (int j = 0; j < 4; j++) {
    Module *m = forged_accepted(mkmodule(loops[j], lens[j], 1));
    ck_assert_str_eq(run_on(bare_vm(), m, 20), "tau");
  }
}
END_TEST

START_TEST(test_call_range) {
  Instr code[] = { iabc(OP_CALL, 1, 1, 0, 0), RET0 };
  forged_rejected(mkmodule(code, 2, 2), "CALL: argument registers out of range");
  code[0] = iabc(OP_TAILCALL, 0, 0xFFFF, 0, 0);
  forged_rejected(mkmodule(code, 2, 2), "TAILCALL: argument registers out of range");
  code[0] = iabc(OP_APPLY, 0, 0, 0, 0);
  forged_rejected(mkmodule(code, 2, 2), "APPLY: argument registers out of range");
  code[0] = iabc(OP_CALL, 0, 1, 0, 0);
  forged_accepted(mkmodule(code, 2, 2));
}
END_TEST

START_TEST(test_prim_operands) {
  Instr code[] = { iabc(OP_PRIM, 0, 0, PR_car, 2), RET0 };
  forged_rejected(mkmodule(code, 2, 2), "PRIM: wrong argument count 2 for car");
  code[0] = iabc(OP_PRIM, 0, 0, PR_sub, 0);
  forged_rejected(mkmodule(code, 2, 2), "PRIM: wrong argument count 0 for -");
  code[0] = iabc(OP_PRIM, 0, 1, PR_cons, 2);
  forged_rejected(mkmodule(code, 2, 2), "PRIM: argument registers out of range");
  code[0] = iabc(OP_PRIM, 0, 0, PRIM__COUNT, 1);
  forged_rejected(mkmodule(code, 2, 2), "PRIM: primitive");
  code[0] = iabc(OP_PRIM, 0, 0, PR_apply, 2);
  forged_rejected(mkmodule(code, 2, 2), "PRIM: primitive");
  code[0] = iabc(OP_PRIM, 0, 0, PR_cons, 2);
  forged_accepted(mkmodule(code, 2, 2));
}
END_TEST

/* CHECK names one of the argument checks, and a name constant. */
START_TEST(test_check_operands) {
  Instr code[] = { iabc(OP_CHECK, 0, 0, PR_car, 0), RET0 };
  Module *m = mkmodule(code, 2, 1);
  add_const(m->protos[0], v_int(5));
  forged_rejected(m, "CHECK: car is not an argument check");
  m->protos[0]->code[0].c = PR_check_list;
  forged_accepted(m);
  m->protos[0]->code[0].b = 1;
  forged_rejected(m, "CHECK: constant 1 out of range");
  m->protos[0]->code[0].b = 0;
  m->protos[0]->code[0].a = 1;
  forged_rejected(m, "CHECK: register A=1 out of range");
}
END_TEST

START_TEST(test_avm_operands) {
  Instr code[] = { iabc(OP_AVM, 0, 0, IN_REFLECT, 1), RET0 };
  Module *m = mkmodule(code, 2, 1);
  forged_rejected(m, "unsafe instruction reflect in a module not marked unsafe");
  m->flags = MODULE_UNSAFE;
  forged_accepted(m);
  code[0] = iabc(OP_AVM, 0, 0, IN__COUNT, 0);
  forged_rejected(mkmodule(code, 2, 1), "AVM: instruction");
  code[0] = iabc(OP_AVM, 0, 0, IN_GET_SELF, 1);
  forged_rejected(mkmodule(code, 2, 1), "AVM: wrong argument count 1 for get-self");
  code[0] = iabc(OP_AVM, 0, 0, IN_CALL, 2);
  forged_rejected(mkmodule(code, 2, 1), "AVM: argument registers out of range");
  code[0] = iabc(OP_AVM, 0, 0, IN_GET_SELF, 0);
  Module *ok = forged_accepted(mkmodule(code, 2, 1));
  ck_assert_str_eq(run_on(bare_vm(), ok, 10), "vis: get-self");
}
END_TEST

/* An unsafe instruction as a constant procedure value would escape the
 * AVM-opcode check: such constants need the unsafe flag too. */
START_TEST(test_unsafe_constant) {
  Instr code[] = { iabx(OP_LOADK, 1, 0), iabc(OP_MOVE, 2, 1, 0, 0), iabc(OP_CALL, 1, 1, 0, 0), RET0 };
  Module *m = mkmodule(code, 4, 3);
  add_const(m->protos[0], v_prim(PRIM__COUNT + IN_REFLECT));
  forged_rejected(m, "constant 0 is the unsafe instruction reflect");
  m->protos[0]->k[0] = v_cons(v_int(1), v_cons(v_just(v_prim(PRIM__COUNT + IN_SCRY_DEEP)), v_nil()));
  forged_rejected(m, "constant 0 is the unsafe instruction scry-deep");
  m->flags = MODULE_UNSAFE;
  forged_accepted(m);
  m->flags = 0;
  m->protos[0]->k[0] = v_prim(PRIM__COUNT + IN_SET_STATE);
  Module *ok = forged_accepted(m);
  ck_assert_str_eq(run_on(bare_vm(), ok, 10), "vis: set-state");
}
END_TEST

START_TEST(test_function_end) {
  Instr code[] = { iabc(OP_LOADNIL, 0, 0, 0, 0) };
  forged_rejected(mkmodule(code, 1, 1), "function 0, instruction 0: function does not end in a return or jump");
  Instr nop[] = { RET0, iabc(OP_MOVE, 0, 0, 0, 0) };
  forged_rejected(mkmodule(nop, 2, 1), "instruction 1: function does not end in a return or jump");
  Instr bad[] = { RET0, iabc(200, 0, 0, 0, 0) };
  forged_rejected(mkmodule(bad, 2, 1), "function does not end in a return or jump");
  forged_rejected(mkmodule(code, 0, 1), "empty function");
  Instr tail[] = { iabc(OP_TAILCALL, 0, 0, 0, 0) };
  forged_accepted(mkmodule(tail, 1, 1));
  Instr jmp[] = { iabx(OP_JMP, 0, -1) };
  forged_accepted(mkmodule(jmp, 1, 1));
}
END_TEST

START_TEST(test_other_operands) {
  Instr code[] = { iabc(OP_GETUPV, 0, 0, 0, 0), RET0 };
  Module *m = mkmodule(code, 2, 1);
  forged_rejected(m, "GETUPV: upvalue 0 out of range");
  code[0] = iabx(OP_GETGLOBAL, 0, 1);
  m = mkmodule(code, 2, 1);
  add_global(m, "g");
  forged_rejected(m, "GETGLOBAL: global 1 out of range");
  m->protos[0]->code[0].bx = -1;
  forged_rejected(m, "GETGLOBAL: global -1 out of range");
  code[0] = iabx(OP_CLOSURE, 0, 0);
  forged_rejected(mkmodule(code, 2, 1), "CLOSURE: function 0 out of range");
  /* The top level takes nothing. */
  Instr ret[] = { RET0 };
  m = mkmodule(ret, 1, 1);
  m->protos[0]->nparams = 1;
  forged_rejected(m, "the top-level function must take no arguments and capture nothing");
  /* A child capturing past its parent's registers or upvalues. */
  Instr mk[] = { iabx(OP_CLOSURE, 0, 0), RET0 };
  Instr get[] = { iabc(OP_GETUPV, 0, 0, 0, 0), RET0 };
  m = mkmodule(mk, 2, 1);
  Proto *ch = add_proto(m, get, 2, 1);
  ch->up[0] = (UpvalDesc){ 1, 1 };
  ch->nup = 1;
  m->protos[0]->protos[m->protos[0]->nprotos++] = ch;
  forged_rejected(m, "child function 0 captures an out-of-range register");
  ch->up[0] = (UpvalDesc){ 0, 0 };
  forged_rejected(m, "child function 0 captures an out-of-range upvalue");
  ch->up[0] = (UpvalDesc){ 1, 0 };
  forged_accepted(m);
}
END_TEST

/* {===== Running verified modules =====} */

START_TEST(test_run_loaded) {
  for (size_t j = 0; j < NPROGRAMS; j++) {
    Img img = compile_image(programs[j]);
    char err[512];
    Module *m = load_verified(img.p, img.len, err, sizeof err);
    ck_assert_msg(m != NULL, "program %zu: %s", j, err);
    VM *rvm = vm_new();
    prelude_load(rvm);
    rvm->slice = 100;
    ck_assert_str_eq(run_on(rvm, m, 100000), expected[j]);
  }
}
END_TEST

/* The verifier accepts everything the compiler makes: every test program
 * of tests/lang would be a longer version of this. */
START_TEST(test_verify_compiled) {
  const char *more[] = {
    "(define (qs l) (if (null? l) '() (let ((p (car l)) (r (cdr l)))"
    " (append (qs (filter (lambda (x) (< x p)) r)) (list p) (qs (filter (lambda (x) (>= x p)) r))))))"
    " (qs '(3 1 4 1 5 9 2 6))",
    "(letrec ((ev? (lambda (n) (if (= n 0) #t (od? (- n 1))))) (od? (lambda (n) (if (= n 0) #f (ev? (- n 1))))))"
    " (list (ev? 10) (od? 7)))",
    "(define (f . xs) xs) (list (f) (f 1 2) (apply f 1 '(2 3)))",
  };
  const char *want[] = { "(1 1 2 3 4 5 6 9)", "(#t #t)", "(() (1 2) (1 2 3))" };
  for (size_t j = 0; j < sizeof more / sizeof *more; j++) {
    Img img = compile_image(more[j]);
    char err[512];
    Module *m = load_verified(img.p, img.len, err, sizeof err);
    ck_assert_msg(m != NULL, "%s: %s", more[j], err);
    VM *rvm = vm_new();
    prelude_load(rvm);
    ck_assert_str_eq(run_on(rvm, m, 1), want[j]);
  }
}
END_TEST

static Suite *loader_suite(void) {
  Suite *s = suite_create("loader");
  TCase *rt = tcase_create("round-trip");
  tcase_add_test(rt, test_round_trip);
  tcase_add_test(rt, test_round_trip_preserves_module);
  tcase_add_test(rt, test_deterministic);
  tcase_add_test(rt, test_header);
  suite_add_tcase(s, rt);

  TCase *corrupt = tcase_create("corruption");
  tcase_add_test(corrupt, test_truncation);
  tcase_add_test(corrupt, test_truncation_with_crc);
  tcase_add_test(corrupt, test_byte_flips);
  tcase_add_test(corrupt, test_byte_flips_with_crc);
  tcase_add_test(corrupt, test_byte_flips_with_crc_closures);
  suite_add_tcase(s, corrupt);

  TCase *load = tcase_create("forged-load");
  tcase_add_test(load, test_bad_magic);
  tcase_add_test(load, test_wrong_major_version);
  tcase_add_test(load, test_bad_crc);
  tcase_add_test(load, test_sections);
  tcase_add_test(load, test_huge_counts);
  tcase_add_test(load, test_bad_constants);
  tcase_add_test(load, test_deep_constants);
  tcase_add_test(load, test_children_and_decls);
  tcase_add_test(load, test_bad_source_name);
  suite_add_tcase(s, load);

  TCase *verify = tcase_create("forged-verify");
  tcase_add_test(verify, test_line_table);
  tcase_add_test(verify, test_unknown_opcode);
  tcase_add_test(verify, test_register_out_of_range);
  tcase_add_test(verify, test_constant_out_of_range);
  tcase_add_test(verify, test_jump_out_of_range);
  tcase_add_test(verify, test_compare_without_jmp);
  tcase_add_test(verify, test_backward_conditional_jump);
  tcase_add_test(verify, test_call_range);
  tcase_add_test(verify, test_prim_operands);
  tcase_add_test(verify, test_check_operands);
  tcase_add_test(verify, test_avm_operands);
  tcase_add_test(verify, test_unsafe_constant);
  tcase_add_test(verify, test_function_end);
  tcase_add_test(verify, test_other_operands);
  suite_add_tcase(s, verify);

  TCase *run = tcase_create("run");
  tcase_add_test(run, test_run_loaded);
  tcase_add_test(run, test_verify_compiled);
  suite_add_tcase(s, run);
  return s;
}

int main(void) {
  GC_INIT();
  vm = vm_new();
  prelude_load(vm);
  return run_suite(loader_suite());
}
