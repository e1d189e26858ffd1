/* vm/dispatch.h — the body of the dispatch loop, included by vm/interp.c
 * twice (RUN_NAME, METERED): once plain, once charging gas per
 * instruction.  Not a header to include anywhere else. */
/* GCC merges the dispatch jumps of a computed-goto loop into one indirect
 * jump unless GCSE and cross-jumping are off; one jump per opcode is what
 * makes computed goto pay (each gets its own branch prediction). */
#if AVM_COMPUTED_GOTO && defined(__GNUC__) && !defined(__clang__)
__attribute__((optimize("no-gcse", "no-crossjumping", "no-tree-slp-vectorize")))
#endif
static VMStatus RUN_NAME(Fiber *f) {
#if AVM_COMPUTED_GOTO
  static const void *const labels[OP__COUNT] = {
#define OP(name, a, b, c, bx, x, flags, gas, doc) &&L_##name,
#include "vm/opcodes.def"
#undef OP
  };
#define vmdispatch(o) goto *labels[o];
#define vmcase(l) L_##l:
#define vmbreak do { i = instr_fetch(pc++); METER(); goto *labels[IOP(i)]; } while (0)
#else
#define vmdispatch(o) switch (o)
#define vmcase(l) case OP_##l:
#define vmbreak break
#endif
#if METERED
/* Charges the instruction about to run; out of budget, the fiber stops
 * before it (a Tau step) and runs it when resumed.  It also counts the
 * instructions run (,time in the REPL): the plain loop counts nothing. */
#define METER() do { if (UNLIKELY((f->budget -= op_gas[IOP(i)]) < 0)) { \
    pc--; SAVE(); f->status = VM_TAU; return VM_TAU; } f->executed++; } while (0)
#else
#define METER() ((void)0)
#endif
#define SAVE() (fr->pc = pc)
/* Reloads the cached registers after the frame stack changed. */
#define RELOAD() do { fr = &f->frames[f->nframes - 1]; \
    cl = fr->cl; k = cl->p->k; R = f->stack + fr->base; pc = fr->pc; } while (0)
#define RAISE() do { SAVE(); goto raise; } while (0)
/* Where the run would stop (an AVM instruction, the end of an object
 * call), the runtime's hook may deal with it at once, saving a stop and
 * restart of the loop; then the loop goes on with whatever frame is on
 * top.  Only the plain loop asks.  A block, not do-while: vmbreak must
 * leave the dispatch switch when the loop is a switch. */
#if METERED
#define IN_LOOP(hook) ((void)0)
#else
#define IN_LOOP(hook)                                                       \
  if (f->vm->hook) {                                                        \
    AvmInLoop done_ = f->vm->hook(f->vm->avm_ctx, f);                       \
    if (done_ == AVM_ANSWERED) vmbreak;                                     \
    if (done_ == AVM_GO_ON) {                                               \
      G = f->vm->globals.values;                                            \
      RELOAD();                                                             \
      vmbreak;                                                              \
    }                                                                       \
    if (done_ == AVM_HANDLED) return VM_HANDLED;                            \
  }
