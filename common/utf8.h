// utf8.h: UTF-8 validation and repair, the one copy every folder uses (JSON
// text must be UTF-8: sample text, farm jobs, decoded ids, extracted pages).
// Well-formed means RFC 3629: no overlongs, no surrogates, nothing above
// U+10FFFF. Repair replaces each byte that does not start a well-formed
// character with U+FFFD, as Hugging Face's and tiktoken's decode(errors=
// "replace") do. Thread-safe (no state).
#pragma once
#include <stddef.h>

#include "common/buf.h"

// Length (1..4) of the well-formed character at s (n >= 1 bytes left), or 0
// when it is not one (stray continuation, overlong, surrogate, cut short).
size_t utf8_char_len(const char *s, size_t n);
// Offset of the first byte that does not start a well-formed character, or n.
// nul_ok 0 also stops at a NUL byte (text that must stay a C string).
size_t utf8_bad_offset(const char *s, size_t n, int nul_ok);
// 1 when s[0..n) is well-formed UTF-8 (NUL allowed).
int utf8_valid(const char *s, size_t n);
// Append s[0..n) to out with bad bytes (and NUL unless keep_nul) as U+FFFD.
void utf8_repair_append(Buf *out, const char *s, size_t n, int keep_nul);
// Repair b in place (NUL kept); a no-op on valid text.
void utf8_repair_buf(Buf *b);
// A malloc'd, NUL-terminated repaired copy of s[0..n) (NUL replaced too).
char *utf8_repair(const char *s, size_t n);
