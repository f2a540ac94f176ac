/* Only for cppcheck (never compiled): lets it parse Criterion test bodies.
 *   cppcheck --include=test/softroce/tests/cppcheck-criterion.h test/softroce/tests/ */
#define TestSuite(...)
#define Test(suite, name, ...) void suite##_##name(void)
