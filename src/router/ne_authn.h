/* Who a connection is: its credentials checked against the configured
 * token, user or users list (passwords in clear or bcrypt, nkeys signing
 * the server's nonce), then the binding to that user's account and
 * permissions. One authenticator for every kind that takes credentials
 * (clients; leafs without a leafnodes authorization block). Inventory
 * CP-71..CP-75, LN-26. */
#ifndef NE_AUTHN_H
#define NE_AUTHN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/ne_bcrypt.h"
#include "auth/ne_nkey.h"
#include "conf/ne_options.h"
#include "conn/ne_conn.h"
#include "json/ne_json.h"

/* What a peer presented (CONNECT's fields; "" when absent). */
typedef struct ne_credentials {
    char user[128];
    char pass[128];
    char token[128];
    char nkey[64];
    char sig[128];
    bool none; /* no credential field at all: no_auth_user applies (CP-75) */
} ne_credentials;

/* Reads the CONNECT credential `key` into buf of cap bytes. True when it is
 * absent (buf empty) or read whole; false when it is present but not a
 * string or too long for buf: the caller refuses the login rather than
 * compare a prefix that happened to fit (differences.md). */
bool ne_authn_read_credential(const ne_json_doc *doc, const char *key, char *buf, size_t cap);
/* Every credential field of CONNECT into c (user, pass, auth_token, nkey,
 * sig; none says whether any credential field, jwt included, was there);
 * false when one cannot be read whole (ne_authn_read_credential). */
bool ne_authn_read_credentials(const ne_json_doc *doc, ne_credentials *c);

/* True when clients must authenticate. */
bool ne_authn_required(const ne_server_options *o);
/* Compares two secrets in time that does not depend on where they differ. */
bool ne_authn_secret_equal(const char *a, const char *b);
/* A password or token against a configured one: bcrypt when the configured
 * value is a bcrypt hash (nats-server's rule), else in clear. */
bool ne_authn_secret_matches(ne_bcrypt_state *st, const char *configured, const char *given);
/* A configured password or token that looks like bcrypt must be a whole hash
 * of a cost natsedge accepts: NE_OK, or an error with a message in err. */
int ne_authn_check_secret(const char *what, const char *secret, char *err, size_t err_cap);

/* Checks credentials as nats-server checks a client's CONNECT: the token,
 * else the single user, else the users list (an nkey user must have signed
 * `nonce`), or no_auth_user for a client without credentials. The users-list
 * entry that matched goes to *user_index (-1: none). */
bool ne_authn_check(const ne_server_options *o, ne_bcrypt_state *st, const ne_credentials *c,
                    const char *nonce, int *user_index);

/* The account index and permission set of users[user_index] (-1: the
 * authorization block's defaults): the user's own permissions, else its
 * account's default, else the block's. */
void ne_authn_identity(const ne_server_options *o, int user_index, uint8_t *account,
                       uint16_t *perms);
/* The name a connection authenticated as: the user, the nkey, "". */
const char *ne_authn_user_name(const ne_server_options *o, int user_index);

/* The fingerprint of the configured credential a connection authenticated
 * with under o: users[user_index], or with -1 the token or single user (0:
 * no authentication). Kept so that a reload can tell whether it is still
 * configured. */
uint64_t ne_authn_fingerprint(const ne_server_options *o, int user_index);
/* Where a credential is in o now: a users-list index, -1 for the single
 * user or token (or no authentication at all), -2 when it is gone. */
int ne_authn_find(const ne_server_options *o, uint64_t fingerprint);

#endif
