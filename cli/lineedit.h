/* cli/lineedit.h — the REPL's terminal line editor, on libedit: Emacs
 * keys, history kept in a file, incremental search (Ctrl-R), Tab
 * completion from words the caller supplies, and Ctrl-C that abandons
 * the line being typed.  Only used when stdin is a terminal. */
#ifndef AVM_CLI_LINEEDIT_H
#define AVM_CLI_LINEEDIT_H
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct LineEdit LineEdit;

/* Gives the completion candidates for the word that ends at the cursor:
 * [line] is the text before the cursor and the word is line[start..].
 * [add] takes each candidate (a whole word; lineedit keeps those that
 * extend the word, sorts them and drops duplicates). */
typedef void (*LeAdd)(void *acc, const char *word);
typedef void (*LeWords)(void *ctx, const char *line, size_t start, LeAdd add, void *acc);

/* A line editor on stdin and the terminal, with its history in
 * [history_file] (NULL: none kept).  [interrupt] is the flag the caller's
 * SIGINT handler sets: reading gives up the line when it is set. */
LineEdit *le_new(const char *prog, const char *history_file, const volatile sig_atomic_t *interrupt, LeWords words,
                 void *ctx);
/* Reads a line after [prompt].  Returns it without its newline (valid
 * until the next call), or NULL: *interrupted tells Ctrl-C (the line is
 * abandoned) from end of input (Ctrl-D). */
const char *le_read(LineEdit *le, const char *prompt, bool *interrupted);
/* Adds [line] to the history and saves the history file. */
void le_remember(LineEdit *le, const char *line);
void le_free(LineEdit *le);

#endif
