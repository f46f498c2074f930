/*
 * tsan.h — DSM_TSAN_BUILD is 1 when this file is compiled with
 * ThreadSanitizer (gcc defines __SANITIZE_THREAD__, clang has
 * __has_feature(thread_sanitizer)). TSan reserves most of the address
 * space below 0x7e8000000000 for its shadow, so such a build places the
 * shared region elsewhere by default (env.c, DSM_BASE) and tests that map
 * fixed addresses use DSM_TEST_FIXED_BASE.
 */
#ifndef DSM_CORE_TSAN_H
#define DSM_CORE_TSAN_H

#if defined(__SANITIZE_THREAD__)
#define DSM_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DSM_TSAN_BUILD 1
#endif
#endif
#ifndef DSM_TSAN_BUILD
#define DSM_TSAN_BUILD 0
#endif

/* Default DSM_BASE as a number (env.c documents it), and a second free
 * address for tests that map a region of their own. */
#if DSM_TSAN_BUILD
#define DSM_DEFAULT_BASE 0x7e8000000000ull
#define DSM_TEST_FIXED_BASE 0x7e9000000000ull
#else
#define DSM_DEFAULT_BASE 0x200000000000ull
#define DSM_TEST_FIXED_BASE 0x300000000000ull
#endif

#endif
