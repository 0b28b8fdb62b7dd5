/* The firmware's settings from a configuration: see board_conf.h. */
#include "board_conf.h"

#include <string.h>

#include "codec/ne_crc32c.h"
#include "core/ne_error.h"
#include "core/ne_fmt.h"
#include "server/ne_server_conf.h"

#define MPS2_NATS_PORT 4222
#define MPS2_HTTP_PORT 8222
#define MPS2_MQTT_PORT 1883
/* A consumer that stops reading holds chunks every other client needs: on
 * this board it is cut after 2 s instead of nats-server's 10 s. */
#define MPS2_WRITE_DEADLINE_MS 2000
/* QEMU's user network: the guest's usual address and the host's gateway. */
#define MPS2_ADDRESS 0x0a00020fu /* 10.0.2.15 */
#define MPS2_NETMASK 0xffffff00u /* /24 */
#define MPS2_GATEWAY 0x0a000202u /* 10.0.2.2 */

void mps2_defaults(ne_server_options *opts, mps2_settings *net)
{
    ne_server_options_default(opts);
    memcpy(opts->host, "0.0.0.0", sizeof("0.0.0.0"));
    opts->port = MPS2_NATS_PORT;
    opts->write_deadline_ms = MPS2_WRITE_DEADLINE_MS;
    opts->http_enabled = true;
    opts->http_port = MPS2_HTTP_PORT;
    memcpy(opts->http_host, "0.0.0.0", sizeof("0.0.0.0"));
#if NE_FEATURE_MQTT
    /* The tiny-mqtt profile: MQTT clients on 1883 beside NATS. */
    opts->mqtt.enabled = true;
    memcpy(opts->mqtt.host, "0.0.0.0", sizeof("0.0.0.0"));
    opts->mqtt.port = MPS2_MQTT_PORT;
#endif
#if NE_FEATURE_JETSTREAM
    /* The tiny-js profile: JetStream on, its file streams on the board's
     * storage partition (board_store.h; store_dir names nothing here). */
    opts->js.enabled = true;
#endif
    net->dhcp = false;
    net->address = MPS2_ADDRESS;
    net->netmask = MPS2_NETMASK;
    net->gateway = MPS2_GATEWAY;
    net->debug = false;
    net->trace = false;
    net->file_count = 0;
}

const mps2_file *mps2_file_named(const mps2_settings *set, const char *name)
{
    for (uint32_t i = 0; i < set->file_count && i < MPS2_MAX_FILES; i++) {
        if (strcmp(set->files[i].name, name) == 0) {
            return &set->files[i];
        }
    }
    return NULL;
}

int mps2_region_text(const ne_conf_region *region, const char **text, size_t *len, char *err,
                     size_t err_cap)
{
    const ne_conf_region_header *h = &region->header;
    *text = region->text;
    *len = 0;
    if (h->magic[0] != NE_CONF_REGION_MAGIC0 || h->magic[1] != NE_CONF_REGION_MAGIC1 ||
        h->capacity != NE_BOARD_CONF_REGION_BYTES) {
        ne_fmt(err, err_cap, "the configuration region's header is damaged");
        return NE_ERR_CORRUPT;
    }
    if (h->length > h->capacity) {
        ne_fmt(err, err_cap, "the configuration region says %u bytes, it holds %u",
               (unsigned)h->length, (unsigned)h->capacity);
        return NE_ERR_CORRUPT;
    }
    if (ne_crc32c(0, region->text, h->length) != h->crc32c) {
        ne_fmt(err, err_cap, "the configuration region's checksum does not match its %u bytes",
               (unsigned)h->length);
        return NE_ERR_CORRUPT;
    }
    *len = h->length;
    return NE_OK;
}

