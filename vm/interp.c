/* vm/interp.c — the register machine: one dispatch loop over the tape,
 * calls and returns on an explicit frame stack, suspension at AVM
 * instructions.  Written with Lua's vmdispatch/vmcase/vmbreak macros:
 * computed goto where the compiler has it, a switch otherwise.
 *
 * Invariant: before anything that can leave the loop (raise, suspend, Tau)
 * the current pc is saved into the frame (SAVE), so a stopped fiber always
 * carries the pc of the instruction after the one that stopped it. */
#include "config.h"
#include <gc.h>
#include <string.h>
#include "vm/vm.h"

#ifndef AVM_COMPUTED_GOTO
#if defined(__GNUC__)
#define AVM_COMPUTED_GOTO 1
#else
#define AVM_COMPUTED_GOTO 0
#endif
#endif

static const uint8_t op_gas[OP__COUNT] = {
#define OP(name, a, b, c, bx, x, flags, gas, doc) gas,
#include "vm/opcodes.def"
#undef OP
};

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

static bool proto_is_child(const Proto *parent, const Proto *p) {
  for (uint32_t j = 0; j < parent->nprotos; j++)
    if (parent->protos[j] == p) return true;
  return false;
}

/* {===== Stack and frames =====} */

static bool ensure_stack(Fiber *f, size_t need) {
  if (need <= f->stack_cap) return true;
  Value *old = f->stack;
  void *p = f->stack;
  if (!stackmem_grow(&p, &f->stack_cap, need, sizeof(Value), AVM_STACK_RESERVE, &f->stack_mem))
    return vm_raise(f, v_nil(), "stack overflow (out of memory for the stack)");
  f->stack = p;
  if (f->vis_args) f->vis_args = f->stack + (f->vis_args - old);
  return true;
}

static bool ensure_frame(Fiber *f) {
  if (UNLIKELY(f->nframes >= f->vm->max_depth))
    return vm_raise(f, v_nil(), "stack overflow");
  if (f->nframes < f->frames_cap) return true;
  void *p = f->frames;
  if (!stackmem_grow(&p, &f->frames_cap, f->nframes + 1, sizeof(Frame), AVM_FRAMES_RESERVE, &f->frames_mem))
    return vm_raise(f, v_nil(), "stack overflow (out of memory for frames)");
  f->frames = p;
  fiber_update_frame_limit(f);
  return true;
}

/* Fits [argc] arguments at stack[nbase..] to [p]'s parameter list: arity
 * check, and the rest list for variadic procedures. */
static bool bind_args(Fiber *f, Value fn, Proto *p, size_t nbase, int argc) {
  if (!p->rest) {
    if (argc == p->nparams) return true;
    return vm_raise(f, v_nil(), "%s: wrong number of arguments (expected %d, got %d)",
                    p->name ? p->name->name : "#<procedure>", p->nparams, argc);
  }
  if (argc < p->nparams)
    return vm_raise(f, v_nil(), "%s: wrong number of arguments (expected at least %d, got %d)",
                    p->name ? p->name->name : "#<procedure>", p->nparams, argc);
  f->stack[nbase + p->nparams] = v_list_n(&f->stack[nbase + p->nparams], (size_t)(argc - p->nparams), v_nil());
  (void)fn;
  return true;
}

/* Pushes a frame for closure [fn] whose arguments are at stack[nbase..]. */
static inline __attribute__((always_inline)) bool push_frame(Fiber *f, Closure *cl, size_t nbase, int argc) {
  Proto *p = cl->p;
  if (UNLIKELY(argc != p->nparams || p->rest) &&
      !bind_args(f, v_tagged(T_CLOSURE, cl), p, nbase, argc))
    return false;
  if (UNLIKELY(nbase + p->nregs + 1 > f->stack_cap) && !ensure_stack(f, nbase + p->nregs + 1))
    return false;
  if (UNLIKELY(f->nframes >= f->frame_limit) && !ensure_frame(f))
    return false;
  Frame *fr = &f->frames[f->nframes++];
  fr->cl = cl;
  fr->base = nbase;
  fr->pc = p->code;
  return true;
}

