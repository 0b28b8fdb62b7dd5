/* libFuzzer harness for flash store recovery: the input is a flash image
 * (its first byte picks the geometry), the store opens it, reads everything
 * back every way it can, then works on it (append, delete, purge, compact,
 * sync) and opens it again. It must never crash, overrun or trip an
 * assertion, and every record it returns must carry a body whose CRC-32C
 * matches the one stored with it. The seed corpus holds real images with
 * torn writes and compaction blocks (tests/fuzz/corpus/fuzz_store). */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/ne_crc32c.h"
#include "codec/ne_snappy.h"
#include "core/ne_error.h"
#include "sim/ne_sim_flash.h"
#include "store/ne_store.h"
#include "store/ne_store_dev.h"

#define ERASE 1024
#define MAX_BLOCKS 6

static ne_store store;
static ne_store_dev dev;
static uint8_t entry_buf[NE_STORE_MAX_CONFIG_BYTES + 320];
static ne_sim_flash sim;
static uint8_t image[MAX_BLOCKS * ERASE];
static uint32_t counts[MAX_BLOCKS];
static ne_store_subject subjects[8];
static ne_snappy_table table;
static uint8_t buf[ERASE * 2];
static uint8_t body[ERASE * 2];

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static uint8_t unpacked[ERASE * 4];

/* True when a valid pack frame of the image (header CRC salted with its
 * block's header, body CRC right) decompresses to frames among which this
 * body follows a frame header whose body CRC field is crc. */
static bool in_some_pack(size_t image_bytes, size_t n, uint32_t crc)
{
    for (size_t off = 32; off + 16 + 24 <= image_bytes; off += 8) {
        const uint8_t *h = image + off;
        const uint8_t *block = image + off / ERASE * ERASE;
        uint32_t blen = get32(h + 4);
        if ((size_t)(h - block) < 32 || h[0] != 0x50 || blen < 24 || blen > image_bytes ||
            off + 16 + blen > image_bytes || ne_crc32c(get32(block + 28), h, 12) != get32(h + 12) ||
            ne_crc32c(0, h + 16, blen) != get32(h + 8)) {
            continue;
        }
        size_t out_len = 0;
        if (ne_snappy_decompress(h + 16 + 24, blen - 24, unpacked, sizeof(unpacked), &out_len) !=
            NE_OK) {
            continue;
        }
        for (size_t q = 16; q + n <= out_len; q++) {
            if (memcmp(unpacked + q, body, n) == 0 && get32(unpacked + q - 8) == crc) {
                return true;
            }
        }
    }
    return false;
}

/* A returned record's body, rebuilt, must appear in the image right after
 * a frame header whose CRC field matches it, or inside a valid pack (records
 * inside compressed packs do not appear verbatim). */
static void check_record(const ne_store_msg *m, size_t image_bytes)
{
    size_t n = 24 + m->subject_len + m->headers_len + m->payload_len;
    if (n > sizeof(body)) {
        abort();
    }
    memset(body, 0, 24);
    for (int i = 0; i < 8; i++) {
        body[i] = (uint8_t)(m->seq >> (8 * i));
        body[8 + i] = (uint8_t)(m->timestamp_ns >> (8 * i));
    }
    for (int i = 0; i < 4; i++) {
        body[16 + i] = (uint8_t)(m->headers_len >> (8 * i));
    }
    body[20] = (uint8_t)m->subject_len;
    body[21] = (uint8_t)(m->subject_len >> 8);
    memcpy(body + 24, m->subject, m->subject_len);
    if (m->headers_len > 0) {
        memcpy(body + 24 + m->subject_len, m->headers, m->headers_len);
    }
    if (m->payload_len > 0) {
        memcpy(body + 24 + m->subject_len + m->headers_len, m->payload, m->payload_len);
    }
    uint32_t crc = ne_crc32c(0, body, n);
    /* The bytes may also sit elsewhere behind a copied header (a fuzzed
     * image can hold anything): only a record found nowhere with its own
     * CRC is wrong. */
    bool seen = false;
    bool matched = false;
    for (size_t off = 16; off + n <= image_bytes && !matched; off += 8) {
        if (memcmp(image + off, body, n) != 0) {
            continue;
        }
        /* Only where the bytes before are a valid MSG frame header of this
         * block (header CRC seeded with the block's salt) of this length. */
        const uint8_t *h = image + off - 16;
        const uint8_t *block = image + (off - 16) / ERASE * ERASE;
        if ((size_t)(h - block) < 32 || h[0] != 0x4d || get32(h + 4) != n ||
            ne_crc32c(get32(block + 28), h, 12) != get32(h + 12)) {
            continue;
        }
        seen = true;
        matched = get32(h + 8) == crc;
    }
    /* Found only behind headers whose CRC says otherwise: then the store must
     * have read it from a pack (a fuzzed image may hold a stale or altered
     * plain copy of a packed record). */
    if (seen && !matched && !in_some_pack(image_bytes, n, crc)) {
        abort();
    }
}

