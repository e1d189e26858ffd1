/* lang/core.h — the small core language that desugaring produces and the
 * compiler consumes.  Derived forms (let*, cond, case, when, unless, and,
 * or, quasiquote, match, do) no longer exist here. */
#ifndef AVM_CORE_H
#define AVM_CORE_H
#include "lang/syntax.h"

typedef enum CoreKind {
  CK_CONST,     /* a literal or quoted datum; datum NULL = unspecified */
  CK_REF,       /* variable reference */
  CK_IF,
  CK_LAMBDA,
  CK_CALL,
  CK_SEQ,
  CK_LET,       /* parallel bindings */
  CK_LETREC,    /* letrec* bindings: inits run in order */
  CK_NAMEDLET,  /* (let name ((p init) ...) body) */
  CK_DEFINE,    /* top-level definition */
  CK_DECL       /* top-level behavior or pure declaration */
} CoreKind;

/* What a reserved word of lang/keywords.def is. */
typedef enum KeywordKind { KW_FORM, KW_DECL, KW_AUX } KeywordKind;

typedef enum DeclForm { DF_BEHAVIOR, DF_PURE } DeclForm;

typedef struct Core Core;
struct Core {
  CoreKind kind;
  Loc loc;
  union {
    struct { Syntax *datum; } konst;
    /* builtin: the primitive of this name, whatever shadows it (used by
     * desugared code such as match and quasiquote). */
    struct { Symbol *name; bool builtin; } ref;
    struct { Core *test, *then, *els; } ifx;
    /* params[0..nparams-1], then the rest parameter params[nparams] if rest. */
    struct { Symbol **params; int nparams; bool rest; Core *body; Symbol *name; } lambda;
    struct { Core *fn; Core **args; int nargs; } call;
    struct { Core **items; int n; } seq;
    /* CK_LET, CK_LETREC, CK_NAMEDLET (name set only for the last). */
    struct { Symbol *name; Symbol **names; Core **inits; Loc *locs; int n; Core *body; } let;
    struct { Symbol *name; Core *value; } define;
    struct { DeclForm form; Symbol *name; Core *lambda; } decl;
  } u;
};

typedef struct CoreProgram {
  Core **forms;
  int n;
} CoreProgram;

/* The names of the special forms and declarations, for "did you mean";
 * entries for keywords that only appear inside forms (else, =>, ...) are
 * NULL. */
extern const char *const desugar_special_forms[];
extern const int desugar_nspecial_forms;

/* Desugars a whole file.  Reports every error to [d]; false if any. */
bool desugar_program(Diag *d, const SyntaxList *in, CoreProgram *out);

#endif