/* Pops the top frame delivering [v] to its caller; true if that was the
 * floor frame (the fiber, or the current object call, is finished). */
static bool pop_frame(Fiber *f, Value v) {
  size_t base = f->frames[--f->nframes].base;
  if (f->nframes == f->floor) {
    f->result = v;
    f->status = VM_RET;
    return true;
  }
  f->stack[base - 1] = v;
  return false;
}

static bool check_prim_arity(Fiber *f, const char *name, int mn, int mx, int argc) {
  if (argc >= mn && (mx < 0 || argc <= mx)) return true;
  if (mx < 0)
    return vm_raise(f, v_nil(), "%s: wrong number of arguments (expected at least %d, got %d)", name, mn, argc);
  if (mn == mx)
    return vm_raise(f, v_nil(), "%s: wrong number of arguments (expected %d, got %d)", name, mn, argc);
  return vm_raise(f, v_nil(), "%s: wrong number of arguments (expected %d to %d, got %d)", name, mn, mx, argc);
}

/* Stops the machine at AVM instruction [in] with [argc] operands. */
static void suspend(Fiber *f, int in, const Value *args, int argc, size_t dest, bool returns) {
  f->vis_instr = in;
  f->vis_argc = argc;
  /* The operands stay where they are, on the stack: no allocation. */
  f->vis_args = (Value *)args;
  f->vis_dest = dest;
  f->vis_returns = returns;
  f->status = VM_VIS;
}

typedef enum CallOutcome { CALL_PUSHED, CALL_DONE, CALL_SUSPENDED, CALL_FAILED } CallOutcome;

/* The slow call path: primitives, apply, AVM instructions as values, and
 * non-procedures.  The callee is at stack[fslot], its arguments follow.  A
 * primitive's result is stored in stack[fslot]. */
static CallOutcome call_value(Fiber *f, size_t fslot, int argc, bool tail) {
  for (;;) {
    Value fn = f->stack[fslot];
    if (fn.tag == T_CLOSURE)
      return push_frame(f, fn.as.clo, fslot + 1, argc) ? CALL_PUSHED : CALL_FAILED;
    if (fn.tag != T_PRIM) {
      vm_raise(f, v_nil(), "not a procedure: %s", v_write_to_string(fn, false));
      return CALL_FAILED;
    }
    uint64_t idx = fn.as.u;
    Value *args = &f->stack[fslot + 1];
    if (idx >= PRIM__COUNT) {
      const InstrInfo *ii = &instr_info[idx - PRIM__COUNT];
      if (!check_prim_arity(f, ii->name, ii->min_args, ii->max_args, argc)) return CALL_FAILED;
      suspend(f, (int)(idx - PRIM__COUNT), args, argc, fslot, tail);
      return CALL_SUSPENDED;
    }
    const PrimInfo *pi = &prim_info[idx];
    if (!check_prim_arity(f, pi->name, pi->min_args, pi->max_args, argc)) return CALL_FAILED;
    if (idx != PR_apply) {
      Value out;
      if (!prim_fns[idx](f, args, argc, &out)) return CALL_FAILED;
      v_copy(&f->stack[fslot], &out);
      return CALL_DONE;
    }
    /* (apply fn a ... lst): shift fn and the leading arguments down one
     * slot, spread lst after them, and call again. */
    Value lst = args[argc - 1];
    int64_t n = v_list_length(lst);
    if (n < 0) {
      vm_type_error(f, "apply", "list", lst);
      return CALL_FAILED;
    }
    if (!ensure_stack(f, fslot + (size_t)argc + (size_t)n + 1)) return CALL_FAILED;
    memmove(&f->stack[fslot], &f->stack[fslot + 1], (size_t)(argc - 1) * sizeof(Value));
    size_t at = fslot + (size_t)argc - 1;
    for (Value l = lst; l.tag == T_PAIR; l = l.as.pair->cdr) f->stack[at++] = l.as.pair->car;
    if (argc - 2 + n > 0xFFFFFF) {
      vm_raise(f, v_nil(), "apply: too many arguments");
      return CALL_FAILED;
    }
    argc = argc - 2 + (int)n;
  }
}

