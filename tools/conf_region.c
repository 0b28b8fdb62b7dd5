/* conf_region: writes a nats-server configuration file into the
 * configuration region of an mps2-an385 firmware image, without rebuilding
 * it (board/mps2-an385/conf_region.h). The file is checked first exactly as
 * the board will read it at boot: the same parser, the same options and
 * limits of the firmware's profile (this tool is built with it), the board's
 * network { } block; a file the board would refuse is refused here, with the
 * same messages.
 *
 *   conf_region check <file.conf>
 *   conf_region write <image> <file.conf>   the ELF (natsedge.elf) or a raw image
 *   conf_region write --unchecked <image> <file.conf>
 *                                           without the check (to see the board
 *                                           refuse a file: the tests do)
 *   conf_region clear <image>               back to the built-in defaults
 *   conf_region show  <image>               prints the configuration the image holds
 *
 * In an ELF the region is the section .natsedge_conf; in a raw image (what
 * objcopy -O binary makes for a flash programmer) it is found by its header
 * (magic and capacity), which must occur exactly once. Exit status 0 on
 * success, 1 on a refused file or an image without a region, 2 on usage.
 * A host tool: it may allocate. */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "board_conf.h"
#include "codec/ne_crc32c.h"
#include "conf_region.h"
#include "core/ne_error.h"

#define HEADER_BYTES sizeof(ne_conf_region_header)
#define REGION_BYTES (HEADER_BYTES + NE_BOARD_CONF_REGION_BYTES)

/* Large: the parse and the options are static, as on the board. */
static ne_conf g_conf;
static ne_server_options g_opts;

static int usage(void)
{
    fprintf(stderr, "usage: conf_region check <file.conf>\n"
                    "       conf_region write [--unchecked] <image> <file.conf>\n"
                    "       conf_region clear <image>\n"
                    "       conf_region show <image>\n");
    return 2;
}