/* "a.b.c.d" into a host-order address. */
static bool parse_ipv4(const char *text, size_t len, uint32_t *out)
{
    uint32_t value = 0;
    size_t i = 0;
    for (int part = 0; part < 4; part++) {
        if (part > 0) {
            if (i >= len || text[i] != '.') {
                return false;
            }
            i++;
        }
        size_t start = i;
        uint32_t octet = 0;
        while (i < len && i - start < 3 && text[i] >= '0' && text[i] <= '9') {
            octet = octet * 10u + (uint32_t)(text[i] - '0');
            i++;
        }
        if (i == start || octet > 255) {
            return false;
        }
        value = (value << 8) | octet;
    }
    *out = value;
    return i == len;
}

void mps2_ipv4_text(uint32_t address, char *out, size_t cap)
{
    ne_fmt(out, cap, "%u.%u.%u.%u", (unsigned)(address >> 24), (unsigned)((address >> 16) & 255u),
           (unsigned)((address >> 8) & 255u), (unsigned)(address & 255u));
}

static int fail_at(ne_conf *conf, ne_conf_node *node, const char *what, char *err, size_t err_cap)
{
    char pos[NE_CONF_ERROR_BYTES];
    ne_conf_position(conf, node, pos, sizeof(pos));
    ne_fmt(err, err_cap, "%s: %s", pos, what);
    return NE_ERR_INVALID;
}

/* An address: "a.b.c.d", or with address "a.b.c.d/len" (sets the mask). */
static int address_value(ne_conf *conf, ne_conf_node *node, bool prefix, uint32_t *address,
                         uint32_t *netmask, char *err, size_t err_cap)
{
    const char *text;
    size_t len;
    if (ne_conf_as_string(conf, node, &text, &len) != NE_OK) {
        ne_fmt(err, err_cap, "%s", ne_conf_error(conf));
        return NE_ERR_INVALID;
    }
    size_t ip_len = len;
    const char *slash = prefix ? memchr(text, '/', len) : NULL;
    if (slash != NULL) {
        ip_len = (size_t)(slash - text);
        uint64_t bits;
        if (!ne_parse_u64(slash + 1, len - ip_len - 1, 32, &bits) || bits == 0) {
            return fail_at(conf, node, "expected a.b.c.d/len with len 1 to 32", err, err_cap);
        }
        *netmask = bits == 32 ? 0xffffffffu : ~(0xffffffffu >> bits);
    }
    if (!parse_ipv4(text, ip_len, address)) {
        return fail_at(conf, node, "expected an IPv4 address a.b.c.d", err, err_cap);
    }
    return NE_OK;
}

/* network { address, netmask, gateway, dhcp }: the board's block. */
static int apply_network(ne_conf *conf, ne_conf_node *map, mps2_settings *net, char *err,
                         size_t err_cap)
{
    if (ne_conf_expect(conf, map, NE_CONF_MAP) != NE_OK) {
        ne_fmt(err, err_cap, "%s", ne_conf_error(conf));
        return NE_ERR_INVALID;
    }
    uint32_t guard = conf->node_count;
    for (ne_conf_node *n = ne_conf_first(conf, map); n != NULL && guard-- > 0;
         n = ne_conf_next(conf, n)) {
        const char *key = ne_conf_key(conf, n);
        int rc = NE_OK;
        if (strcmp(key, "address") == 0) {
            rc = address_value(conf, n, true, &net->address, &net->netmask, err, err_cap);
        } else if (strcmp(key, "netmask") == 0) {
            rc = address_value(conf, n, false, &net->netmask, NULL, err, err_cap);
        } else if (strcmp(key, "gateway") == 0) {
            rc = address_value(conf, n, false, &net->gateway, NULL, err, err_cap);
        } else if (strcmp(key, "dhcp") == 0) {
            if (ne_conf_as_bool(conf, n, &net->dhcp) != NE_OK) {
                ne_fmt(err, err_cap, "%s", ne_conf_error(conf));
                rc = NE_ERR_INVALID;
            }
        } else {
            rc = ne_conf_reject(conf, n, NULL);
        }
        if (rc != NE_OK) {
            return rc;
        }
    }
    return NE_OK;
}

