/* Run a Check suite and turn the outcome into an exit status. */
#ifndef HR_TEST_CHECK_RUN_H
#define HR_TEST_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

static inline int hr_check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
