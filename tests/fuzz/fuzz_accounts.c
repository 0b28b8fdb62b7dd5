/* libFuzzer harness for accounts and permissions (src/server/ne_server_conf.c
 * mapping, ne_perm.c, ne_account.c). The input is a configuration file, then
 * a NUL, then subjects separated by newlines. A configuration that applies
 * must hold together (every index in range, every list inside the subject
 * table); then every subject is checked against every permission set and
 * mapped through every import, which must stay inside its buffer and give a
 * valid subject from a valid one. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "conf/ne_conf.h"
#include "core/ne_error.h"
#include "router/ne_account.h"
#include "router/ne_perm.h"
#include "server/ne_server_conf.h"
#include "core/ne_subject.h"

static ne_conf conf;
static ne_server_options opts;

static int load(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
    (void)ctx;
    (void)path;
    (void)buf;
    (void)cap;
    (void)len;
    return NE_ERR_NOT_FOUND;
}

static void check_list(const ne_perm_list *l)
{
    if ((uint32_t)l->first + l->count > opts.perm_subject_count) {
        abort();
    }
}

static void check_options(void)
{
    if (opts.account_count < 2 || opts.account_count > NE_MAX_ACCOUNTS ||
        opts.perm_count > NE_MAX_PERMISSION_SETS ||
        opts.perm_subject_count > NE_MAX_PERM_SUBJECTS) {
        abort();
    }
    if (opts.system_account != NE_ACCOUNT_NONE && opts.system_account >= opts.account_count) {
        abort();
    }
    if (opts.default_perms != NE_PERM_NONE && opts.default_perms >= opts.perm_count) {
        abort();
    }
    for (uint32_t i = 0; i < opts.user_count; i++) {
        const ne_user_entry *u = &opts.users[i];
        if (u->account >= opts.account_count ||
            (u->perms != NE_PERM_NONE && u->perms >= opts.perm_count)) {
            abort();
        }
    }
    for (uint32_t i = 0; i < opts.perm_count; i++) {
        const ne_permissions *p = &opts.perms[i];
        check_list(&p->pub_allow);
        check_list(&p->pub_deny);
        check_list(&p->sub_allow);
        check_list(&p->sub_deny);
    }
    for (uint32_t i = 0; i < opts.import_count; i++) {
        const ne_import_conf *imp = &opts.imports[i];
        if (imp->account >= opts.account_count || imp->from >= opts.account_count ||
            memchr(imp->subject, '\0', sizeof(imp->subject)) == NULL ||
            memchr(imp->to, '\0', sizeof(imp->to)) == NULL) {
            abort();
        }
    }
}

static void check_subject(const char *s, size_t len)
{
    for (uint32_t i = 0; i < opts.perm_count; i++) {
        const ne_permissions *p = &opts.perms[i];
        (void)ne_perm_can_publish(p, opts.perm_subjects, s, len);
        (void)ne_perm_can_subscribe(p, opts.perm_subjects, s, len, s, len / 2);
        (void)ne_perm_withholds(p, opts.perm_subjects, s, len);
        (void)ne_perm_deny_overlaps(p, opts.perm_subjects, s, len);
    }
    bool literal = ne_subject_valid_literal(s, len);
    for (uint32_t i = 0; i < opts.import_count; i++) {
        const ne_import_conf *imp = &opts.imports[i];
        const char *from =
            imp->service ? (imp->to[0] != '\0' ? imp->to : imp->subject) : imp->subject;
        const char *to = imp->service ? imp->subject : imp->to;
        if (imp->prefix || !ne_subject_matches(from, strlen(from), s, len)) {
            continue;
        }
        char out[64];
        size_t n =
            ne_account_map_subject(from, strlen(from), to, strlen(to), s, len, out, sizeof(out));
        if (n > sizeof(out)) {
            abort();
        }
        /* A literal subject matched by a filter maps to a literal subject
         * when it fits (the import was checked to carry its wildcards). */
        if (n > 0 && literal && !ne_subject_valid_literal(out, n)) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nul = memchr(data, '\0', size);
    size_t conf_len = nul != NULL ? (size_t)(nul - data) : size;
    ne_conf_io io = {load, NULL, NULL};
    if (ne_conf_parse_text(&conf, "fuzz.conf", (const char *)data, conf_len, &io) != NE_OK) {
        return 0;
    }
    ne_server_options_default(&opts);
    ne_board_settings board = {NULL, NULL, NULL, NULL, false, false, true};
    char err[512];
    err[0] = '\0';
    int rc = ne_server_apply_conf(&conf, &opts, &board, err, sizeof(err));
    if (rc > 0 || (rc != NE_OK && err[0] == '\0')) {
        abort();
    }
    if (rc != NE_OK) {
        return 0;
    }
    check_options();
    if (nul == NULL) {
        return 0;
    }
    const char *s = (const char *)nul + 1;
    size_t rest = size - conf_len - 1;
    for (uint32_t guard = 0; rest > 0 && guard < 64; guard++) {
        const char *nl = memchr(s, '\n', rest);
        size_t len = nl != NULL ? (size_t)(nl - s) : rest;
        check_subject(s, len);
        if (nl == NULL) {
            break;
        }
        rest -= len + 1;
        s = nl + 1;
    }
    return 0;
}