/* The node that asked for TLS, for the message's position: the tls block,
 * https, or the first leaf remote with a tls block (a tls:// URL). */
static ne_conf_node *tls_node(ne_conf *conf)
{
    ne_conf_node *root = ne_conf_root(conf);
    static const char *const keys[] = {"tls", "https", "https_port"};
    for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
        ne_conf_node *n = ne_conf_find(conf, root, keys[i]);
        if (n != NULL) {
            return n;
        }
    }
    ne_conf_node *leaf = ne_conf_find(conf, root, "leafnodes");
    leaf = leaf != NULL ? leaf : ne_conf_find(conf, root, "leaf");
    ne_conf_node *remotes = leaf != NULL ? ne_conf_find(conf, leaf, "remotes") : NULL;
    if (remotes == NULL || remotes->type != NE_CONF_ARRAY) {
        return leaf;
    }
    uint32_t guard = conf->node_count;
    for (ne_conf_node *r = ne_conf_first(conf, remotes); r != NULL && guard-- > 0;
         r = ne_conf_next(conf, r)) {
        ne_conf_node *t = ne_conf_find(conf, r, "tls");
        if (t != NULL) {
            return t;
        }
    }
    return remotes;
}

#if NE_BOARD_TLS
/* files { "name": "text", ... }: the board's files, kept as pointers into
 * the parsed configuration. */
static int apply_files(ne_conf *conf, ne_conf_node *map, mps2_settings *set, char *err,
                       size_t err_cap)
{
    if (ne_conf_expect(conf, map, NE_CONF_MAP) != NE_OK) {
        ne_fmt(err, err_cap, "%s", ne_conf_error(conf));
        return NE_ERR_INVALID;
    }
    uint32_t guard = conf->node_count;
    for (ne_conf_node *n = ne_conf_first(conf, map); n != NULL && guard-- > 0;
         n = ne_conf_next(conf, n)) {
        if (set->file_count >= MPS2_MAX_FILES) {
            return fail_at(conf, n, "too many files: the board keeps 2 (MPS2_MAX_FILES)", err,
                           err_cap);
        }
        const char *text;
        if (ne_conf_as_string(conf, n, &text, NULL) != NE_OK) {
            ne_fmt(err, err_cap, "%s", ne_conf_error(conf));
            return NE_ERR_INVALID;
        }
        set->files[set->file_count].name = ne_conf_key(conf, n);
        set->files[set->file_count].text = text;
        set->file_count++;
    }
    return NE_OK;
}

/* TLS toward a hub is built in (a leaf remote's tls { ca_file }, the CA
 * from files { }); TLS toward clients is not (no certificate and key of
 * the board's own, and the memory region holds NE_TLS_MAX_SESSIONS). */
static int check_remote_tls(ne_conf *conf, const ne_server_options *opts, const mps2_settings *set,
                            char *err, size_t err_cap)
{
    for (uint32_t r = 0; r < opts->leaf.remote_count; r++) {
        const ne_leaf_remote_options *ro = &opts->leaf.remotes[r];
        if (!ro->tls) {
            continue;
        }
        const char *what = NULL;
        char text[NE_TLS_PATH_BYTES + 96];
        if (ro->tls_cert_file[0] != '\0' || ro->tls_key_file[0] != '\0') {
            what = "a client certificate toward the hub is not built into this firmware (see "
                   "docs/firmware.md)";
        } else if (ro->tls_ca_file[0] == '\0') {
            what = "tls needs ca_file, the name of an entry of files { } (see docs/firmware.md)";
        } else if (mps2_file_named(set, ro->tls_ca_file) == NULL) {
            ne_fmt(text, sizeof(text),
                   "ca_file \"%s\" is not in files { } (the board has no "
                   "files of its own: see docs/firmware.md)",
                   ro->tls_ca_file);
            what = text;
        } else if (strstr(mps2_file_named(set, ro->tls_ca_file)->text,
                          "-----BEGIN CERTIFICATE-----") == NULL) {
            ne_fmt(text, sizeof(text), "ca_file \"%s\" holds no PEM certificate", ro->tls_ca_file);
            what = text;
        }
        if (what != NULL) {
            ne_conf_node *n = tls_node(conf);
            if (n == NULL) {
                ne_fmt(err, err_cap, "%s", what);
            } else {
                fail_at(conf, n, what, err, err_cap);
            }
            return NE_ERR_INVALID;
        }
    }
    return NE_OK;
}
#endif

