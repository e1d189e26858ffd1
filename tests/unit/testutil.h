/* tests/unit/testutil.h — what every Check unit-test program shares. */
#ifndef AVM_TESTUTIL_H
#define AVM_TESTUTIL_H
#include <check.h>
#include <stdlib.h>

/* Runs [s] (forking per test unless CK_FORK=no) and gives the exit status. */
static inline int run_suite(Suite *s) {
  SRunner *sr = srunner_create(s);
  srunner_run_all(sr, CK_NORMAL);
  int failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}

#endif