#endif

  Value *G = f->vm->globals.values;
  Frame *fr;
  Closure *cl;
  Value *k, *R;
  const Instr *pc;
  InstrWord i;
  RELOAD();
  for (;;) {
    i = instr_fetch(pc++);
    METER();
    vmdispatch(IOP(i)) {
      vmcase(MOVE) v_copy(&R[IA(i)], &R[IB(i)]); vmbreak;
      vmcase(LOADK) v_copy(&R[IA(i)], &k[IBX(i)]); vmbreak;
      vmcase(LOADI) R[IA(i)] = v_int(IBX(i)); vmbreak;
      vmcase(LOADNIL) R[IA(i)] = v_nil(); vmbreak;
      vmcase(LOADTRUE) R[IA(i)] = v_bool(true); vmbreak;
      vmcase(LOADFALSE) R[IA(i)] = v_bool(false); vmbreak;
      vmcase(LOADUNSPEC) R[IA(i)] = v_unspec(); vmbreak;
      vmcase(LOADNOTHING) R[IA(i)] = v_nothing(); vmbreak;
      vmcase(GETUPV) v_copy(&R[IA(i)], &cl->up[IB(i)]); vmbreak;
      vmcase(GETGLOBAL) {
        Value v = G[IBX(i)];
        if (UNLIKELY(v.tag == T_UNDEF)) {
          SAVE();
          vm_raise(f, v_nil(), "variable %s used before its definition", f->vm->globals.names[IBX(i)]->name);
          goto raise;
        }
        R[IA(i)] = v;
        vmbreak;
      }
      vmcase(DEFGLOBAL) G[IBX(i)] = R[IA(i)]; vmbreak;
      vmcase(CLOSURE) {
        Proto *p = cl->p->protos[IBX(i)];
        Closure *ncl = closure_new(p, p->nup);
        for (uint32_t u = 0; u < p->nup; u++)
          ncl->up[u] = p->up[u].from_reg ? R[p->up[u].index] : cl->up[p->up[u].index];
        R[IA(i)] = v_tagged(T_CLOSURE, ncl);
        vmbreak;
      }
      vmcase(SETUPV) {
        Value c = R[IA(i)];
        /* Only a closure of one of this function's own lambdas may be
         * patched (letrec): values stay immutable for everyone else. */
        if (UNLIKELY(c.tag != T_CLOSURE || IB(i) >= c.as.clo->nup || !proto_is_child(cl->p, c.as.clo->p))) {
          SAVE();
          vm_raise(f, v_nil(), "corrupt bytecode: SETUPV on a non-closure");
          goto raise;
        }
        c.as.clo->up[IB(i)] = R[IC(i)];
        vmbreak;
      }
      vmcase(JMP) {
        pc += IBX(i);
        vmbreak;
      }
      vmcase(JMPF) if (!v_truthy(R[IA(i)])) pc += IBX(i); vmbreak;
      vmcase(JMPT) if (v_truthy(R[IA(i)])) pc += IBX(i); vmbreak;

#define ARITH(OPN, BUILTIN)                                                 \
      vmcase(OPN) {                                                         \
        Value b = R[IB(i)], c = R[IC(i)];                                       \
        int64_t r;                                                          \
        if (LIKELY(b.tag == T_INT && c.tag == T_INT)) {                     \
          if (UNLIKELY(BUILTIN(b.as.i, c.as.i, &r))) goto overflow;         \
          R[IA(i)] = v_int(r);                                                \
          vmbreak;                                                          \
        }                                                                   \
        goto arith_type;                                                    \
      }
      ARITH(ADD, __builtin_add_overflow)
      ARITH(SUB, __builtin_sub_overflow)
      ARITH(MUL, __builtin_mul_overflow)
      vmcase(ADDI) {
        Value b = R[IB(i)];
        int64_t r;
        if (LIKELY(b.tag == T_INT)) {
          if (UNLIKELY(__builtin_add_overflow(b.as.i, (int64_t)(int16_t)IC(i), &r))) goto overflow;
          R[IA(i)] = v_int(r);
          vmbreak;
        }
        goto arith_type;
      }
#define COMPARE(OPN, REL)                                                   \
      vmcase(OPN) {                                                         \
        Value b = R[IB(i)], c = R[IC(i)];                                       \
        if (LIKELY(b.tag == T_INT && c.tag == T_INT)) {                     \
          R[IA(i)] = v_bool(b.as.i REL c.as.i);                               \
          vmbreak;                                                          \
        }                                                                   \
        goto arith_type;                                                    \
      }
      COMPARE(LT, <)
      COMPARE(LE, <=)
      COMPARE(NUMEQ, ==)
      vmcase(EQ) R[IA(i)] = v_bool(v_eq(R[IB(i)], R[IC(i)])); vmbreak;

/* Compare and take the following JMP when the result equals X bit 0. */
#define CJUMP(OPN, REL)                                                     \
      vmcase(OPN) {                                                         \
        Value a = R[IA(i)], b = (IX(i) & 2) ? k[IB(i)] : R[IB(i)];                  \
        if (LIKELY(a.tag == T_INT && b.tag == T_INT)) {                     \
          if ((a.as.i REL b.as.i) == (IX(i) & 1)) pc += pc->bx + 1;           \
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
        Value b = (IX(i) & 2) ? k[IB(i)] : R[IB(i)];
        if (v_eq(R[IA(i)], b) == (IX(i) & 1)) pc += pc->bx + 1;
        else pc++;
        vmbreak;
      }
      vmcase(JNULL) {
        if ((R[IA(i)].tag == T_NIL) == (IX(i) & 1)) pc += pc->bx + 1;
        else pc++;
        vmbreak;
      }
      vmcase(JPAIR) {
        if ((R[IA(i)].tag == T_PAIR) == (IX(i) & 1)) pc += pc->bx + 1;
        else pc++;
        vmbreak;
      }
      vmcase(JUNCONS) {  /* a list pattern's item and the rest: JPAIR, CAR, CDR in one */
        if (R[IC(i)].tag == T_PAIR) {
          const Pair *pp = R[IC(i)].as.pair;
          v_copy(&R[IA(i)], &pp->car);
          v_copy(&R[IB(i)], &pp->cdr);
          pc++;
        } else {
          pc += pc->bx + 1;
        }
        vmbreak;
      }
      vmcase(CHECK) {  /* the primitive runs only to raise its error */
        if (UNLIKELY(!prim_check_passes(IC(i), R[IA(i)]))) {
          Value args[2] = { k[IB(i)], R[IA(i)] }, out;
          SAVE();
          prim_fns[IC(i)](f, args, 2, &out);
          goto raise;
        }
        vmbreak;
      }
      vmcase(NOT) R[IA(i)] = v_bool(!v_truthy(R[IB(i)])); vmbreak;
      vmcase(NULLP) R[IA(i)] = v_bool(R[IB(i)].tag == T_NIL); vmbreak;
      vmcase(PAIRP) R[IA(i)] = v_bool(R[IB(i)].tag == T_PAIR); vmbreak;
      vmcase(CONS) R[IA(i)] = v_cons(R[IB(i)], R[IC(i)]); vmbreak;
      vmcase(CAR) {
        Value b = R[IB(i)];
        if (UNLIKELY(b.tag != T_PAIR)) { SAVE(); vm_type_error(f, "car", "pair", b); goto raise; }
        R[IA(i)] = b.as.pair->car;
        vmbreak;
      }
      vmcase(CDR) {
        Value b = R[IB(i)];
        if (UNLIKELY(b.tag != T_PAIR)) { SAVE(); vm_type_error(f, "cdr", "pair", b); goto raise; }
        R[IA(i)] = b.as.pair->cdr;
        vmbreak;
      }
      vmcase(CALL) {
        Value *fn = &R[IA(i)];
        /* The fast path: a closure of fixed arity, room on both stacks. */
        if (LIKELY(fn->tag == T_CLOSURE)) {
          Closure *ncl = fn->as.clo;
          Proto *p = ncl->p;
          size_t nbase = (size_t)(R - f->stack) + IA(i) + 1;
          if (LIKELY(p->nparams == IB(i) && !p->rest && nbase + p->nregs < f->stack_cap &&
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
        size_t fslot = (size_t)(R - f->stack) + IA(i);
        switch (call_value(f, fslot, IB(i), false)) {
          case CALL_PUSHED: RELOAD(); vmbreak;
          case CALL_DONE: R = f->stack + (fslot - IA(i)); vmbreak;
          case CALL_SUSPENDED: return VM_VIS;
          case CALL_FAILED: goto raise;
        }
        vmbreak;
      }
      vmcase(TAILCALL) {
        SAVE();
        size_t base = (size_t)(R - f->stack);
        /* Slide callee and arguments down over the current frame: a few
         * values, copied forward (the destination is below the source), in
         * line rather than by a call of memmove. */
        for (uint32_t j = 0; j <= IB(i); j++) v_copy(&f->stack[base - 1 + j], &R[IA(i) + j]);
        Value fn = f->stack[base - 1];
        f->nframes--;
        if (LIKELY(fn.tag == T_CLOSURE)) {
          if (UNLIKELY(!push_frame(f, fn.as.clo, base, IB(i)))) { f->nframes++; goto raise; }
          RELOAD();
          vmbreak;
        }
        f->nframes++;
        switch (call_value(f, base - 1, IB(i), true)) {
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
        size_t fslot = (size_t)(R - f->stack) + IA(i);
        if (!ensure_stack(f, fslot + (size_t)IB(i) + 2)) goto raise;
        R = f->stack + (fslot - IA(i));
        memmove(&f->stack[fslot + 1], &f->stack[fslot], ((size_t)IB(i) + 1) * sizeof(Value));
        f->stack[fslot] = v_prim(PR_apply);
        bool tail = IOP(i) == OP_TAILAPPLY;
        CallOutcome out = call_value(f, fslot, IB(i) + 1, tail);
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
            R = f->stack + (fslot - IA(i));
            if (tail) {
              if (pop_frame(f, R[IA(i)])) return VM_RET;
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
          v_copy(&f->stack[fr->base - 1], &R[IA(i)]);
          f->nframes--;
          fr--;
          cl = fr->cl;
          k = cl->p->k;
          R = f->stack + fr->base;
          pc = fr->pc;
          vmbreak;
        }
        pop_frame(f, R[IA(i)]);
        IN_LOOP(ret_in_loop);
        return VM_RET;
      }
      vmcase(PRIM) {
        Value out;
        SAVE();
        if (UNLIKELY(!prim_fns[IC(i)](f, &R[IB(i)], IX(i), &out))) goto raise;
        v_copy(&R[IA(i)], &out);
        vmbreak;
      }
      vmcase(AVM) {
        SAVE();
        suspend(f, IC(i), &R[IB(i)], IX(i), (size_t)(R - f->stack) + IA(i), false);
        IN_LOOP(avm_in_loop);
        return VM_VIS;
      }
    }
  }

overflow:
  SAVE();
  /* ADDI also implements (- x k): X bit 0 says which it came from. */
  vm_raise(f, v_nil(), "%s: integer overflow", IOP(i) == OP_ADDI && (IX(i) & 1) ? "-" : arith_name(IOP(i)));
  goto raise;
arith_type: {
    SAVE();
    Value b = R[IOP(i) >= OP_JLT && IOP(i) <= OP_JNUMEQ ? IA(i) : IB(i)];
    Value c = (IOP(i) >= OP_JLT && IOP(i) <= OP_JNUMEQ) ? ((IX(i) & 2) ? k[IB(i)] : R[IB(i)])
              : (IOP(i) == OP_ADDI ? v_int(0) : R[IC(i)]);
    vm_type_error(f, IOP(i) == OP_ADDI && (IX(i) & 1) ? "-" : arith_name(IOP(i)), "integer", b.tag != T_INT ? b : c);
    goto raise;
  }
raise:
  f->status = VM_ERROR;
  if (f->error.loc.file == NULL && f->nframes > 0) f->error.loc = fiber_loc(f, f->nframes - 1);
  return VM_ERROR;
}

#undef vmdispatch
#undef vmcase
#undef vmbreak
#undef METER
#undef SAVE
#undef RELOAD
#undef RAISE
#undef IN_LOOP
#undef ARITH
#undef COMPARE
#undef CJUMP
