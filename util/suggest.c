/* util/suggest.c — edit distance and the closest-candidate search behind
 * every "did you mean" note. */
#include "util/suggest.h"
#include <stdlib.h>
#include <string.h>

static size_t min3(size_t a, size_t b, size_t c) {
  size_t m = a < b ? a : b;
  return m < c ? m : c;
}

/* Three rows of the dynamic-programming table (the transposition looks two
 * rows back); names are short, so one allocation per call is fine. */
size_t suggest_distance(const char *a, const char *b) {
  size_t n = strlen(a), m = strlen(b);
  size_t *rows = malloc(3 * (m + 1) * sizeof *rows);
  if (!rows) abort();
  size_t *prev2 = rows, *prev = rows + (m + 1), *cur = rows + 2 * (m + 1);
  for (size_t j = 0; j <= m; j++) prev[j] = j;
  for (size_t i = 1; i <= n; i++) {
    cur[0] = i;
    for (size_t j = 1; j <= m; j++) {
      size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = min3(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < cur[j])
        cur[j] = prev2[j - 2] + 1;
    }
    size_t *t = prev2;
    prev2 = prev;
    prev = cur;
    cur = t;
  }
  size_t d = prev[m];
  free(rows);
  return d;
}

void suggest_init(Suggest *s, const char *name) {
  s->name = name;
  s->len = strlen(name);
  s->max = (s->len < 3 ? 3 : s->len) / 3;
  s->best = NULL;
  s->best_dist = 0;
  s->best_kind = 0;
}

void suggest_consider(Suggest *s, const char *candidate, int kind) {
  if (candidate[0] == '%' || strcmp(candidate, s->name) == 0) return;
  size_t clen = strlen(candidate);
  /* Lengths alone bound the distance from below: skip hopeless ones. */
  size_t gap = clen > s->len ? clen - s->len : s->len - clen;
  if (gap > s->max) return;
  size_t d = suggest_distance(s->name, candidate);
  if (d > s->max || d >= s->len || d >= clen) return;
  if (s->best && d >= s->best_dist) return;
  s->best = candidate;
  s->best_dist = d;
  s->best_kind = kind;
}