static void read_everything(size_t image_bytes)
{
    ne_store_msg m;
    uint64_t from = 1;
    uint64_t prev = 0;
    for (int i = 0; i < 4096; i++) {
        int rc = ne_store_load_next(&store, from, NULL, 0, &m, buf, sizeof(buf));
        if (rc != NE_OK) {
            break;
        }
        if (m.seq <= prev) {
            abort();
        }
        prev = m.seq;
        check_record(&m, image_bytes);
        if (ne_store_load(&store, m.seq, &m, buf, sizeof(buf)) == NE_OK) {
            check_record(&m, image_bytes);
            (void)ne_store_load_last(&store, m.subject, m.subject_len, &m, buf, sizeof(buf));
        }
        from = prev + 1;
    }
    (void)ne_store_load_next(&store, 1, "a.*", 3, &m, buf, sizeof(buf));
}

static int open_store(void)
{
    ne_store_config cfg = {.subjects = subjects, .subject_capacity = 8};
    cfg.limits.max_msgs_per_subject = 3;
    int rc = ne_store_dev_open(&dev, &sim.flash, &table);
    if (rc != NE_OK) {
        return rc;
    }
    ne_store_entry e;
    uint32_t id = 0;
    rc = ne_store_dev_find(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, &e, entry_buf, sizeof(entry_buf));
    if (rc == NE_ERR_NOT_FOUND) {
        rc = ne_store_dev_create(&dev, NE_STORE_KIND_STREAM, 0, "S", 1, NULL, 0, &id);
    } else {
        id = e.id;
    }
    if (rc != NE_OK) {
        return rc;
    }
    return ne_store_attach(&store, &dev, id, &cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    static const uint32_t units[] = {1, 8, 16, 64};
    ne_flash_geometry g = {.program_bytes = units[data[0] & 3],
                           .erase_bytes = ERASE,
                           .block_count = 4 + ((data[0] >> 2) % 3)};
    size_t bytes = (size_t)g.block_count * ERASE;
    ne_sim_flash_init(&sim, g, image, counts, NULL, 1);
    memcpy(image, data + 1, size - 1 < bytes ? size - 1 : bytes);
    if (open_store() != NE_OK) {
        return 0;
    }
    read_everything(bytes);
    ne_store_state st;
    ne_store_get_state(&store, &st);
    /* Work on what was recovered. */
    ne_store_msg m = {
        .subject = "a.b", .subject_len = 3, .payload = data, .payload_len = size % 200};
    (void)ne_store_append(&store, &m, NULL);
    (void)ne_store_delete(&store, st.first_seq + 1);
    ne_store_purge_req req = {.subject = "a.b", .subject_len = 3, .keep = 1};
    (void)ne_store_purge(&store, &req, NULL);
    (void)ne_store_compact(&store, NULL);
    (void)ne_store_sync(&store);
    if (open_store() == NE_OK) {
        read_everything(bytes);
    }
    return 0;
}
