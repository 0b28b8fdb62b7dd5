/* The authenticator (ne_authn.h). */
#include "router/ne_authn.h"

#include <string.h>

#include "core/ne_assert.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "port.h"

bool ne_authn_read_credential(const ne_json_doc *doc, const char *key, char *buf, size_t cap)
{
    NE_ASSERT(cap > 0);
    buf[0] = '\0';
    if (ne_json_find(doc, 0, key) < 0) {
        return true;
    }
    if (!ne_json_get_string(doc, 0, key, buf, cap, NULL)) {
        buf[0] = '\0';
        return false;
    }
    return true;
}

bool ne_authn_read_credentials(const ne_json_doc *doc, ne_credentials *c)
{
    static const char *const keys[] = {"user", "pass", "auth_token", "nkey", "sig", "jwt"};
    memset(c, 0, sizeof(*c));
    c->none = true;
    for (size_t i = 0; i < NE_ARRAY_LEN(keys); i++) {
        c->none = c->none && ne_json_find(doc, 0, keys[i]) < 0;
    }
    return ne_authn_read_credential(doc, "user", c->user, sizeof(c->user)) &&
           ne_authn_read_credential(doc, "pass", c->pass, sizeof(c->pass)) &&
           ne_authn_read_credential(doc, "auth_token", c->token, sizeof(c->token)) &&
           ne_authn_read_credential(doc, "nkey", c->nkey, sizeof(c->nkey)) &&
           ne_authn_read_credential(doc, "sig", c->sig, sizeof(c->sig));
}

bool ne_authn_required(const ne_server_options *o)
{
    return o->auth_user[0] != '\0' || o->auth_token[0] != '\0' || o->user_count > 0;
}

/* Compares without an early exit, so the time taken does not tell how much
 * of a secret matched. */
bool ne_authn_secret_equal(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    size_t n = la > lb ? la : lb;
    unsigned diff = (unsigned)(la ^ lb);
    for (size_t i = 0; i < n; i++) {
        char ca = i < la ? a[i] : 0;
        char cb = i < lb ? b[i] : 0;
        diff |= (unsigned)(unsigned char)(ca ^ cb);
    }
    return diff == 0;
}

/* The hash's form and cost were checked with the options. */
bool ne_authn_secret_matches(ne_bcrypt_state *st, const char *configured, const char *given)
{
    if (ne_bcrypt_is_hash(configured)) {
        return ne_bcrypt_verify(st, given, strlen(given), configured, strlen(configured),
                                NE_BCRYPT_MAX_COST) == NE_OK;
    }
    return ne_authn_secret_equal(configured, given);
}

int ne_authn_check_secret(const char *what, const char *secret, char *err, size_t err_cap)
{
    if (!ne_bcrypt_is_hash(secret)) {
        return NE_OK;
    }
    unsigned cost;
    uint8_t salt[NE_BCRYPT_SALT_BYTES];
    int rc = ne_bcrypt_parse(secret, strlen(secret), NE_BCRYPT_MAX_COST, &cost, salt);
    if (rc == NE_ERR_RANGE) {
        ne_fmt(err, err_cap,
               "bcrypt %s: cost %.*s is above the compiled-in maximum %u: raise "
               "NE_BCRYPT_MAX_COST in config/",
               what, 2, secret + 4, (unsigned)NE_BCRYPT_MAX_COST);
    } else if (rc != NE_OK) {
        ne_fmt(err, err_cap, "bcrypt %s is not a valid bcrypt hash", what);
    }
    return rc;
}

/* An nkey user signs the nonce's text with the nkey's private key (CP-73). */
static bool nkey_signed(const ne_user_entry *u, const ne_credentials *c, const char *nonce)
{
    uint8_t public_key[32], sig[64];
    return nonce != NULL && nonce[0] != '\0' &&
           ne_nkey_decode_public(u->nkey, strlen(u->nkey), NE_NKEY_PREFIX_USER, public_key) &&
           ne_nkey_decode_sig(c->sig, strlen(c->sig), sig) &&
           ne_port_ed25519_verify(sig, (const uint8_t *)nonce, strlen(nonce), public_key) == NE_OK;
}

