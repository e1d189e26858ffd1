/* vm/opcode.h — expands vm/opcodes.def, vm/instrs.def and vm/prims.def into
 * the enums and descriptor tables every module uses, and defines Instr. */
#ifndef AVM_OPCODE_H
#define AVM_OPCODE_H
#include <stdint.h>

typedef enum OpKind {
  OK_NONE, OK_REG, OK_CONST, OK_PROTO, OK_GLOBAL, OK_UPVAL, OK_JUMP,
  OK_IMM, OK_PRIM, OK_INSTR, OK_ARGC, OK_SIMM, OK_REGK
} OpKind;

enum { OPF_SUSPENDS = 1, OPF_CALL = 2, OPF_BRANCH = 4, OPF_RET = 8, OPF_SKIP = 16 };

typedef enum OpCode {
#define OP(name, a, b, c, bx, x, flags, gas, doc) OP_##name,
#include "vm/opcodes.def"
#undef OP
  OP__COUNT
} OpCode;
_Static_assert(OP__COUNT <= 256, "opcodes must fit in 8 bits");

typedef struct OpInfo {
  const char *name;
  uint8_t a, b, c, bx, x;   /* OpKind of each field */
  uint8_t flags;
  const char *doc;
} OpInfo;
extern const OpInfo op_info[OP__COUNT];

/* One pre-decoded tape instruction (see vm/opcodes.def for the layout). */
typedef struct Instr {
  uint8_t op, x;
  uint16_t a;
  union {
    struct { uint16_t b, c; };
    int32_t bx;
  };
} Instr;
_Static_assert(sizeof(Instr) == 8, "instructions are 64 bits");

static inline Instr instr_abc(int op, int a, int b, int c, int x) {
  Instr in = { .op = (uint8_t)op, .x = (uint8_t)x, .a = (uint16_t)a };
  in.b = (uint16_t)b;
  in.c = (uint16_t)c;
  return in;
}

static inline Instr instr_abx(int op, int a, int32_t bx) {
  Instr in = { .op = (uint8_t)op, .a = (uint16_t)a };
  in.bx = bx;
  return in;
}

/* AVM instructions. */
typedef enum InstrSafety { SAFE, UNSAFE } InstrSafety;
typedef enum InstrFamily {
  FAM_OBJ, FAM_INTROSPECT, FAM_REFLECT, FAM_REIFY, FAM_TX, FAM_PURE,
  FAM_MACHINE, FAM_CONTROLLER, FAM_NONDET, FAM_SCHED, FAM__COUNT
} InstrFamily;
typedef enum InstrId {
#define INSTR(id, name, mn, mx, layer, safety, fam, gas) IN_##id,
#include "vm/instrs.def"
#undef INSTR
  IN__COUNT
} InstrId;
typedef struct InstrInfo {
  const char *name;
  int8_t min_args, max_args;
  uint8_t layer;
  uint8_t safety;
  uint8_t family;
  uint16_t gas;        /* cost charged by avm run --gas */
} InstrInfo;
extern const InstrInfo instr_info[IN__COUNT];

/* C primitives, then the AVM instructions as first-class procedures: a
 * T_PRIM value's index is a PrimId or PRIM__COUNT + InstrId. */
typedef enum PrimId {
#define PRIM(cname, name, mn, mx, fast, kind) PR_##cname,
#include "vm/prims.def"
#undef PRIM
  PRIM__COUNT
} PrimId;
enum { PK_PURE, PK_EFFECT };
typedef struct PrimInfo {
  const char *name;
  int8_t min_args, max_args;
  int16_t fast_op;     /* an OpCode, or -1 */
  uint8_t kind;        /* PK_PURE: a built-in pure function */
} PrimInfo;
extern const PrimInfo prim_info[PRIM__COUNT];
#define PROC_PRIM_COUNT (PRIM__COUNT + IN__COUNT)

#endif
