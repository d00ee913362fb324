// PCRE2 with 8-bit code units: the functions are called by their _8 names
// (pcre2_compile_8, pcre2_match_8, ...), since Swift cannot import the
// unsuffixed names, which are function-like macros.
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
