/* cli/meta.h — the REPL's meta-commands (cli/meta.def, run by
 * cli/meta.c): running one, telling whether one is complete, and the
 * words Tab offers for them. */
#ifndef AVM_CLI_META_H
#define AVM_CLI_META_H
#include <stdbool.h>
#include <stddef.h>
#include "cli/lineedit.h"
#include "cli/session.h"

/* Runs the meta-command input [text] (",name argument"; an expression
 * argument may take several lines, the first being line [line]) on
 * session [s].  Gives its exit status: EX_AVM_OK, or why it failed
 * (EX_AVM_USAGE for a misused meta-command).  ,quit sets *quit. */
int meta_run(Session *s, const char *text, int line, bool *quit);

/* Whether [text] is a whole meta-command: one whose expression argument
 * is still open goes on over the next lines. */
bool meta_complete(const char *text);

/* Offers, for the word at line[start] of a line that starts with a comma,
 * the meta-command names or the words of the named one's argument. */
void meta_words(const char *line, size_t start, LeAdd add, void *acc);

#endif