/* TLS is not built into this firmware (mbedTLS and its memory region do
 * not fit beside lwIP in the board's RAM: docs/footprint.md): a
 * configuration that asks for it is refused rather than left to fail at
 * every connection. */
static int refuse_tls(ne_conf *conf, const ne_server_options *opts, const mps2_settings *set,
                      char *err, size_t err_cap)
{
    bool wants = opts->tls || opts->https;
#if NE_BOARD_TLS
    if (!wants) {
        return check_remote_tls(conf, opts, set, err, err_cap);
    }
#else
    (void)set;
    for (uint32_t r = 0; r < opts->leaf.remote_count; r++) {
        wants = wants || opts->leaf.remotes[r].tls;
    }
#endif
    if (!wants) {
        return NE_OK;
    }
    ne_conf_node *n = tls_node(conf);
    const char *what = NE_BOARD_TLS ? "TLS toward clients is not built into this firmware, only "
                                      "toward a leaf hub (see docs/firmware.md)"
                                    : "TLS is not built into this firmware (see docs/firmware.md)";
    if (n == NULL) {
        ne_fmt(err, err_cap, "%s", what);
        return NE_ERR_UNSUPPORTED;
    }
    fail_at(conf, n, what, err, err_cap);
    return NE_ERR_UNSUPPORTED;
}

#if NE_BOARD_ED25519 && !NE_BOARD_TLS
#error "NE_BOARD_ED25519 needs NE_BOARD_TLS: a remote's credentials come from files { }"
#endif

#if NE_BOARD_ED25519
/* The position of remote r's credentials (or creds) key, for a refusal. */
static ne_conf_node *creds_node(ne_conf *conf, uint32_t r)
{
    ne_conf_node *root = ne_conf_root(conf);
    ne_conf_node *leaf = ne_conf_find(conf, root, "leafnodes");
    leaf = leaf != NULL ? leaf : ne_conf_find(conf, root, "leaf");
    ne_conf_node *remotes = leaf != NULL ? ne_conf_find(conf, leaf, "remotes") : NULL;
    if (remotes == NULL || remotes->type != NE_CONF_ARRAY) {
        return leaf;
    }
    uint32_t i = 0;
    uint32_t guard = conf->node_count;
    for (ne_conf_node *n = ne_conf_first(conf, remotes); n != NULL && guard-- > 0;
         n = ne_conf_next(conf, n), i++) {
        if (i == r) {
            ne_conf_node *c = ne_conf_find(conf, n, "credentials");
            c = c != NULL ? c : ne_conf_find(conf, n, "creds");
            return c != NULL ? c : n;
        }
    }
    return remotes;
}

/* A remote's credentials name an entry of files { } (the .creds text pasted
 * as it is): one that names none is refused here, where Linux accepts a
 * file that is not there yet (it may appear before the link is tried; the
 * board's files cannot). A text that is not a .creds was refused by the
 * leaf's reader already, with its position. */