/* {===== The dispatch loop =====} */

static const char *arith_name(int op) {
  switch (op) {
    case OP_ADD: case OP_ADDI: return "+";
    case OP_SUB: return "-";
    case OP_MUL: return "*";
    case OP_LT: case OP_JLT: return "<";
    case OP_LE: case OP_JLE: return "<=";
    case OP_JGT: return ">";
    case OP_JGE: return ">=";
    default: return "=";
  }
}

/* The loop holds the instruction as one 64-bit word and takes out only
 * the fields an opcode uses, with shifts; a struct copy is split into all
 * its fields at every dispatch, four loads where most opcodes need two. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
typedef uint64_t InstrWord;
static inline InstrWord instr_fetch(const Instr *pc) { InstrWord w; memcpy(&w, pc, sizeof w); return w; }
#define IOP(w) ((uint8_t)(w))
#define IX(w) ((uint8_t)((w) >> 8))
#define IA(w) ((uint16_t)((w) >> 16))
#define IB(w) ((uint16_t)((w) >> 32))
#define IC(w) ((uint16_t)((w) >> 48))
#define IBX(w) ((int32_t)((w) >> 32))
#else
typedef Instr InstrWord;
#define instr_fetch(pc) (*(pc))
#define IOP(w) ((w).op)
#define IX(w) ((w).x)
#define IA(w) ((w).a)
#define IB(w) ((w).b)
#define IC(w) ((w).c)
#define IBX(w) ((w).bx)
#endif

/* The dispatch loop, twice: without metering (the common case), and
 * charging every instruction its gas (vm->slice > 0: avm run --gas, and the
 * time slices of the scheduler). */
#define RUN_NAME run_plain
#define METERED 0
#include "vm/dispatch.h"
#undef RUN_NAME
#undef METERED
#define RUN_NAME run_metered
#define METERED 1
#include "vm/dispatch.h"
#undef RUN_NAME
#undef METERED

VMStatus vm_run(Fiber *f) {
  if (f->status == VM_RET || f->status == VM_ERROR) return f->status;
  fiber_update_frame_limit(f);
  f->budgeted = f->vm->slice > 0;
  if (f->budgeted) f->budget = f->vm->slice;
  f->status = VM_TAU;
  if (!f->budgeted) {
    /* A handled stop leaves the fiber as its handler made it. */
    VMStatus st = run_plain(f);
    if (st != VM_HANDLED) f->status = st;
    return st;
  }
  f->status = run_metered(f);
  f->vm->executed += f->executed;
  f->executed = 0;
  return f->status;
}

bool fiber_enter(Fiber *f, Value fn, const Value *args, int argc) {
  size_t top = 0;
  if (f->nframes > 0) {
    const Frame *t = &f->frames[f->nframes - 1];
    top = t->base + t->cl->p->nregs;
  }
  if (UNLIKELY(top + (size_t)argc + 2 > f->stack_cap) && !ensure_stack(f, top + (size_t)argc + 2)) return false;
  v_copy(&f->stack[top], &fn);
  for (int j = 0; j < argc; j++) v_copy(&f->stack[top + 1 + (size_t)j], &args[j]);
  size_t floor = f->nframes;
  /* A behavior is a closure: its frame is pushed here, not through the
   * general call path. */
  CallOutcome out = fn.tag == T_CLOSURE ? (push_frame(f, fn.as.clo, top + 1, argc) ? CALL_PUSHED : CALL_FAILED)
                                        : call_value(f, top, argc, false);
  switch (out) {
    case CALL_PUSHED:
      f->floor = floor;
      f->status = VM_TAU;
      return true;
    case CALL_FAILED:
      f->status = VM_ERROR;
      return false;
    default:
      vm_raise(f, v_nil(), "a behavior must be a procedure written in the language");
      f->status = VM_ERROR;
      return false;
  }
}

VMStatus vm_resume(Fiber *f, Value response) {
  if (f->status != VM_VIS) return vm_run(f);
  fiber_answer(f, &response);
  if (f->vis_returns && pop_frame(f, response)) return VM_RET;
  return vm_run(f);
}
