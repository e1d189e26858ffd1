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

#define LIKELY(x) __builtin_expect(!!(x), 1)
#define UNLIKELY(x) __builtin_expect(!!(x), 0)

/* {===== Stack and frames =====} */

/* Address space reserved for a fiber's value stack and frame array once
 * they outgrow the GC heap: far more than any run touches. */
#define STACK_RESERVE ((size_t)64 << 30)
#define FRAMES_RESERVE ((size_t)8 << 30)

static bool ensure_stack(Fiber *f, size_t need) {
  if (need <= f->stack_cap) return true;
  Value *old = f->stack;
  void *p = f->stack;
  if (!stackmem_grow(&p, &f->stack_cap, need, sizeof(Value), STACK_RESERVE, &f->stack_mem))
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
  if (!stackmem_grow(&p, &f->frames_cap, f->nframes + 1, sizeof(Frame), FRAMES_RESERVE, &f->frames_mem))
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
  Value rest = v_nil();
  for (int j = argc - 1; j >= p->nparams; j--) rest = v_cons(f->stack[nbase + j], rest);
  f->stack[nbase + p->nparams] = rest;
  (void)fn;
  return true;
}

/* Pushes a frame for closure [fn] whose arguments are at stack[nbase..]. */
static inline bool push_frame(Fiber *f, Closure *cl, size_t nbase, int argc) {
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
      f->stack[fslot] = out;
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

/* GCC merges the dispatch jumps of a computed-goto loop into one indirect
 * jump unless GCSE and cross-jumping are off; one jump per opcode is what
 * makes computed goto pay (each gets its own branch prediction). */
#if AVM_COMPUTED_GOTO && defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-gcse", "no-crossjumping", "no-tree-slp-vectorize")))
#endif
static VMStatus run(Fiber *f) {
#if AVM_COMPUTED_GOTO
  static const void *const labels[OP__COUNT] = {
#define OP(name, a, b, c, bx, x, flags, doc) &&L_##name,
#include "vm/opcodes.def"
#undef OP
  };
#define vmdispatch(o) goto *labels[o];
#define vmcase(l) L_##l:
#define vmbreak do { i = *pc++; goto *labels[i.op]; } while (0)
#else
#define vmdispatch(o) switch (o)
#define vmcase(l) case OP_##l:
#define vmbreak break
#endif
#define SAVE() (fr->pc = pc)
/* Reloads the cached registers after the frame stack changed. */
#define RELOAD() do { fr = &f->frames[f->nframes - 1]; \
    cl = fr->cl; k = cl->p->k; R = f->stack + fr->base; pc = fr->pc; } while (0)
#define RAISE() do { SAVE(); goto raise; } while (0)

  Value *G = f->vm->globals.values;
  Frame *fr;
  Closure *cl;
  Value *k, *R;
  const Instr *pc;
  Instr i;
  RELOAD();
  for (;;) {
    i = *pc++;
    vmdispatch(i.op) {
      vmcase(MOVE) v_copy(&R[i.a], &R[i.b]); vmbreak;
      vmcase(LOADK) v_copy(&R[i.a], &k[i.bx]); vmbreak;
      vmcase(LOADI) R[i.a] = v_int(i.bx); vmbreak;
      vmcase(LOADNIL) R[i.a] = v_nil(); vmbreak;
      vmcase(LOADTRUE) R[i.a] = v_bool(true); vmbreak;
      vmcase(LOADFALSE) R[i.a] = v_bool(false); vmbreak;
      vmcase(LOADUNSPEC) R[i.a] = v_unspec(); vmbreak;
      vmcase(LOADNOTHING) R[i.a] = v_nothing(); vmbreak;
      vmcase(GETUPV) v_copy(&R[i.a], &cl->up[i.b]); vmbreak;
      vmcase(GETGLOBAL) {
        Value v = G[i.bx];
        if (UNLIKELY(v.tag == T_UNDEF)) {
          SAVE();
          vm_raise(f, v_nil(), "variable %s used before its definition", f->vm->globals.names[i.bx]->name);
          goto raise;
        }
        R[i.a] = v;
        vmbreak;
      }
      vmcase(DEFGLOBAL) G[i.bx] = R[i.a]; vmbreak;
      vmcase(CLOSURE) {
        Proto *p = cl->p->protos[i.bx];
        Closure *ncl = closure_new(p, p->nup);
        for (uint32_t u = 0; u < p->nup; u++)
          ncl->up[u] = p->up[u].from_reg ? R[p->up[u].index] : cl->up[p->up[u].index];
        R[i.a] = v_tagged(T_CLOSURE, ncl);
        vmbreak;
      }
      vmcase(SETUPV) {
        Value c = R[i.a];
        if (UNLIKELY(c.tag != T_CLOSURE || i.b >= c.as.clo->nup)) {
          SAVE();
          vm_raise(f, v_nil(), "corrupt bytecode: SETUPV on a non-closure");
          goto raise;
        }
        c.as.clo->up[i.b] = R[i.c];
        vmbreak;
      }
      vmcase(JMP) {
        pc += i.bx;
        if (i.bx < 0 && UNLIKELY(f->budgeted) && --f->budget < 0) { SAVE(); f->status = VM_TAU; return VM_TAU; }
        vmbreak;
      }
      vmcase(JMPF) if (!v_truthy(R[i.a])) pc += i.bx; vmbreak;
      vmcase(JMPT) if (v_truthy(R[i.a])) pc += i.bx; vmbreak;

#define ARITH(OPN, BUILTIN)                                                 \
      vmcase(OPN) {                                                         \
        Value b = R[i.b], c = R[i.c];                                       \
        int64_t r;                                                          \
        if (LIKELY(b.tag == T_INT && c.tag == T_INT)) {                     \
          if (UNLIKELY(BUILTIN(b.as.i, c.as.i, &r))) goto overflow;         \
          R[i.a] = v_int(r);                                                \
          vmbreak;                                                          \
        }                                                                   \
        goto arith_type;                                                    \
      }
      ARITH(ADD, __builtin_add_overflow)
      ARITH(SUB, __builtin_sub_overflow)
      ARITH(MUL, __builtin_mul_overflow)
      vmcase(ADDI) {
        Value b = R[i.b];
        int64_t r;
        if (LIKELY(b.tag == T_INT)) {
          if (UNLIKELY(__builtin_add_overflow(b.as.i, (int64_t)(int16_t)i.c, &r))) goto overflow;
          R[i.a] = v_int(r);
          vmbreak;
        }
        goto arith_type;
      }
#define COMPARE(OPN, REL)                                                   \
      vmcase(OPN) {                                                         \
        Value b = R[i.b], c = R[i.c];                                       \
        if (LIKELY(b.tag == T_INT && c.tag == T_INT)) {                     \
          R[i.a] = v_bool(b.as.i REL c.as.i);                               \
          vmbreak;                                                          \
        }                                                                   \
        goto arith_type;                                                    \
      }
      COMPARE(LT, <)
      COMPARE(LE, <=)
      COMPARE(NUMEQ, ==)
      vmcase(EQ) R[i.a] = v_bool(v_eq(R[i.b], R[i.c])); vmbreak;

/* Compare and take the following JMP when the result equals X bit 0. */
#define CJUMP(OPN, REL)                                                     \
      vmcase(OPN) {                                                         \
        Value a = R[i.a], b = (i.x & 2) ? k[i.b] : R[i.b];                  \
        if (LIKELY(a.tag == T_INT && b.tag == T_INT)) {                     \
          if ((a.as.i REL b.as.i) == (i.x & 1)) pc += pc->bx + 1;           \
          else pc++;                                                        \
          vmbreak;                                                          \
        }                                                                   \
        goto arith_type;                                                    \
      }
      CJUMP(JLT, <)
      CJUMP(JLE, <=)
      CJUMP(JGT, >)
      CJUMP(JGE, >=)
      CJUMP(JNUMEQ, ==)
      vmcase(JEQ) {
        Value b = (i.x & 2) ? k[i.b] : R[i.b];
        if (v_eq(R[i.a], b) == (i.x & 1)) pc += pc->bx + 1;
        else pc++;
        vmbreak;
      }
      vmcase(JNULL) {
        if ((R[i.a].tag == T_NIL) == (i.x & 1)) pc += pc->bx + 1;
        else pc++;
        vmbreak;
      }
      vmcase(JPAIR) {
        if ((R[i.a].tag == T_PAIR) == (i.x & 1)) pc += pc->bx + 1;
        else pc++;
        vmbreak;
      }
      vmcase(NOT) R[i.a] = v_bool(!v_truthy(R[i.b])); vmbreak;
      vmcase(NULLP) R[i.a] = v_bool(R[i.b].tag == T_NIL); vmbreak;
      vmcase(PAIRP) R[i.a] = v_bool(R[i.b].tag == T_PAIR); vmbreak;
      vmcase(CONS) R[i.a] = v_cons(R[i.b], R[i.c]); vmbreak;
      vmcase(CAR) {
        Value b = R[i.b];
        if (UNLIKELY(b.tag != T_PAIR)) { SAVE(); vm_type_error(f, "car", "pair", b); goto raise; }
        R[i.a] = b.as.pair->car;
        vmbreak;
      }
      vmcase(CDR) {
        Value b = R[i.b];
        if (UNLIKELY(b.tag != T_PAIR)) { SAVE(); vm_type_error(f, "cdr", "pair", b); goto raise; }
        R[i.a] = b.as.pair->cdr;
        vmbreak;
      }
      vmcase(CALL) {
        Value *fn = &R[i.a];
        /* The fast path: a closure of fixed arity, room on both stacks. */
        if (LIKELY(fn->tag == T_CLOSURE) && LIKELY(!f->budgeted)) {
          Closure *ncl = fn->as.clo;
          Proto *p = ncl->p;
          size_t nbase = (size_t)(R - f->stack) + i.a + 1;
          if (LIKELY(p->nparams == i.b && !p->rest && nbase + p->nregs < f->stack_cap &&
                     f->nframes < f->frame_limit)) {
            fr->pc = pc;
            fr++;
            f->nframes++;
            fr->cl = ncl;
            fr->base = nbase;
            cl = ncl;
            k = p->k;
            R = f->stack + nbase;
            pc = p->code;
            vmbreak;
          }
        }
        SAVE();
        if (UNLIKELY(f->budgeted) && --f->budget < 0) {
          pc--;  /* re-execute the call when resumed */
          SAVE();
          f->status = VM_TAU;
          return VM_TAU;
        }
        size_t fslot = (size_t)(R - f->stack) + i.a;
        switch (call_value(f, fslot, i.b, false)) {
          case CALL_PUSHED: RELOAD(); vmbreak;
          case CALL_DONE: R = f->stack + (fslot - i.a); vmbreak;
          case CALL_SUSPENDED: return VM_VIS;
          case CALL_FAILED: goto raise;
        }
        vmbreak;
      }
      vmcase(TAILCALL) {
        SAVE();
        if (UNLIKELY(f->budgeted) && --f->budget < 0) {
          pc--;
          SAVE();
          f->status = VM_TAU;
          return VM_TAU;
        }
        size_t base = (size_t)(R - f->stack);
        /* Slide callee and arguments down over the current frame. */
        memmove(&f->stack[base - 1], &R[i.a], ((size_t)i.b + 1) * sizeof(Value));
        Value fn = f->stack[base - 1];
        f->nframes--;
        if (LIKELY(fn.tag == T_CLOSURE)) {
          if (UNLIKELY(!push_frame(f, fn.as.clo, base, i.b))) { f->nframes++; goto raise; }
          RELOAD();
          vmbreak;
        }
        f->nframes++;
        switch (call_value(f, base - 1, i.b, true)) {
          case CALL_PUSHED:
            /* apply spread into a closure: it replaces the current frame. */
            f->frames[f->nframes - 2] = f->frames[f->nframes - 1];
            f->nframes--;
            RELOAD();
            vmbreak;
          case CALL_DONE:
            if (pop_frame(f, f->stack[base - 1])) return VM_RET;
            RELOAD();
            vmbreak;
          case CALL_SUSPENDED: return VM_VIS;
          case CALL_FAILED: goto raise;
        }
        vmbreak;
      }
      vmcase(APPLY) vmcase(TAILAPPLY) {
        /* Rewrite as a call of the apply primitive, which spreads. */
        SAVE();
        size_t fslot = (size_t)(R - f->stack) + i.a;
        if (!ensure_stack(f, fslot + (size_t)i.b + 2)) goto raise;
        R = f->stack + (fslot - i.a);
        memmove(&f->stack[fslot + 1], &f->stack[fslot], ((size_t)i.b + 1) * sizeof(Value));
        f->stack[fslot] = v_prim(PR_apply);
        bool tail = i.op == OP_TAILAPPLY;
        CallOutcome out = call_value(f, fslot, i.b + 1, tail);
        if (out == CALL_PUSHED && tail) {
          /* The spread arguments sit above the current frame; move the new
           * frame's window down onto it. */
          Frame *nf = &f->frames[f->nframes - 1];
          Frame *cur = &f->frames[f->nframes - 2];
          size_t n = nf->cl->p->nregs + 1;
          memmove(&f->stack[cur->base - 1], &f->stack[nf->base - 1], n * sizeof(Value));
          nf->base = cur->base;
          *cur = *nf;
          f->nframes--;
        }
        switch (out) {
          case CALL_PUSHED: RELOAD(); vmbreak;
          case CALL_DONE:
            R = f->stack + (fslot - i.a);
            if (tail) {
              if (pop_frame(f, R[i.a])) return VM_RET;
              RELOAD();
            }
            vmbreak;
          case CALL_SUSPENDED: return VM_VIS;
          case CALL_FAILED: goto raise;
        }
        vmbreak;
      }
      vmcase(RET) {
        if (LIKELY(f->nframes - 1 > f->floor)) {
          v_copy(&f->stack[fr->base - 1], &R[i.a]);
          f->nframes--;
          fr--;
          cl = fr->cl;
          k = cl->p->k;
          R = f->stack + fr->base;
          pc = fr->pc;
          vmbreak;
        }
        pop_frame(f, R[i.a]);
        return VM_RET;
      }
      vmcase(PRIM) {
        Value out;
        SAVE();
        if (UNLIKELY(!prim_fns[i.c](f, &R[i.b], i.x, &out))) goto raise;
        R[i.a] = out;
        vmbreak;
      }
      vmcase(AVM) {
        SAVE();
        suspend(f, i.c, &R[i.b], i.x, (size_t)(R - f->stack) + i.a, false);
        return VM_VIS;
      }
    }
  }

overflow:
  SAVE();
  /* ADDI also implements (- x k): X bit 0 says which it came from. */
  vm_raise(f, v_nil(), "%s: integer overflow", i.op == OP_ADDI && (i.x & 1) ? "-" : arith_name(i.op));
  goto raise;
arith_type: {
    SAVE();
    Value b = R[i.op >= OP_JLT && i.op <= OP_JNUMEQ ? i.a : i.b];
    Value c = (i.op >= OP_JLT && i.op <= OP_JNUMEQ) ? ((i.x & 2) ? k[i.b] : R[i.b])
              : (i.op == OP_ADDI ? v_int(0) : R[i.c]);
    vm_type_error(f, i.op == OP_ADDI && (i.x & 1) ? "-" : arith_name(i.op), "integer", b.tag != T_INT ? b : c);
    goto raise;
  }
raise:
  f->status = VM_ERROR;
  if (f->error.loc.file == NULL && f->nframes > 0) f->error.loc = fiber_loc(f, f->nframes - 1);
  return VM_ERROR;
}

VMStatus vm_run(Fiber *f) {
  if (f->status == VM_RET || f->status == VM_ERROR) return f->status;
  fiber_update_frame_limit(f);
  if (f->vm->slice > 0) {
    f->budgeted = true;
    f->budget = f->vm->slice;
  }
  f->status = VM_TAU;
  return f->status = run(f);
}

bool fiber_enter(Fiber *f, Value fn, const Value *args, int argc) {
  size_t top = 0;
  if (f->nframes > 0) {
    const Frame *t = &f->frames[f->nframes - 1];
    top = t->base + t->cl->p->nregs;
  }
  if (!ensure_stack(f, top + (size_t)argc + 2)) return false;
  f->stack[top] = fn;
  for (int j = 0; j < argc; j++) f->stack[top + 1 + (size_t)j] = args[j];
  size_t floor = f->nframes;
  switch (call_value(f, top, argc, false)) {
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
  f->stack[f->vis_dest] = response;
  f->status = VM_TAU;
  if (f->vis_returns && pop_frame(f, response)) return VM_RET;
  return vm_run(f);
}