static int check_remote_creds(ne_conf *conf, const ne_server_options *opts, char *err,
                              size_t err_cap)
{
    for (uint32_t r = 0; r < opts->leaf.remote_count; r++) {
        const ne_leaf_remote_options *ro = &opts->leaf.remotes[r];
        if (!ro->creds_missing) {
            continue;
        }
        char what[NE_TLS_PATH_BYTES + 96];
        ne_fmt(what, sizeof(what),
               "credentials \"%s\" is not in files { } (the board has no files of its own: "
               "see docs/firmware.md)",
               ro->creds_file);
        ne_conf_node *n = creds_node(conf, r);
        if (n == NULL) {
            ne_fmt(err, err_cap, "%s", what);
        } else {
            fail_at(conf, n, what, err, err_cap);
        }
        return NE_ERR_INVALID;
    }
    return NE_OK;
}
#endif

/* The board has no files of its own: an include is not found, and a
 * credentials file is the files { } entry of that name where ed25519 is
 * built (the .creds text; elsewhere it is not found either). */
static int board_file(void *ctx, const char *path, char *buf, size_t cap, size_t *len)
{
#if NE_BOARD_ED25519
    const mps2_file *f = ctx != NULL ? mps2_file_named(ctx, path) : NULL;
    if (f == NULL) {
        return NE_ERR_NOT_FOUND;
    }
    size_t n = strlen(f->text);
    if (n > cap) {
        return NE_ERR_TOO_BIG;
    }
    memcpy(buf, f->text, n);
    *len = n;
    return NE_OK;
#else
    (void)ctx;
    (void)path;
    (void)buf;
    (void)cap;
    (void)len;
    return NE_ERR_NOT_FOUND;
#endif
}

int mps2_apply_text(ne_conf *conf, const char *name, const char *text, size_t len,
                    ne_server_options *opts, mps2_settings *net, char *err, size_t err_cap)
{
    /* No files while parsing (an include is not found); once parsed, the
     * files { } entries (read below, before the leaf remotes ask for one). */
    ne_conf_io io = {board_file, NULL, NULL};
    if (ne_conf_parse_text(conf, name, text, len, &io) != NE_OK) {
        conf->io = NULL;
        ne_fmt(err, err_cap, "%s", ne_conf_error(conf));
        return NE_ERR_INVALID;
    }
    io.ctx = net;
    /* The board's block first (it marks its keys read), then the rest; a
     * wrong value in the block is reported after what the rest reports. */
    char net_err[NE_CONF_ERROR_BYTES + 64];
    net_err[0] = '\0';
    int net_rc = NE_OK;
    ne_conf_node *network = ne_conf_find(conf, ne_conf_root(conf), "network");
    if (network != NULL) {
        net_rc = apply_network(conf, network, net, net_err, sizeof(net_err));
    }
#if NE_BOARD_TLS
    /* Where TLS is built: files { } (elsewhere an unknown field). */
    ne_conf_node *files = ne_conf_find(conf, ne_conf_root(conf), "files");
    if (files != NULL && net_rc == NE_OK) {
        net_rc = apply_files(conf, files, net, net_err, sizeof(net_err));
    }
#endif
    /* log_file, pid_file and ports_file_dir have no meaning on the board
     * (the UART is its log); debug and trace set its level. */
    ne_board_settings board = {NULL, NULL, NULL, false, false, true};
    int rc = ne_server_apply_conf(conf, opts, &board, err, err_cap);
    if (rc == NE_OK) {
        rc = refuse_tls(conf, opts, net, err, err_cap);
    }
#if NE_BOARD_ED25519
    if (rc == NE_OK) {
        rc = check_remote_creds(conf, opts, err, err_cap);
    }
#endif
    conf->io = NULL; /* io is this call's */
    net->debug = board.debug;
    net->trace = board.trace;
    if (net_rc != NE_OK && net_err[0] != '\0') {
        size_t n = rc == NE_OK ? 0 : strlen(err);
        if (n > 0 && n + 1 < err_cap) {
            err[n++] = '\n';
        }
        (void)ne_fmt(err + n, err_cap - n, "%s", net_err);
        rc = rc == NE_OK ? net_rc : rc;
    }
    return rc;
}
