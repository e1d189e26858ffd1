/* vm/loader.h — loading and verifying .avmb images. */
#ifndef AVM_LOADER_H
#define AVM_LOADER_H
#include "vm/vm.h"

/* Parses an image; NULL with a message in [err] if it is malformed. */
Module *avmb_load(const unsigned char *data, size_t len, char *err, size_t errlen);
/* Checks every instruction and table of an unlinked module so that running
 * it cannot touch memory outside its frames; false with a message. */
bool vm_verify(const Module *m, char *err, size_t errlen);

#endif
