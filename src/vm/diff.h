/*
 * diff.h — twin/diff engine (src/vm/diff.c). Pure: no locks, no malloc,
 * async-signal-safe, so the fault path and the service thread may both use
 * it.
 *
 * A diff lists the byte runs in which a page differs from its twin (the
 * copy taken before the first write). Runs are byte-exact (the comparison
 * works on 64-byte blocks and 8-byte words, then trims each run's ends to
 * the bytes that really changed), so two writers of different bytes of one
 * word never overwrite each other when their diffs are merged.
 *
 * Encoding (portable: the header fields are little-endian, so a diff may
 * travel between nodes as is):
 *   u32 magic_and_count   low 24 bits: number of runs; high 8 bits: 0xD1
 *   repeated count times:
 *     u32 offset          byte offset in the page
 *     u32 length          bytes in the run (> 0)
 *     length bytes        the new contents
 *   Runs are sorted by offset and do not overlap or touch.
 * The encoding is canonical: one page/twin pair has exactly one diff, and
 * apply/stats/conflicts reject runs that touch (offset == previous end)
 * as well as overlapping ones. Every function takes page_size up to
 * 16 MiB (so the run count fits 24 bits); larger sizes give -EINVAL. Any
 * page_size works, not only multiples of 8 or 64.
 */
#ifndef DSM_VM_DIFF_H
#define DSM_VM_DIFF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define DSM_DIFF_MAGIC 0xD1u

/* Largest encoding of a diff of a page of page_size bytes: every other
 * byte changed is the worst case, plus the last byte when page_size is even
 * (4 + 8 * ((n + 1) / 2) + (n + 1 - (n + 1) / 2) bytes; 18,437 for 4 KiB,
 * so a caller may prefer to send a whole page when the diff is larger). */
size_t dsm__diff_max_size(size_t page_size);

/* Encode page vs twin (both page_size bytes) into out (cap bytes).
 * Returns the encoded length (4 for "no change"), or -ENOSPC (out may
 * then hold partial output; nothing is written at or past out + cap), or
 * -EINVAL for page_size > 16 MiB. */
ssize_t dsm__diff_encode(const void *twin, const void *page, size_t page_size,
			 void *out, size_t cap);

/* Apply an encoded diff (the run form; the masked form below has its
 * own) to page (page_size bytes). Validates everything first (magic,
 * count, every run inside the page, sorted, non-overlapping, total length
 * == len) and changes nothing on error. 0 or -EINVAL. */
int dsm__diff_apply(void *page, size_t page_size, const void *diff, size_t len);

/* Number of runs and changed bytes of a valid diff; -EINVAL if invalid. */
int dsm__diff_stats(const void *diff, size_t len, size_t page_size,
		    uint32_t *runs, uint32_t *bytes);

/* 1 if page equals twin (fast path: 64-byte blocks), else 0. */
int dsm__diff_same(const void *twin, const void *page, size_t page_size);

/*
 * The masked form (diff_mask.c), for pages where many scattered bytes
 * changed: u32 magic_and_count (high 8 bits 0xD2, low 24: words with a
 * changed byte), one mask byte per 8-byte word of the page (bit k: byte k
 * of the word changed), then the new 8 bytes of each such word in page
 * order. At most dsm__diff_mask_max_size bytes (1.125x the page), against
 * 4.5x for the run form's worst case. page_size must be a multiple of 8
 * (else -EINVAL). Not canonical next to the run form: a sender picks one
 * (hlrc's release), its receiver tells them apart (dsm__diff_is_masked)
 * and applies it with dsm__diff_mask_apply, which validates everything
 * first and changes nothing on error; dsm__diff_apply, _stats and
 * _conflicts take the run form only. Applying stores exactly the changed
 * bytes, as the run form does.
 */
#define DSM_DIFF_MASK_MAGIC 0xD2u
size_t dsm__diff_mask_max_size(size_t page_size);
/* Returns the masked form's length (or -ENOSPC, -EINVAL); *run_len (if
 * not NULL) gets the length the run form of the same diff has, so the
 * caller can pick the smaller without encoding both. */
ssize_t dsm__diff_mask_encode(const void *twin, const void *page, size_t page_size,
			      void *out, size_t cap, size_t *run_len);
int dsm__diff_mask_apply(void *page, size_t page_size, const void *diff, size_t len);
/* The same without the vector path (x86-64 with AVX-512BW takes it):
 * for tests, which must cover both on any machine. */
int dsm__diff_mask_apply_portable(void *page, size_t page_size, const void *diff,
				  size_t len);
int dsm__diff_is_masked(const void *diff, size_t len);

/*
 * Conflicts between two diffs of the same page made from the same twin (for
 * deterministic spaces): calls cb(off, len, arg) for every maximal byte
 * range that both diffs write with DIFFERENT values (writing the same value
 * is not a conflict). Returns the number of conflicting bytes, or -EINVAL
 * (either diff invalid; cb is then never called). Ranges are reported in
 * increasing offset order and never touch; cb may be NULL (only count).
 */
typedef void (*dsm_diff_conflict_cb)(uint32_t off, uint32_t len, void *arg);
ssize_t dsm__diff_conflicts(const void *a, size_t alen, const void *b, size_t blen,
			    size_t page_size, dsm_diff_conflict_cb cb, void *arg);

#endif /* DSM_VM_DIFF_H */
