/* tests/fuzz/fuzz_loader.c — libFuzzer target for untrusted bytecode:
 * avmb_load(), then vm_verify(), then, for a module that verified, a run
 * on a fresh VM (prelude loaded) under a gas budget.  Every rejection must
 * come with a message; nothing may crash, leak out of bounds or hang.
 * A manual tool, not part of the automake build: see tests/fuzz/README.md. */
#include <gc.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include "compiler/compiler.h"
#include "stdlib/prelude.h"
#include "vm/avmb.h"
#include "vm/loader.h"

enum {
  SLICE = 500,       /* gas per vm_run: every instruction costs at least 1 */
  MAX_TAUS = 40,     /* Tau steps before the run is abandoned */
  MAX_DEPTH = 2000,  /* frames: deep recursion ends in "stack overflow" */
};

static FILE *sink;   /* display/write/newline output */

static void setup(void) {
  static bool ready;
  if (ready) return;
  GC_INIT();
  sink = fopen("/dev/null", "w");
  if (!sink) abort();
  ready = true;
}

static VM *fresh_vm(int64_t slice) {
  VM *vm = vm_new();
  prelude_load(vm);
  vm->out = sink;
  vm->max_depth = MAX_DEPTH;
  vm->slice = slice;
  return vm;
}

/* There is no vm_free(): the VM is an uncollectable block (it would keep
 * every global alive) and its name index is malloc'd. */
static void dispose_vm(VM *vm) {
  free(vm->globals.index);
  GC_FREE(vm);
}

/* Runs [m] on a fresh VM; an AVM instruction (Vis) ends the run. */
static VMStatus run(Module *m, int64_t slice, int taus) {
  VM *vm = fresh_vm(slice);
  vm_link(vm, m);
  Fiber *f = fiber_new(vm, proto_main_closure(m), NULL, 0);
  VMStatus st = VM_TAU;
  for (int t = 0; t < taus && (st = vm_run(f)) == VM_TAU; t++) {}
  if (st == VM_ERROR && !f->error.msg) __builtin_trap();
  /* Deep stacks live in mappings a finalizer would unmap; do it now. */
  stackmem_release(f->stack, &f->stack_mem);
  stackmem_release(f->frames, &f->frames_mem);
  dispose_vm(vm);
  return st;
}

static uint32_t next(uint32_t *r) {
  *r ^= *r << 13;
  *r ^= *r >> 17;
  *r ^= *r << 5;
  return *r;
}

/* A value near the valid range [0, n): mostly inside, sometimes just past. */
static uint32_t near(uint32_t *r, uint32_t n) { return next(r) % (n + 2); }

/* Structure-aware mutation: load the image, change one field of one
 * function (an instruction's opcode or operand, a register count, a
 * constant, the unsafe flag), and write it back with avmb_write().  The
 * result loads, and often verifies, so the verifier's edges and the
 * interpreter behind them get most of the work.  0 if [data] does not
 * load or the result would not fit. */
static size_t mutate_module(uint8_t *data, size_t size, size_t max_size, uint32_t r) {
  char err[256];
  Module *m = avmb_load(data, size, err, sizeof err);
  if (!m) return 0;
  for (int rounds = 1 + (int)(next(&r) % 3); rounds > 0; rounds--) {
    Proto *p = m->protos[next(&r) % m->nprotos];
    if (p->ncode == 0) continue;
    Instr *in = &p->code[next(&r) % p->ncode];
    switch (next(&r) % 12) {
      case 0: in->op = (uint8_t)(next(&r) % OP__COUNT); break;
      case 1: in->a = (uint16_t)near(&r, p->nregs); break;
      case 2: in->b = (uint16_t)near(&r, p->nregs); break;
      case 3: in->c = (uint16_t)near(&r, p->nregs); break;
      case 4: in->x = (uint8_t)(next(&r) % 8); break;
      case 5: in->bx = (int32_t)near(&r, 2 * p->ncode) - (int32_t)p->ncode; break;
      case 6: *in = p->code[next(&r) % p->ncode]; break;
      case 7: {
        Instr *other = &p->code[next(&r) % p->ncode], t = *in;
        *in = *other;
        *other = t;
        break;
      }
      case 8: p->nregs = (uint16_t)(p->nregs + (next(&r) % 5) - 2); break;
      case 9: p->nparams = (uint16_t)near(&r, 3); p->rest = next(&r) % 4 == 0; break;
      case 10:
        if (p->nk) {
          Value *k = &p->k[next(&r) % p->nk];
          switch (next(&r) % 4) {
            case 0: *k = v_int((int64_t)next(&r) - INT32_MAX); break;
            case 1: *k = v_prim(next(&r) % PROC_PRIM_COUNT); break;
            case 2: *k = v_nil(); break;
            default: *k = v_cons(*k, v_nil()); break;
          }
        }
        break;
      default: m->flags ^= MODULE_UNSAFE; break;
    }
  }
  size_t len;
  unsigned char *img = avmb_write(m, &len);
  if (len > max_size) {
    free(img);
    return 0;
  }
  memcpy(data, img, len);
  free(img);
  return len;
}

/* The precise build (build.sh --precise) has no collector: each input's
 * blocks are freed when it is done. */
static void input_done(void) {
#ifdef AVM_FUZZ_GCSHIM
  gcshim_reset();
#endif
}

/* Half the mutants are structure-aware.  The others are libFuzzer's byte
 * mutations; those would almost never get past the CRC, so the mutator
 * fixes it up, except for one mutant in 16 which keeps whatever CRC it
 * has. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max_size, unsigned int seed) {
  setup();
  if (seed % 2 == 0) {
    size_t n = mutate_module(data, size, max_size, seed | 1);
    input_done();
    if (n) return n;
  }
  size = LLVMFuzzerMutate(data, size, max_size);
  if (size >= AVMB_HEADER_LEN && seed % 32 != 1) {
    uLong crc = crc32(crc32(0L, Z_NULL, 0), data + AVMB_HEADER_LEN, (uInt)(size - AVMB_HEADER_LEN));
    for (int j = 0; j < 4; j++) data[16 + j] = (uint8_t)(crc >> (8 * j));
  }
  return size;
}

static void test_one(const uint8_t *data, size_t size) {
  setup();
  char err[512];
  err[0] = '\0';
  Module *m = avmb_load(data, size, err, sizeof err);
  if (!m) {
    if (!err[0]) __builtin_trap();   /* a rejection without a message */
    return;
  }
  if (!vm_verify(m, err, sizeof err)) {
    if (!err[0]) __builtin_trap();
    return;
  }
  /* The metered loop first: it always stops.  A program that finished
   * within the budget is deterministic, so it also finishes on the plain
   * (unmetered) loop and its fast paths: run it there too, on a module
   * loaded afresh (vm_link rewrote this one's global operands). */
  if (run(m, SLICE, MAX_TAUS) != VM_TAU) {
    Module *again = avmb_load(data, size, err, sizeof err);
    if (!again) __builtin_trap();
    run(again, 0, 1);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  test_one(data, size);
  input_done();
  return 0;
}
