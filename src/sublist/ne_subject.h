/* Subject rules of NATS (inventory CP-53..CP-56): tokens separated by '.',
 * no empty tokens, no white space, '*' matches one token and '>' one or more
 * (only as whole tokens, '>' only last). Comparison is byte-wise. */
#ifndef NE_SUBJECT_H
#define NE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

/* Valid for SUB: wildcards allowed. */
bool ne_subject_valid(const char *s, size_t len);
/* Valid and free of wildcard tokens (a pedantic publish subject). */
bool ne_subject_valid_literal(const char *s, size_t len);
/* Does `subject` (taken literally) match `filter` (wildcards honoured)? */
bool ne_subject_matches(const char *filter, size_t flen, const char *subject, size_t slen);
/* Is every subject that filter a matches also matched by filter b? */
bool ne_subject_is_subset(const char *a, size_t alen, const char *b, size_t blen);
/* Number of tokens (a subject without dots has one). */
size_t ne_subject_token_count(const char *s, size_t len);

#endif
