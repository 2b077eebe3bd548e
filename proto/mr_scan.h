/* mr_scan.h -- word-at-a-time byte scans for the hot loops of the parsers.
 *
 * Text validation (is every byte printable ASCII?) is the one per-byte loop left in line
 * parsers once memchr has found the line end. These helpers look at 8 bytes per step with
 * portable SWAR arithmetic (no intrinsics, no alignment assumptions: words are loaded with
 * memcpy) and fall back to bytes only where a byte needs a closer look.
 */
#ifndef MAILRIG_PROTO_MR_SCAN_H
#define MAILRIG_PROTO_MR_SCAN_H

#include <stddef.h>

/* The length of the run of printable ASCII (0x20..0x7E, SP included) at the start of
 * p[0..n): the offset of the first other byte (control, DEL, 8-bit), or n. */
size_t mr_scan_printable(const char *p, size_t n);

#endif