/* A whole file into a buffer the caller frees; NULL with a message. */
static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        perror(path);
        return NULL;
    }
    unsigned char *buf = NULL;
    size_t cap = 0, n = 0;
    for (;;) {
        if (n == cap) {
            cap = cap == 0 ? 65536 : cap * 2;
            unsigned char *more = realloc(buf, cap);
            if (more == NULL) {
                free(buf);
                fclose(f);
                fprintf(stderr, "%s: out of memory\n", path);
                return NULL;
            }
            buf = more;
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            break;
        }
    }
    bool failed = ferror(f) != 0;
    fclose(f);
    if (failed) {
        perror(path);
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

static int write_file(const char *path, const unsigned char *data, size_t len)
{
    FILE *f = fopen(path, "r+b");
    if (f == NULL) {
        perror(path);
        return 1;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        perror(path);
        return 1;
    }
    return 0;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash != NULL ? slash + 1 : path;
}

/* The configuration file checked as the board reads it. */
static int check(const char *path, unsigned char **text_out, size_t *len_out)
{
    size_t len = 0;
    unsigned char *text = read_file(path, &len);
    if (text == NULL) {
        return 1;
    }
    if (len > NE_BOARD_CONF_REGION_BYTES) {
        fprintf(stderr,
                "conf_region: %s has %zu bytes, the region holds %u "
                "(NE_BOARD_CONF_REGION_BYTES of the profile)\n",
                path, len, (unsigned)NE_BOARD_CONF_REGION_BYTES);
        free(text);
        return 1;
    }
    mps2_settings set;
    mps2_defaults(&g_opts, &set);
    char err[4096];
    if (mps2_apply_text(&g_conf, base_name(path), (const char *)text, len, &g_opts, &set, err,
                        sizeof(err)) != NE_OK) {
        fprintf(stderr, "conf_region: %s refused, as the board would refuse it:\n%s\n", path, err);
        free(text);
        return 1;
    }
    char address[16];
    mps2_ipv4_text(set.address, address, sizeof(address));
    fprintf(stderr,
            "conf_region: %s is valid for the board (%zu of %u bytes; clients on %s:%u, %s)\n",
            path, len, (unsigned)NE_BOARD_CONF_REGION_BYTES, g_opts.host, (unsigned)g_opts.port,
            set.dhcp ? "address from DHCP" : address);
    if (text_out != NULL) {
        *text_out = text;
        *len_out = len;
    } else {
        free(text);
    }
    return 0;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t le16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* The region in an ELF32 image: the section .natsedge_conf. */
static bool elf_region(const unsigned char *img, size_t len, size_t *offset)
{
    if (len < 52 || memcmp(img, "\177ELF", 4) != 0) {
        return false;
    }
    if (img[4] != 1 || img[5] != 1) {
        fprintf(stderr, "conf_region: not a 32-bit little-endian ELF\n");
        return false;
    }
    uint32_t shoff = le32(img + 32);
    uint16_t shentsize = le16(img + 46), shnum = le16(img + 48), shstrndx = le16(img + 50);
    if (shentsize < 40 || shstrndx >= shnum || shoff > len ||
        (size_t)shnum * shentsize > len - shoff) {
        return false;
    }
    const unsigned char *strtab_hdr = img + shoff + (size_t)shstrndx * shentsize;
    uint32_t stroff = le32(strtab_hdr + 16), strsize = le32(strtab_hdr + 20);
    if (stroff > len || strsize > len - stroff) {
        return false;
    }
    for (uint16_t i = 0; i < shnum; i++) {
        const unsigned char *sh = img + shoff + (size_t)i * shentsize;
        uint32_t name = le32(sh);
        if (name >= strsize) {
            continue;
        }
        const char *s = (const char *)img + stroff + name;
        size_t room = strsize - name;
        if (strnlen(s, room) == strlen(NE_CONF_REGION_SECTION) &&
            strcmp(s, NE_CONF_REGION_SECTION) == 0) {
            uint32_t off = le32(sh + 16), size = le32(sh + 20);
            if (off > len || size < REGION_BYTES || REGION_BYTES > len - off) {
                fprintf(stderr, "conf_region: section %s is %u bytes, a region is %zu\n",
                        NE_CONF_REGION_SECTION, (unsigned)size, REGION_BYTES);
                return false;
            }
            *offset = off;
            return true;
        }
    }
    return false;
}

/* The region in a raw image: its header, found once. */
static bool raw_region(const unsigned char *img, size_t len, size_t *offset)
{
    size_t found = 0;
    for (size_t at = 0; at + REGION_BYTES <= len; at += 4) {
        if (le32(img + at) == NE_CONF_REGION_MAGIC0 &&
            le32(img + at + 4) == NE_CONF_REGION_MAGIC1 &&
            le32(img + at + 8) == NE_BOARD_CONF_REGION_BYTES && le32(img + at + 20) == 0) {
            *offset = at;
            found++;
        }
    }
    if (found > 1) {
        fprintf(stderr, "conf_region: %zu region headers in the image: give the ELF instead\n",
                found);
    }
    return found == 1;
}

static unsigned char *load_image(const char *path, size_t *len, size_t *offset)
{
    unsigned char *img = read_file(path, len);
    if (img == NULL) {
        return NULL;
    }
    if (!elf_region(img, *len, offset) &&
        (memcmp(img, "\177ELF", 4) == 0 || !raw_region(img, *len, offset))) {
        fprintf(stderr,
                "conf_region: %s has no configuration region of %u bytes (another profile, or "
                "not an mps2-an385 image)\n",
                path, (unsigned)NE_BOARD_CONF_REGION_BYTES);
        free(img);
        return NULL;
    }
    const unsigned char *h = img + *offset;
    if (le32(h) != NE_CONF_REGION_MAGIC0 || le32(h + 4) != NE_CONF_REGION_MAGIC1 ||
        le32(h + 8) != NE_BOARD_CONF_REGION_BYTES) {
        fprintf(stderr, "conf_region: %s: the region's header is not this profile's\n", path);
        free(img);
        return NULL;
    }
    return img;
}

/* The region's new contents: header, text, zeros. */
static void fill_region(unsigned char *region, const unsigned char *text, size_t len,
                        const char *name)
{
    ne_conf_region_header h;
    memset(&h, 0, sizeof(h));
    h.magic[0] = NE_CONF_REGION_MAGIC0;
    h.magic[1] = NE_CONF_REGION_MAGIC1;
    h.capacity = NE_BOARD_CONF_REGION_BYTES;
    h.length = (uint32_t)len;
    h.crc32c = ne_crc32c(0, text, len);
    snprintf(h.name, sizeof(h.name), "%s", name);
    memset(region, 0, REGION_BYTES);
    memcpy(region, &h, HEADER_BYTES); /* the host is little-endian, as the board */
    if (len > 0) {
        memcpy(region + HEADER_BYTES, text, len);
    }
}

static int cmd_write(const char *image, const char *conf_path, bool checked)
{
    unsigned char *text = NULL;
    size_t text_len = 0;
    if (checked && check(conf_path, &text, &text_len) != 0) {
        return 1;
    }
    if (!checked) {
        text = read_file(conf_path, &text_len);
        if (text == NULL) {
            return 1;
        }
        if (text_len > NE_BOARD_CONF_REGION_BYTES) {
            fprintf(stderr, "conf_region: %s has %zu bytes, the region holds %u\n", conf_path,
                    text_len, (unsigned)NE_BOARD_CONF_REGION_BYTES);
            free(text);
            return 1;
        }
    }
    size_t len = 0, offset = 0;
    unsigned char *img = load_image(image, &len, &offset);
    if (img == NULL) {
        free(text);
        return 1;
    }
    fill_region(img + offset, text, text_len, base_name(conf_path));
    int rc = write_file(image, img, len);
    if (rc == 0) {
        fprintf(stderr, "conf_region: %s now holds %s\n", image, base_name(conf_path));
    }
    free(img);
    free(text);
    return rc;
}

static int cmd_clear(const char *image)
{
    size_t len = 0, offset = 0;
    unsigned char *img = load_image(image, &len, &offset);
    if (img == NULL) {
        return 1;
    }
    fill_region(img + offset, NULL, 0, "");
    int rc = write_file(image, img, len);
    free(img);
    return rc;
}

static int cmd_show(const char *image)
{
    size_t len = 0, offset = 0;
    unsigned char *img = load_image(image, &len, &offset);
    if (img == NULL) {
        return 1;
    }
    ne_conf_region *region = malloc(sizeof(*region));
    if (region == NULL) {
        free(img);
        return 1;
    }
    memcpy(region, img + offset, REGION_BYTES);
    free(img);
    const char *text;
    size_t text_len;
    char err[256];
    int rc = mps2_region_text(region, &text, &text_len, err, sizeof(err));
    if (rc != NE_OK) {
        fprintf(stderr, "conf_region: %s: %s\n", image, err);
    } else if (text_len == 0) {
        fprintf(stderr, "conf_region: %s: empty (the built-in defaults)\n", image);
    } else {
        fprintf(stderr, "conf_region: %s: %.*s, %zu bytes\n", image, NE_CONF_REGION_NAME_BYTES,
                region->header.name, text_len);
        fwrite(text, 1, text_len, stdout);
    }
    free(region);
    return rc == NE_OK ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "check") == 0) {
        return check(argv[2], NULL, NULL);
    }
    if (argc == 4 && strcmp(argv[1], "write") == 0) {
        return cmd_write(argv[2], argv[3], true);
    }
    if (argc == 5 && strcmp(argv[1], "write") == 0 && strcmp(argv[2], "--unchecked") == 0) {
        return cmd_write(argv[3], argv[4], false);
    }
    if (argc == 3 && strcmp(argv[1], "clear") == 0) {
        return cmd_clear(argv[2]);
    }
    if (argc == 3 && strcmp(argv[1], "show") == 0) {
        return cmd_show(argv[2]);
    }
    return usage();
}
