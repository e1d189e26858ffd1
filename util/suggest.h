/* util/suggest.h — "did you mean" for misspelt names: the edit distance
 * between two names, and the choice of the closest of a set of candidates.
 * Used for unbound variables (compiler) and unknown behaviors (runtime). */
#ifndef AVM_SUGGEST_H
#define AVM_SUGGEST_H
#include <stddef.h>

/* The optimal-string-alignment distance (Damerau–Levenshtein restricted to
 * adjacent transpositions that are not edited again) between [a] and [b]:
 * insertions, deletions, substitutions and swaps of two neighbours each
 * cost 1, so "lenght" is 1 from "length". */
size_t suggest_distance(const char *a, const char *b);

/* The search for the best candidate for [name].  A candidate is worth
 * suggesting when its distance is at most max(len, 3) / 3 (one edit per
 * three characters, as rustc does) and smaller than both names' lengths
 * (no "y" for "x").  Among those the closest wins; on a tie the one
 * considered first, so callers offer candidates from the nearest scope
 * outwards and the result never depends on anything but that order. */
typedef struct Suggest {
  const char *name;
  size_t len, max;
  const char *best;    /* NULL: nothing close enough yet */
  size_t best_dist;
  int best_kind;       /* the caller's tag of [best] */
} Suggest;

void suggest_init(Suggest *s, const char *name);
/* Offers [candidate] (kept by pointer, not copied), tagged [kind].  Names
 * starting with '%' are internal and never suggested. */
void suggest_consider(Suggest *s, const char *candidate, int kind);

#endif
