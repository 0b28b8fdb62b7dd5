/* Subject rules of NATS (inventory CP-53..CP-56), as nats-server applies them.
 *
 * A subject is tokens separated by '.'. No token is empty (no leading,
 * trailing or double dot) and no white space (space, TAB, CR, LF, FF) appears
 * anywhere. A token that is exactly '*' matches one token, one that is exactly
 * '>' matches one or more and must be the last; '*' or '>' inside a longer
 * token ("foo*bar", "a>") is an ordinary character. Comparison is byte-wise
 * and case-sensitive; any other byte (UTF-8 included) is allowed.
 *
 * Every function takes a pointer and a length (the text need not end with a
 * NUL) and only reads it. None has a length limit of its own. */
#ifndef NE_SUBJECT_H
#define NE_SUBJECT_H

#include <stdbool.h>
#include <stddef.h>

/* Valid for SUB: wildcards allowed. The empty subject is invalid. */
bool ne_subject_valid(const char *s, size_t len);

/* Valid and free of wildcard tokens: what a pedantic publisher may publish to.
 * (nats-server's IsValidLiteralSubject does not look for white space; a
 * subject with a form feed in it is refused here.) */
bool ne_subject_valid_literal(const char *s, size_t len);

/* Does the published `subject` match `filter`? The filter's '*' and '>'
 * tokens are wildcards; the subject is taken literally, so a published
 * "foo.*" matches the filters "foo.*" and "foo.>" but not "foo.bar", as in
 * nats-server. "foo.>" does not match "foo"; ">" matches every subject,
 * "$"-prefixed ones included. False when the filter is not valid or the
 * subject is empty or has an empty token (nats-server delivers nothing for
 * such a subject). White space in the subject is not checked. */
bool ne_subject_matches(const char *filter, size_t flen, const char *subject, size_t slen);

/* Is every subject that filter `a` matches also matched by filter `b`?
 * (a = "foo.bar" and b = "foo.*": yes; the reverse: no.) False when either
 * is not a valid subject. */
bool ne_subject_is_subset(const char *a, size_t alen, const char *b, size_t blen);

/* Number of tokens: dots plus one; 0 for the empty subject. */
size_t ne_subject_token_count(const char *s, size_t len);

#endif