static bool find_user(const ne_server_options *o, const char *name, int *user_index)
{
    for (uint32_t i = 0; i < o->user_count; i++) {
        if (strcmp(o->users[i].user, name) == 0) {
            *user_index = (int)i;
            return true;
        }
    }
    return false;
}

bool ne_authn_check(const ne_server_options *o, ne_bcrypt_state *st, const ne_credentials *c,
                    const char *nonce, int *user_index)
{
    *user_index = -1;
    if (c->none && o->no_auth_user[0] != '\0') {
        return find_user(o, o->no_auth_user, user_index);
    }
    if (o->auth_token[0] != '\0') {
        return c->token[0] != '\0' && ne_authn_secret_matches(st, o->auth_token, c->token);
    }
    if (o->auth_user[0] != '\0') {
        return c->user[0] != '\0' && ne_authn_secret_equal(c->user, o->auth_user) &&
               ne_authn_secret_matches(st, o->auth_pass, c->pass);
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        const ne_user_entry *u = &o->users[i];
        if (u->nkey[0] != '\0') {
            if (c->nkey[0] == '\0' || strcmp(c->nkey, u->nkey) != 0) {
                continue;
            }
            *user_index = (int)i;
            return nkey_signed(u, c, nonce);
        }
        if (c->user[0] != '\0' && ne_authn_secret_equal(c->user, u->user)) {
            *user_index = (int)i;
            return ne_authn_secret_matches(st, u->pass, c->pass);
        }
    }
    return false;
}

void ne_authn_identity(const ne_server_options *o, int user_index, uint8_t *account,
                       uint16_t *perms)
{
    *account = NE_ACCOUNT_GLOBAL;
    *perms = o->default_perms;
    if (user_index >= 0) {
        const ne_user_entry *u = &o->users[user_index];
        *account = u->account;
        if (u->perms != NE_PERM_NONE) {
            *perms = u->perms;
        } else if (o->accounts[u->account].default_perms != NE_PERM_NONE) {
            *perms = o->accounts[u->account].default_perms;
        }
    }
}

const char *ne_authn_user_name(const ne_server_options *o, int user_index)
{
    if (user_index >= 0) {
        const ne_user_entry *u = &o->users[user_index];
        return u->user[0] != '\0' ? u->user : u->nkey;
    }
    return o->auth_user;
}

/* FNV-1a over the parts of a credential, with a separator after each. */
static uint64_t fnv_text(uint64_t h, const char *text)
{
    for (size_t i = 0; text[i] != '\0' && i < 256; i++) {
        h ^= (uint8_t)text[i];
        h *= 0x100000001b3ull;
    }
    h ^= 0xff;
    h *= 0x100000001b3ull;
    return h;
}

static uint64_t fingerprint(char kind, const char *name, const char *secret)
{
    char k[2] = {kind, '\0'};
    uint64_t h = fnv_text(0xcbf29ce484222325ull, k);
    h = fnv_text(h, name);
    h = fnv_text(h, secret);
    return h != 0 ? h : 1; /* 0 means "no credential" */
}

static uint64_t user_fingerprint(const ne_user_entry *u)
{
    return u->nkey[0] != '\0' ? fingerprint('N', u->nkey, "") : fingerprint('P', u->user, u->pass);
}

uint64_t ne_authn_fingerprint(const ne_server_options *o, int user_index)
{
    if (user_index >= 0 && (uint32_t)user_index < o->user_count) {
        return user_fingerprint(&o->users[user_index]);
    }
    if (o->auth_token[0] != '\0') {
        return fingerprint('T', "", o->auth_token);
    }
    if (o->auth_user[0] != '\0') {
        return fingerprint('P', o->auth_user, o->auth_pass);
    }
    return 0;
}

int ne_authn_find(const ne_server_options *o, uint64_t fp)
{
    if (!ne_authn_required(o)) {
        return -1; /* no authentication any more */
    }
    if (fp == 0) {
        return -2;
    }
    if (o->auth_token[0] != '\0') {
        return fp == fingerprint('T', "", o->auth_token) ? -1 : -2;
    }
    if (o->auth_user[0] != '\0') {
        return fp == fingerprint('P', o->auth_user, o->auth_pass) ? -1 : -2;
    }
    for (uint32_t i = 0; i < o->user_count; i++) {
        if (user_fingerprint(&o->users[i]) == fp) {
            return (int)i;
        }
    }
    return -2;
}
